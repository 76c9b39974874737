using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Sink;

namespace Streaming.Cluster;

/// <summary>
/// This process as one worker of the fleet: a member of the Kafka consumer group <see cref="ClusterOptions.Group"/> on
/// the camera registry topic (cooperative-sticky assignor). For the partitions the group assigns it, it reads the
/// registry from the beginning (nothing is ever committed; last value per key wins, a tombstone deletes), keeps following
/// it, and runs exactly those cameras through the app's camera management (<see cref="ICameraRegistry"/>, the path of the
/// camera API), each with the zones, lines and objects of its record (part of the camera entry). Partitions revoked
/// in a rebalance have their cameras stopped before the handler returns, so the next owner starts them only after this
/// one stopped; partitions lost (this worker was silent past the session timeout) have theirs stopped at once.
/// <para>One owner: the consumer's thread. The rebalance handlers run on it (inside Consume), records are applied on it,
/// and the cameras are started and stopped from it; nothing else touches the state below.</para>
/// </summary>
internal sealed class ClusterWorker(
    IOptions<ClusterOptions> options,
    IOptions<SinkOptions> sink,
    IOptions<CameraListOptions> configCameras,
    ICameraRegistry cameras,
    CameraStopReasons stopReasons,
    ILogger<ClusterWorker> logger) : BackgroundService
{
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(1);

    // Owned by the consumer thread.
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly Dictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _startFailures = new(StringComparer.Ordinal);
    private bool _dirty;

    private string Worker => options.Value.EffectiveWorkerId;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var cluster = options.Value;
        var kafka = sink.Value.Kafka;
        if (string.IsNullOrWhiteSpace(kafka.BootstrapServers) || kafka.IsEmbedded)
        {
            throw new InvalidOperationException("Cluster:Enabled needs Sink:Kafka:BootstrapServers: the workers share the registry topic of one Kafka cluster (the in-process mock cluster is this process's alone)");
        }

        if (configCameras.Value.Cameras.Count > 0)
        {
            throw new InvalidOperationException($"Cluster:Enabled: the config's Cameras ({configCameras.Value.Cameras.Count}) would run on every worker: import them into the registry once with `stream cameras import CONFIG` and leave Cameras out of the workers' config");
        }

        var client = CameraRegistryTopic.ClientSettings(kafka);
        int partitions;
        using (var registry = new CameraRegistryTopic(client, cluster.RegistryTopic))
        {
            partitions = await registry.EnsureAsync(cluster.Partitions, cluster.ReplicationFactor, w => ClusterLog.ClusterWarning(logger, w), stoppingToken).ConfigureAwait(false);
        }

        ClusterLog.ClusterJoining(logger, Worker, cluster.Group, cluster.RegistryTopic, partitions);
        var config = new ConsumerConfig(new ClientConfig(client.ToDictionary(kv => kv.Key, kv => kv.Value)))
        {
            GroupId = cluster.Group,
            ClientId = Worker,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            SessionTimeoutMs = cluster.SessionTimeoutMs,
            HeartbeatIntervalMs = cluster.HeartbeatIntervalMs,
            EnableAutoCommit = false, // every assignment reads its partitions from the beginning
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = true,

            // A partition's cameras start once it is read to its end, and the end is known only from a fetch that finds
            // nothing new, which the broker holds up to fetch.wait.max.ms (500 ms by default) before it answers: every
            // assignment, a failover included, waited for it. The registry is tiny, so idle fetches every 100 ms cost nothing.
            FetchWaitMaxMs = 100,
        };

        await Task.Factory.StartNew(() => Run(config, cluster.RegistryTopic, stoppingToken), stoppingToken,
            TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
    }

    private void Run(ConsumerConfig config, string topic, CancellationToken ct)
    {
        using var consumer = new ConsumerBuilder<string, byte[]?>(config)
            .SetKeyDeserializer(Deserializers.Utf8)
            .SetLogHandler((_, _) => { })
            .SetErrorHandler((_, e) => ClusterLog.ClusterConsumerError(logger, e.Reason))
            .SetPartitionsAssignedHandler((_, assigned) =>
            {
                ClusterLog.ClusterAssigned(logger, Describe(assigned.Select(tp => tp.Partition.Value)));
                foreach (var tp in assigned)
                {
                    _partitions[tp.Partition.Value] = new PartitionState();
                }

                return assigned.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning));
            })
            .SetPartitionsRevokedHandler((_, revoked) =>
            {
                ClusterLog.ClusterRevoked(logger, Describe(revoked.Select(tp => tp.Partition.Value)));
                Drop(revoked, "partition revoked");
            })
            .SetPartitionsLostHandler((_, lost) =>
            {
                ClusterLog.ClusterLost(logger, Describe(lost.Select(tp => tp.Partition.Value)));
                Drop(lost, "partition lost");
            })
            .Build();

        consumer.Subscribe(topic);
        var lastRetry = DateTime.MinValue;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                ConsumeResult<string, byte[]?>? result;
                try
                {
                    result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                }
                catch (ConsumeException ex)
                {
                    ClusterLog.ClusterConsumerError(logger, ex.Error.Reason);
                    continue;
                }

                if (result is not null && !result.IsPartitionEOF)
                {
                    Apply(result);
                }
                else if (result is { IsPartitionEOF: true } && _partitions.TryGetValue(result.Partition.Value, out var eof) && !eof.Ready)
                {
                    eof.Ready = true;
                    _dirty = true;
                }

                // Apply a partition's records once it is read to its end (last value per key), then as they come.
                var idle = result is null || result.IsPartitionEOF;
                if ((_dirty && idle) || (_startFailures.Count > 0 && DateTime.UtcNow - lastRetry > RetryEvery))
                {
                    lastRetry = DateTime.UtcNow;
                    Reconcile("registry changed");
                }
            }
        }
        finally
        {
            // Leaving the group revokes every partition (the handler stops their cameras) and hands them over at once.
            try
            {
                consumer.Close();
            }
            catch (KafkaException ex)
            {
                ClusterLog.ClusterConsumerError(logger, ex.Error.Reason);
            }

            _partitions.Clear();
            Reconcile("shutting down");
        }
    }

    private void Apply(ConsumeResult<string, byte[]?> result)
    {
        var partition = result.Partition.Value;
        if (!_partitions.TryGetValue(partition, out var state))
        {
            return;
        }

        var key = result.Message.Key;
        if (string.IsNullOrEmpty(key))
        {
            ClusterLog.ClusterBadRecord(logger, "(none)", partition, result.Offset.Value, "the record has no key: the key must be the camera id");
            return;
        }

        _dirty = true;
        if (result.Message.Value is null)
        {
            state.Cameras.Remove(key);
            return;
        }

        var (camera, problems) = RegistryCamera.Parse(result.Message.Value);
        if (camera is not null && camera.Id != key)
        {
            problems = [$"the key is '{key}' but the camera's Id is '{camera.Id}': the key must be the camera id"];
            camera = null;
        }

        if (camera is null)
        {
            // The camera as last accepted (if any) keeps running: bad input loses nothing already accepted.
            ClusterLog.ClusterBadRecord(logger, key, partition, result.Offset.Value, UrlRedactor.Redact(string.Join("; ", problems)));
            return;
        }

        state.Cameras[key] = camera;
    }

    private void Drop(IEnumerable<TopicPartitionOffset> partitions, string reason)
    {
        foreach (var tp in partitions)
        {
            _partitions.Remove(tp.Partition.Value);
        }

        Reconcile(reason, moved: true);
    }

    /// <summary>Makes the running cameras those of the partitions owned and read to their end.</summary>
    /// <param name="moved">The cameras stopped now go to another worker: their open tracks end with reason "moved".</param>
    private void Reconcile(string reason, bool moved = false)
    {
        _dirty = false;
        var wanted = new Dictionary<string, (RegistryCamera Camera, int Partition)>(StringComparer.Ordinal);
        foreach (var (partition, state) in _partitions.Where(p => p.Value.Ready))
        {
            foreach (var (id, camera) in state.Cameras)
            {
                wanted[id] = (camera, partition);
            }
        }

        var stops = new List<(string Id, Task<bool> Stopped)>();
        foreach (var (id, running) in _running.ToList())
        {
            if (!wanted.TryGetValue(id, out var want) || want.Camera.Fingerprint() != running.Fingerprint)
            {
                // Every camera stops in parallel; each completes its feed, so its queued frames still go through.
                if (moved)
                {
                    stopReasons.Set(id, "moved");
                }

                stops.Add((id, cameras.RemoveAsync(id)));
                _running.Remove(id);
            }
        }

        foreach (var (id, stopped) in stops)
        {
            stopped.GetAwaiter().GetResult();
            ClusterLog.ClusterCameraStopped(logger, id, Worker, reason);
        }

        foreach (var id in _startFailures.Keys.Where(id => !wanted.ContainsKey(id)).ToList())
        {
            _startFailures.Remove(id);
        }

        foreach (var (id, (camera, partition)) in wanted.Where(w => !_running.ContainsKey(w.Key)))
        {
            try
            {
                cameras.AddAsync(camera.Camera).GetAwaiter().GetResult();
                _running[id] = new Running(camera.Fingerprint(), partition);
                _startFailures.Remove(id);
                ClusterLog.ClusterCameraStarted(logger, id, Worker, partition);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                var error = UrlRedactor.Redact(ex.Message);
                if (!_startFailures.TryGetValue(id, out var before) || before != error)
                {
                    ClusterLog.ClusterStartFailed(logger, id, error);
                }

                _startFailures[id] = error;
            }
        }
    }

    private static string Describe(IEnumerable<int> partitions) => string.Join(',', partitions.Order());

    private sealed class PartitionState
    {
        public Dictionary<string, RegistryCamera> Cameras { get; } = new(StringComparer.Ordinal);

        /// <summary>Read to its end once: its cameras may start (earlier values of a key never run).</summary>
        public bool Ready { get; set; }
    }

    private sealed record Running(string Fingerprint, int Partition);
}
