using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Streaming.Sink;

/// <summary>
/// librdkafka's built-in mock Kafka cluster, for development and CI only (no persistence, no security). It lives inside a
/// client instance created with <c>test.mock.num.brokers</c>; its brokers listen on 127.0.0.1 ports that any Kafka client
/// (including kcat and other processes) can reach for as long as this object is alive.
/// </summary>
public sealed class DevKafkaCluster : IDisposable
{
    private readonly IAdminClient _host;

    private DevKafkaCluster(IAdminClient host, string bootstrapServers)
    {
        _host = host;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>Comma-separated 127.0.0.1:port list of the mock brokers.</summary>
    public string BootstrapServers { get; }

    /// <summary>Starts a mock cluster of <paramref name="brokers"/> brokers and creates <paramref name="topics"/> with <paramref name="partitions"/> partitions each.</summary>
    public static async Task<DevKafkaCluster> StartAsync(int brokers = 3, IEnumerable<string>? topics = null, int partitions = 3, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var config = new AdminClientConfig();
        config.Set("test.mock.num.brokers", brokers.ToString(CultureInfo.InvariantCulture));
        var host = new AdminClientBuilder(config).Build();
        try
        {
            Metadata metadata = null!;
            for (var attempt = 0; ; attempt++)
            {
                metadata = host.GetMetadata(TimeSpan.FromSeconds(5));
                if (metadata.Brokers.Count >= brokers || attempt >= 50)
                {
                    break;
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }

            var bootstrap = string.Join(',', metadata.Brokers.OrderBy(b => b.BrokerId).Select(b => $"{b.Host}:{b.Port}"));
            var cluster = new DevKafkaCluster(host, bootstrap);
            foreach (var topic in topics ?? [])
            {
                await cluster.CreateTopicAsync(topic, partitions, cancellationToken).ConfigureAwait(false);
            }

            return cluster;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Creates a topic (no error when it exists already).</summary>
    public async Task CreateTopicAsync(string topic, int partitions, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        var replication = (short)Math.Min(3, _host.GetMetadata(TimeSpan.FromSeconds(5)).Brokers.Count);
        try
        {
            await _host.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = replication }])
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.TopicAlreadyExists or ErrorCode.NoError))
        {
        }
    }

    public void Dispose() => _host.Dispose();
}
