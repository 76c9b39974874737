using System.Globalization;
using Confluent.Kafka;

namespace Streaming.Sink;

/// <summary>
/// librdkafka's built-in mock Kafka cluster, embedded in the process: the product's default when no
/// <c>Sink:Kafka:BootstrapServers</c> is set, so that the demo needs nothing installed, and what <c>stream dev-kafka</c>
/// serves. For development and CI only (in memory, no security, nothing persisted). It lives inside a
/// client instance created with <c>test.mock.num.brokers</c>; its brokers listen on 127.0.0.1 ports that any Kafka client
/// (including kcat and other processes) can reach for as long as this object is alive. The mock cluster has no controller,
/// so the CreateTopics admin API times out; topics are auto-created (4 partitions, librdkafka's mock default) on the
/// first metadata request naming them, which <see cref="EnsureTopic"/> sends.
/// </summary>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    private readonly IAdminClient _host;

    private EmbeddedKafkaCluster(IAdminClient host, string bootstrapServers)
    {
        _host = host;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>Comma-separated 127.0.0.1:port list of the mock brokers.</summary>
    public string BootstrapServers { get; }

    /// <summary>Starts a mock cluster of <paramref name="brokers"/> brokers and creates <paramref name="topics"/>.</summary>
    public static async Task<EmbeddedKafkaCluster> StartAsync(int brokers = 3, IEnumerable<string>? topics = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        var config = new AdminClientConfig();
        config.Set("test.mock.num.brokers", brokers.ToString(CultureInfo.InvariantCulture));
        var host = new AdminClientBuilder(config)
            .SetLogHandler((_, _) => { }) // its only notice is "mock cluster enabled"; the caller reports the cluster itself
            .Build();
        try
        {
            Metadata metadata;
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
            var cluster = new EmbeddedKafkaCluster(host, bootstrap);
            foreach (var topic in topics ?? [])
            {
                cluster.EnsureTopic(topic);
            }

            return cluster;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Creates <paramref name="topic"/> if it does not exist; returns its partition count.</summary>
    public int EnsureTopic(string topic)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        var metadata = _host.GetMetadata(topic, TimeSpan.FromSeconds(10));
        var t = metadata.Topics.Single();
        if (t.Error.IsError)
        {
            throw new KafkaException(t.Error);
        }

        return t.Partitions.Count;
    }

    public void Dispose() => _host.Dispose();
}
