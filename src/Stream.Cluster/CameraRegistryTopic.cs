using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Streaming.Core;
using Streaming.Sink;

namespace Streaming.Cluster;

/// <summary>One record of the camera registry as it stands: the last value of its key (null value: removed).</summary>
public sealed record RegistryRecord(string Key, int Partition, byte[]? Value);

/// <summary>
/// The camera registry: a compacted Kafka topic, key = camera id, value = the camera as JSON in the shape of a config
/// file's <c>Cameras</c> entry with its zones and lines (<see cref="RegistryCamera"/>), a tombstone (null value) removes the camera. A camera keeps
/// the partition its first record went to; a new camera goes to the partition with the fewest cameras, so that cameras
/// spread evenly over partitions (and so over workers) whatever their ids hash to. Written by <c>stream cameras</c> and
/// by the camera API of any worker; read by every worker for the partitions the group assigned it.
/// </summary>
public sealed class CameraRegistryTopic : IDisposable
{
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(10);
    private readonly ClientConfig _client;
    private readonly Lazy<IProducer<string, byte[]?>> _producer;

    public CameraRegistryTopic(ClientConfig client, string topic)
    {
        _client = client;
        Topic = topic;
        _producer = new(() => new ProducerBuilder<string, byte[]?>(new ProducerConfig(Copy(client))
        {
            Acks = Acks.All,
            EnableIdempotence = true,
            MessageTimeoutMs = 30_000,
        }).SetLogHandler((_, _) => { }).Build());
    }

    public string Topic { get; }

    /// <summary>An admin client on the same Kafka cluster (the caller disposes it).</summary>
    public IAdminClient CreateAdminClient() => new AdminClientBuilder(new AdminClientConfig(Copy(_client))).SetLogHandler((_, _) => { }).Build();

    private static ClientConfig Copy(ClientConfig config) => new(config.ToDictionary(kv => kv.Key, kv => kv.Value));

    /// <summary>Client settings (bootstrap servers and security) from <c>Sink:Kafka</c>, as the event producer uses them.</summary>
    public static ClientConfig ClientSettings(KafkaSinkOptions kafka, string? bootstrapServers = null)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        var producer = KafkaProducerConfigBuilder.Build(kafka, bootstrapServers ?? kafka.BootstrapServers);
        var config = new ClientConfig();
        foreach (var (key, value) in producer)
        {
            if (key is "bootstrap.servers" or "client.id" || key.StartsWith("security.", StringComparison.Ordinal)
                || key.StartsWith("sasl.", StringComparison.Ordinal) || key.StartsWith("ssl.", StringComparison.Ordinal))
            {
                config.Set(key, value);
            }
        }

        return config;
    }

    /// <summary>
    /// Makes sure the topic exists: creates it compacted with <paramref name="partitions"/> partitions when it does not.
    /// Returns its partition count. Throws <see cref="InvalidOperationException"/> with one line naming the topic and the
    /// fix when it neither exists nor can be created.
    /// </summary>
    public async Task<int> EnsureAsync(int partitions, short replicationFactor, Action<string> warn, CancellationToken ct)
    {
        using var admin = CreateAdminClient();
        var existing = Partitions(admin);
        if (existing > 0)
        {
            return existing;
        }

        string reason;
        try
        {
            await admin.CreateTopicsAsync(
                [new TopicSpecification
                {
                    Name = Topic,
                    NumPartitions = partitions,
                    ReplicationFactor = replicationFactor,
                    Configs = new Dictionary<string, string> { ["cleanup.policy"] = "compact" },
                }],
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(5), OperationTimeout = TimeSpan.FromSeconds(5) }).WaitAsync(ct).ConfigureAwait(false);
            return Math.Max(Partitions(admin), partitions);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.TopicAlreadyExists or ErrorCode.NoError))
        {
            return Partitions(admin);
        }
        catch (CreateTopicsException ex)
        {
            reason = ex.Results[0].Error.Reason;
        }
        catch (KafkaException ex)
        {
            reason = ex.Error.Reason;
        }

        // Brokers without a controller (librdkafka's mock cluster) answer CreateTopics with a timeout but create a
        // topic named in a metadata request (auto-create): take that, and say what it lacks.
        var created = AutoCreate(admin);
        if (created > 0)
        {
            warn($"registry topic '{Topic}' could not be created as asked ({reason}); the broker auto-created it with {created} partition(s) and its default cleanup policy: create it yourself with {partitions} partitions and cleanup.policy=compact for production (docs/cluster.md)");
            return created;
        }

        throw new InvalidOperationException(
            $"registry topic '{Topic}' does not exist and could not be created ({reason}): create it with kafka-topics.sh --create --topic {Topic} --partitions {partitions} --config cleanup.policy=compact, or give this client the right to create topics");
    }

    private int Partitions(IAdminClient admin)
    {
        var metadata = admin.GetMetadata(MetadataTimeout);
        return metadata.Topics.FirstOrDefault(t => t.Topic == Topic && !t.Error.IsError)?.Partitions.Count ?? 0;
    }

    private int AutoCreate(IAdminClient admin)
    {
        try
        {
            var t = admin.GetMetadata(Topic, MetadataTimeout).Topics.SingleOrDefault();
            return t is null || t.Error.IsError ? 0 : t.Partitions.Count;
        }
        catch (KafkaException)
        {
            return 0;
        }
    }

    /// <summary>Reads every partition from the beginning to its end: the registry as it stands, last value per key.</summary>
    public IReadOnlyDictionary<string, RegistryRecord> ReadAll(CancellationToken ct)
    {
        var config = new ConsumerConfig(Copy(_client))
        {
            GroupId = "stream-registry-reader", // never joined: partitions are assigned by hand, nothing is committed
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        using var consumer = new ConsumerBuilder<string, byte[]?>(config).SetLogHandler((_, _) => { }).Build();
        var records = new Dictionary<string, RegistryRecord>(StringComparer.Ordinal);
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var metadata = admin.GetMetadata(Topic, MetadataTimeout).Topics.SingleOrDefault();
        if (metadata is null || metadata.Error.IsError)
        {
            throw new InvalidOperationException($"registry topic '{Topic}' cannot be read ({metadata?.Error.Reason ?? "not found"}): create it with `stream cameras put` or check Cluster:RegistryTopic and the bootstrap servers");
        }

        var pending = new HashSet<int>();
        var assign = new List<TopicPartitionOffset>();
        foreach (var p in metadata.Partitions)
        {
            var tp = new TopicPartition(Topic, p.PartitionId);
            var marks = consumer.QueryWatermarkOffsets(tp, MetadataTimeout);
            if (marks.High > marks.Low)
            {
                pending.Add(p.PartitionId);
                assign.Add(new TopicPartitionOffset(tp, Offset.Beginning));
            }
        }

        consumer.Assign(assign);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (pending.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"registry topic '{Topic}': partitions {string.Join(',', pending)} were not read to their end within 60 s");
            }

            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is null)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                pending.Remove(result.Partition.Value);
                continue;
            }

            if (result.Message.Key is { } key)
            {
                records[key] = new RegistryRecord(key, result.Partition.Value, result.Message.Value);
            }
        }

        consumer.Close();
        return records;
    }

    /// <summary>Puts <paramref name="camera"/>: to the partition it already has, or the one with the fewest cameras.</summary>
    public async Task<int> PutAsync(RegistryCamera camera, CancellationToken ct) => (await PutAsync([camera], ct).ConfigureAwait(false))[0];

    /// <summary>Puts each camera without zones or lines (reading the registry once); returns the partition of each, in order.</summary>
    public Task<IReadOnlyList<int>> PutAsync(IReadOnlyList<CameraOptions> cameras, CancellationToken ct) =>
        PutAsync([.. cameras.Select(c => new RegistryCamera(c))], ct);

    /// <summary>Puts each camera with its zones and lines (reading the registry once); returns the partition of each, in order.</summary>
    public async Task<IReadOnlyList<int>> PutAsync(IReadOnlyList<RegistryCamera> cameras, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cameras);
        var current = ReadAll(ct);
        int count;
        using (var admin = CreateAdminClient())
        {
            count = Math.Max(Partitions(admin), 1);
        }

        var load = new int[count];
        var placed = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in current.Values.Where(r => r.Partition < count))
        {
            placed[r.Key] = r.Partition;
            if (r.Value is not null)
            {
                load[r.Partition]++;
            }
        }

        var partitions = new List<int>(cameras.Count);
        foreach (var camera in cameras)
        {
            if (!placed.TryGetValue(camera.Id, out var partition))
            {
                partition = Array.IndexOf(load, load.Min());
                placed[camera.Id] = partition;
                load[partition]++;
            }

            await ProduceAsync(camera.Id, partition, camera.Serialize(), ct).ConfigureAwait(false);
            partitions.Add(partition);
        }

        return partitions;
    }

    /// <summary>Writes a tombstone for camera <paramref name="id"/>; false when the registry has no such camera.</summary>
    public async Task<bool> RemoveAsync(string id, CancellationToken ct)
    {
        var current = ReadAll(ct);
        if (!current.TryGetValue(id, out var existing) || existing.Value is null)
        {
            return false;
        }

        await ProduceAsync(id, existing.Partition, null, ct).ConfigureAwait(false);
        return true;
    }

    private async Task ProduceAsync(string key, int partition, byte[]? value, CancellationToken ct)
    {
        await _producer.Value.ProduceAsync(new TopicPartition(Topic, partition), new Message<string, byte[]?> { Key = key, Value = value }, ct).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (_producer.IsValueCreated)
        {
            _producer.Value.Flush(TimeSpan.FromSeconds(10));
            _producer.Value.Dispose();
        }
    }
}
