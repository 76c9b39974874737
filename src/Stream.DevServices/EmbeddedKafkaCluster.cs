using System.Globalization;
using Confluent.Kafka;
using Streaming.Sink;

namespace Streaming.DevServices;

/// <summary>
/// librdkafka's built-in mock Kafka cluster, embedded in the process: what <c>Sink:Kafka:BootstrapServers = "embedded"</c>
/// starts (the demo's setting, so that the demo needs nothing installed; through <see cref="EmbeddedKafkaLauncher"/>), and
/// what <c>stream dev-kafka</c> serves. For development and CI only (in memory, no security, nothing persisted). It lives inside a
/// client instance created with <c>test.mock.num.brokers</c>; its brokers listen on 127.0.0.1 ports that any Kafka client
/// (including kcat and other processes) can reach for as long as this object is alive. The mock cluster has no controller,
/// so the CreateTopics admin API times out; topics are auto-created (4 partitions, librdkafka's mock default) on the
/// first metadata request naming them, which <see cref="EnsureTopic"/> sends.
/// </summary>
public sealed class EmbeddedKafkaCluster : IEmbeddedKafka
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
    /// <param name="problem">
    /// Receives the mock's error and critical log lines (such as its cluster thread failing); its notices, starting with
    /// "mock cluster enabled", are dropped because the caller reports the cluster itself. Called on a librdkafka thread.
    /// </param>
    /// <param name="advertise">
    /// HOST:PORT per broker (broker 1 first) that the brokers name in their metadata instead of their own listeners, so
    /// that clients reach them through something in between (a test's fault proxy); null: their own listeners.
    /// </param>
    public static async Task<EmbeddedKafkaCluster> StartAsync(int brokers = 3, IEnumerable<string>? topics = null,
        CancellationToken cancellationToken = default, Action<string>? problem = null, IReadOnlyList<string>? advertise = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        var config = new AdminClientConfig();
        config.Set("test.mock.num.brokers", brokers.ToString(CultureInfo.InvariantCulture));
        IAdminClient host;
        using (new AsyncSignalsBlocked()) // the mock cluster thread is created here, and must inherit the mask
        {
            host = new AdminClientBuilder(config)
                .SetLogHandler((_, message) =>
                {
                    if (message.Level <= SyslogLevel.Error)
                    {
                        problem?.Invoke($"{message.Facility}: {message.Message}");
                    }
                })
                .Build();
        }

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
                // "name:partitions" asks for a partition count; a bare name gets the mock's auto-create default (4).
                var colon = topic.LastIndexOf(':');
                if (colon > 0 && int.TryParse(topic.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var partitions))
                {
                    cluster.CreateTopic(topic[..colon], partitions);
                }
                else
                {
                    cluster.EnsureTopic(topic);
                }
            }

            // Last: from here on the brokers name the advertised endpoints, which the host client itself would then use, and
            // what listens there (a test's proxy) may not forward yet: topics are created before (a topic created after,
            // through the proxy that did not forward yet, failed one start in twelve).
            if (advertise is { Count: > 0 })
            {
                cluster.Advertise(advertise);
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

    /// <summary>
    /// Creates <paramref name="topic"/> with <paramref name="partitions"/> partitions through librdkafka's mock cluster API
    /// (<c>rd_kafka_mock_topic_create</c>): the mock has no CreateTopics, and auto-creates topics with 4 partitions only.
    /// Returns the partition count the topic has (an existing topic is left as it is).
    /// </summary>
    public int CreateTopic(string topic, int partitions)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var existing = _host.GetMetadata(TimeSpan.FromSeconds(10)).Topics.FirstOrDefault(t => t.Topic == topic && !t.Error.IsError);
        if (existing is not null)
        {
            return existing.Partitions.Count;
        }

        var error = NativeMock.rd_kafka_mock_topic_create(MockCluster(), topic, partitions, 1);
        if (error != 0)
        {
            throw new KafkaException((ErrorCode)error);
        }

        return EnsureTopic(topic);
    }

    /// <summary>Makes broker N (1-based) name <paramref name="endpoints"/>[N-1] in its metadata (rd_kafka_mock_broker_set_host_port).</summary>
    private void Advertise(IReadOnlyList<string> endpoints)
    {
        var mock = MockCluster();
        for (var i = 0; i < endpoints.Count; i++)
        {
            var colon = endpoints[i].LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(endpoints[i].AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                throw new ArgumentException($"advertised endpoint '{endpoints[i]}' is not HOST:PORT", nameof(endpoints));
            }

            NativeMock.rd_kafka_mock_broker_set_host_port(mock, i + 1, endpoints[i][..colon], port);
        }
    }

    /// <summary>The mock cluster inside the host client (its native handle is internal to Confluent.Kafka).</summary>
    private IntPtr MockCluster()
    {
        var handle = _host.Handle.GetType().GetProperty("LibrdkafkaHandle", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)?
            .GetValue(_host.Handle) as System.Runtime.InteropServices.SafeHandle
            ?? throw new InvalidOperationException("this Confluent.Kafka version does not expose the client's native handle: the mock cluster cannot be configured");
        return NativeMock.rd_kafka_handle_mock_cluster(handle.DangerousGetHandle());
    }

    public void Dispose() => _host.Dispose();

    /// <summary>
    /// The mock cluster API of the librdkafka that Confluent.Kafka loaded (it picks one of several builds at run time, so
    /// the one mapped into this process is looked up rather than named).
    /// </summary>
    private static unsafe class NativeMock
    {
        private static readonly Lazy<IntPtr> Library = new(() =>
        {
            var path = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault())
                .FirstOrDefault(p => p is not null && p.StartsWith('/') && Path.GetFileName(p).Contains("librdkafka", StringComparison.Ordinal))
                ?? throw new InvalidOperationException("librdkafka is not loaded in this process: the mock topic cannot be created with a partition count");
            return System.Runtime.InteropServices.NativeLibrary.Load(path);
        });

        internal static IntPtr rd_kafka_handle_mock_cluster(IntPtr rk) =>
            ((delegate* unmanaged<IntPtr, IntPtr>)System.Runtime.InteropServices.NativeLibrary.GetExport(Library.Value, "rd_kafka_handle_mock_cluster"))(rk);

        internal static void rd_kafka_mock_broker_set_host_port(IntPtr mcluster, int brokerId, string host, int port)
        {
            var name = System.Text.Encoding.UTF8.GetBytes(host + "\0");
            fixed (byte* p = name)
            {
                ((delegate* unmanaged<IntPtr, int, byte*, int, void>)System.Runtime.InteropServices.NativeLibrary.GetExport(Library.Value, "rd_kafka_mock_broker_set_host_port"))(mcluster, brokerId, p, port);
            }
        }

        internal static int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor)
        {
            var name = System.Text.Encoding.UTF8.GetBytes(topic + "\0");
            fixed (byte* p = name)
            {
                return ((delegate* unmanaged<IntPtr, byte*, int, int, int>)System.Runtime.InteropServices.NativeLibrary.GetExport(Library.Value, "rd_kafka_mock_topic_create"))(mcluster, p, partitionCount, replicationFactor);
            }
        }
    }
}
