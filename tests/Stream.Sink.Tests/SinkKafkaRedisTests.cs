using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;
using StackExchange.Redis;
using Streaming.Core;
using Streaming.DevServices;
using Streaming.Testing;

namespace Streaming.Sink.Tests;

/// <summary>A mock Kafka cluster in its own process and a real redis-server, shared by the tests of this collection.</summary>
public sealed class SinkServersFixture : IAsyncLifetime
{
    public KafkaMockFixture Kafka { get; } = new() { Brokers = 3 };

    public RedisServerFixture Redis { get; } = new();

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Kafka.InitializeAsync(), Redis.InitializeAsync());
    }

    public async Task DisposeAsync()
    {
        await Kafka.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SinkServersCollection : ICollectionFixture<SinkServersFixture>
{
    public const string Name = "sink servers";
}

[Collection(SinkServersCollection.Name)]
public sealed class SinkKafkaRedisTests(SinkServersFixture servers) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "stream-sink-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private SinkOptions NewOptions() => SinkHarness.DefaultOptions(servers.Kafka.BootstrapServers, servers.Redis.Configuration, Path.Combine(_dir, "spool"));

    private static async Task<List<AlertResult>> ConsumeAsync(SinkOptions options, string? redis, string? saveDir, int expected)
    {
        await using var consumer = new AlertConsumer(
            new AlertConsumerOptions
            {
                BootstrapServers = options.Kafka.BootstrapServers,
                Topic = options.Kafka.Topic,
                GroupId = "test-" + Guid.NewGuid().ToString("N")[..8],
                FromBeginning = true,
                Redis = redis,
                SaveDirectory = saveDir,
                IdleTimeout = TimeSpan.FromSeconds(3),
            },
            NullLogger.Instance);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await consumer.RunAsync(_ => { }, cts.Token);
        Assert.True(consumer.Results.Count >= expected, $"consumed {consumer.Results.Count} of {expected}");
        return consumer.Results;
    }

    [Fact]
    public async Task Stream_alerts_with_clips_saves_an_events_clip_next_to_its_picture()
    {
        // A track_ended naming its clip, as the sink publishes it, and the clip in the workers' clip directory.
        var clips = Directory.CreateDirectory(Path.Combine(_dir, "clips", "gate")).FullName;
        var bytes = System.Text.Encoding.ASCII.GetBytes("not really an mp4, but bytes to copy");
        await File.WriteAllBytesAsync(Path.Combine(clips, "1796000000000-1796000000000003.mp4"), bytes);
        var ended = new EventMessage
        {
            Id = Guid.CreateVersion7(), Kind = "track_ended", CameraId = "gate", Time = DateTimeOffset.UtcNow, TrackId = 1_796_000_000_000_003,
            Epoch = 1_796_000_000_000, ClipKey = "gate/1796000000000-1796000000000003.mp4", ClipSeconds = 6.5,
        };
        var topic = "alerts-clips-" + Guid.NewGuid().ToString("N")[..8];
        using (var producer = new Confluent.Kafka.ProducerBuilder<string, byte[]>(new Confluent.Kafka.ProducerConfig { BootstrapServers = servers.Kafka.BootstrapServers }).Build())
        {
            await producer.ProduceAsync(topic, new Confluent.Kafka.Message<string, byte[]> { Key = "gate", Value = ended.ToUtf8() });
        }

        var save = Path.Combine(_dir, "alerts");
        await using var consumer = new AlertConsumer(new AlertConsumerOptions
        {
            BootstrapServers = servers.Kafka.BootstrapServers, Topic = topic, GroupId = "test-" + Guid.NewGuid().ToString("N")[..8], FromBeginning = true,
            SaveDirectory = save, ClipDirectory = Path.Combine(_dir, "clips"), IdleTimeout = TimeSpan.FromSeconds(3), MaxEvents = 1,
        }, NullLogger.Instance);
        var lines = new List<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await consumer.RunAsync(lines.Add, cts.Token);

        var result = Assert.Single(consumer.Results);
        Assert.Equal(Path.Combine(save, $"gate__track_ended_{ended.Id:N}.mp4"), result.SavedClip);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(result.SavedClip!));
        Assert.Contains("clip=gate/1796000000000-1796000000000003.mp4 (6.5 s)", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_event_produced_is_consumed_once_with_a_valid_schema_and_the_camera_as_key()
    {
        var options = NewOptions();
        EventKind[] kinds = [EventKind.TrackStarted, EventKind.ZoneEntered, EventKind.LineCrossed, EventKind.ZoneExited, EventKind.TrackEnded];
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        string[] cameras = ["cam-a", "cam-b", "cam-c"];
        for (var seq = 0; seq < 40; seq++)
        {
            foreach (var camera in cameras)
            {
                await sink.WriteFrameAsync(camera, seq, kinds[seq % kinds.Length]);
            }
        }

        await sink.Status.Writer.WriteAsync(new CameraStatusChange("cam-a", CameraState.Backoff, DateTimeOffset.UtcNow, "connection refused rtsp://admin:hunter2@10.0.0.5/live"));
        await sink.CompleteAsync(TimeSpan.FromSeconds(60));
        const int expected = (40 * 3) + 1;
        Assert.True(sink.Metrics.FramesStored == 120, $"stored {sink.Metrics.FramesStored} of 120; the sink logged:\n{sink.Logger.All}");
        Assert.Equal(expected, sink.Metrics.Delivered);
        Assert.Equal(0, sink.Metrics.Failed);

        var saveDir = Path.Combine(_dir, "alerts");
        var results = await ConsumeAsync(options, servers.Redis.Configuration, saveDir, expected);

        // Once each, nothing else.
        Assert.Equal(expected, results.Count);
        Assert.Equal(expected, results.Select(r => r.Event.Id).Distinct().Count());
        var written = sink.Written.Values.SelectMany(x => x).ToHashSet();
        Assert.Subset(results.Select(r => r.Event.Id).ToHashSet(), written);

        foreach (var r in results)
        {
            Assert.Equal(r.Event.CameraId, r.Key);
            Assert.Equal(1, r.Event.SchemaVersion);
        }

        // Per camera: in the order written, all from one partition.
        foreach (var camera in cameras)
        {
            var mine = results.Where(r => r.Key == camera && r.Event.Kind != "camera_status").ToList();
            Assert.Equal(sink.Written[camera], mine.Select(r => r.Event.Id));
            Assert.Single(mine.Select(r => r.Partition).Distinct());
        }

        // The status event maps Backoff to reconnecting and carries no credentials.
        var status = Assert.Single(results, r => r.Event.Kind == "camera_status");
        Assert.Equal("reconnecting", status.Event.Status);
        Assert.DoesNotContain("hunter2", status.Event.Reason, StringComparison.Ordinal);

        // Each event with a frame fetched it from Redis and saved it with its box drawn.
        var framed = results.Where(r => r.Event.FrameKey is not null).ToList();
        Assert.Equal(120, framed.Count);
        Assert.All(framed, r => Assert.True(r.FrameFound, r.Event.FrameKey));
        var saved = framed[0].SavedPath!;
        using var picture = Cv2.ImRead(saved);
        Assert.Equal(96, picture.Width);
        var red = picture.At<Vec3b>(12, 30); // top edge of box (10,12)-(50,48)
        Assert.True(red.Item2 > 200 && red.Item0 < 60, $"box edge pixel {red.Item0},{red.Item1},{red.Item2}");
        Assert.DoesNotContain("hunter2", sink.Logger.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_follow_the_json_schema_in_docs()
    {
        var options = NewOptions();
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        var seq = 0;
        foreach (var kind in new[] { EventKind.TrackStarted, EventKind.TrackUpdated, EventKind.TrackEnded, EventKind.ZoneEntered, EventKind.ZoneExited, EventKind.LineCrossed })
        {
            await sink.WriteFrameAsync("cam-s", seq++, kind);
        }

        var frame = Frame.Rent("cam-s", seq, 32, 32, DateTimeOffset.UtcNow);
        var counts = new PipelineEvent { Kind = EventKind.Counts, CameraId = "cam-s", Time = DateTimeOffset.UtcNow, Counts = new Dictionary<string, int> { ["person"] = 2, ["dog"] = 1 } };
        await sink.Frames.Writer.WriteAsync(new TrackedFrame(frame, [], [counts], false));
        foreach (var state in Enum.GetValues<CameraState>())
        {
            await sink.Status.Writer.WriteAsync(new CameraStatusChange("cam-s", state, DateTimeOffset.UtcNow, null));
        }

        await sink.CompleteAsync(TimeSpan.FromSeconds(60));
        var lines = await KcatAsync(options.Kafka.BootstrapServers, options.Kafka.Topic);
        Assert.Equal(6 + 1 + 5, lines.Count);
        foreach (var (_, json) in lines)
        {
            Assert.Empty(EventSchema.Validate(json));
        }

        var statuses = lines.Select(l => EventMessage.Parse(Encoding.UTF8.GetBytes(l.Value))!).Where(e => e.Kind == "camera_status").Select(e => e.Status).ToList();
        Assert.Equal(["reconnecting", "online", "reconnecting", "offline", "offline"], statuses);

        // And the validator is not toothless: an event without an id, or with an unknown kind, fails.
        Assert.NotEmpty(EventSchema.Validate("""{"schema_version":1,"kind":"track_started","camera_id":"c","time":"2026-01-01T00:00:00Z","track_id":1}"""));
        Assert.NotEmpty(EventSchema.Validate("""{"schema_version":1,"id":"0194e3c1-0000-7000-8000-000000000000","kind":"exploded","camera_id":"c","time":"2026-01-01T00:00:00Z"}"""));
        Assert.NotEmpty(EventSchema.Validate("""{"schema_version":1,"id":"0194e3c1-0000-7000-8000-000000000000","kind":"track_started","camera_id":"c","time":"2026-01-01T00:00:00Z"}"""));
    }

    [Fact]
    public async Task Debian_kcat_consumes_the_topic_and_the_events_parse()
    {
        var options = NewOptions();
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        for (var seq = 0; seq < 25; seq++)
        {
            await sink.WriteFrameAsync("cam-k", seq, seq % 2 == 0 ? EventKind.TrackStarted : EventKind.TrackEnded);
        }

        await sink.CompleteAsync(TimeSpan.FromSeconds(60));
        var lines = await KcatAsync(options.Kafka.BootstrapServers, options.Kafka.Topic);
        Assert.Equal(25, lines.Count);
        var parsed = lines.Select(l => (l.Key, Event: EventMessage.Parse(Encoding.UTF8.GetBytes(l.Value))!)).ToList();
        Assert.All(parsed, p => Assert.Equal("cam-k", p.Key));
        Assert.Equal(sink.Written["cam-k"], parsed.Select(p => p.Event.Id));
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long?)i), parsed.Select(p => p.Event.FrameSequence));
    }

    [Fact]
    public async Task Frame_keys_in_events_resolve_in_redis_and_expire()
    {
        var options = NewOptions();
        options.Redis.FrameTtlSeconds = 3;
        options.Redis.EveryNthFrame = 5;
        options.Redis.IndexLength = 4;
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        for (var seq = 0; seq < 20; seq++)
        {
            // Events on frames 3 and 7; frame 11 is a keep-frame; every 5th frame too.
            await sink.WriteFrameAsync("cam-r", seq, seq is 3 or 7 ? EventKind.TrackStarted : null, keepFrame: seq == 11);
        }

        await sink.CompleteAsync(TimeSpan.FromSeconds(60));
        long[] stored = [0, 3, 5, 7, 10, 11, 15];
        Assert.Equal(stored.Length, sink.Metrics.FramesAttempted);
        Assert.True(sink.Metrics.FramesStored == stored.Length, $"stored {sink.Metrics.FramesStored} of {stored.Length}; the sink logged:\n{sink.Logger.All}");

        // Right after the run: the frames the events refer to are in Redis, with the TTL.
        await using var redis = await ConnectionMultiplexer.ConnectAsync(servers.Redis.Configuration);
        var db = redis.GetDatabase();
        foreach (var seq in stored)
        {
            byte[]? jpeg = await db.StringGetAsync($"frame:cam-r:{seq}");
            Assert.NotNull(jpeg);
            using var image = Cv2.ImDecode(jpeg, ImreadModes.Color);
            Assert.Equal((96, 64), (image.Width, image.Height));
            var ttl = await db.KeyTimeToLiveAsync($"frame:cam-r:{seq}");
            Assert.NotNull(ttl);
            Assert.True(ttl <= TimeSpan.FromSeconds(options.Redis.FrameTtlSeconds));
        }

        // Index trimmed to the 4 newest, latest points at the newest.
        var index = (await db.SortedSetRangeByRankAsync("frame:cam-r:index")).Select(v => (long)v).ToArray();
        Assert.Equal([7, 10, 11, 15], index);
        Assert.Equal("frame:cam-r:15", (string?)await db.StringGetAsync("frame:cam-r:latest"));

        // All gone after the TTL.
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(15) && await db.KeyExistsAsync("frame:cam-r:15"))
        {
            await Task.Delay(200);
        }

        foreach (var seq in stored)
        {
            Assert.False(await db.KeyExistsAsync($"frame:cam-r:{seq}"));
        }

        // And the events name exactly those keys.
        var results = await ConsumeAsync(options, redis: null, saveDir: null, expected: 2);
        Assert.Equal(["frame:cam-r:3", "frame:cam-r:7"], results.Select(r => r.Event.FrameKey));
    }

    internal static async Task<List<(string Key, string Value)>> KcatAsync(string bootstrap, string topic)
    {
        var psi = new ProcessStartInfo("kcat") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning", "-q", "-f", "%k\t%s\n" })
        {
            psi.ArgumentList.Add(a);
        }

        using var kcat = Process.Start(psi)!;
        var stderr = kcat.StandardError.ReadToEndAsync();
        var output = await kcat.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await kcat.WaitForExitAsync();
        Assert.True(kcat.ExitCode == 0, $"kcat exited {kcat.ExitCode}: {await stderr}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t', 2)).Select(p => (p[0], p[1]))];
    }
}
