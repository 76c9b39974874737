using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Streaming.Core;
using Streaming.Testing;

namespace Streaming.Sink.Tests;

/// <summary>Faults against real servers, each test with servers of its own (they get paused and killed).</summary>
public sealed class SinkFaultTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "stream-sink-fault-" + Guid.NewGuid().ToString("N"));
    private readonly KafkaMockFixture _kafka = new() { Brokers = 1 };
    private readonly RedisServerFixture _redis = new();

    public async Task InitializeAsync() => await Task.WhenAll(_kafka.InitializeAsync(), _redis.InitializeAsync());

    public async Task DisposeAsync()
    {
        await _kafka.DisposeAsync();
        await _redis.DisposeAsync();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Pausing_the_broker_for_30_s_during_a_run_loses_no_event_and_keeps_per_camera_order()
    {
        var options = SinkHarness.DefaultOptions(_kafka.BootstrapServers, _redis.Configuration, Path.Combine(_dir, "spool"));
        options.Kafka.QueueBufferingMaxMessages = 20; // small, so that the outage overflows into the spool
        options.Kafka.FlushTimeoutSeconds = 60;
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        string[] cameras = ["cam-1", "cam-2", "cam-3"];
        var seq = 0L;
        var paused = false;
        long spooledDuringPause = 0;
        var run = Stopwatch.StartNew();

        // 3 cameras x 10 events/s for 40 s: 5 s normal, 30 s with the broker frozen (SIGSTOP), 5 s after SIGCONT.
        while (run.Elapsed < TimeSpan.FromSeconds(40))
        {
            if (!paused && run.Elapsed > TimeSpan.FromSeconds(5) && spooledDuringPause == 0)
            {
                await _kafka.PauseAsync();
                paused = true;
            }

            if (paused && run.Elapsed > TimeSpan.FromSeconds(35))
            {
                spooledDuringPause = sink.Metrics.Spooled;
                await _kafka.ResumeAsync();
                paused = false;
            }

            foreach (var camera in cameras)
            {
                await sink.WriteFrameAsync(camera, seq, (seq % 3) switch { 0 => EventKind.TrackStarted, 1 => EventKind.ZoneEntered, _ => EventKind.TrackEnded });
            }

            seq++;
            await Task.Delay(100);
        }

        await sink.CompleteAsync(TimeSpan.FromSeconds(90));
        var total = sink.Written.Values.Sum(l => l.Count);
        Assert.True(spooledDuringPause > 0, "the outage should have overflowed the producer queue into the spool");
        Assert.True(total == sink.Metrics.Delivered, $"delivered {sink.Metrics.Delivered} of {total}; {_kafka.Describe()}\nthe sink logged:\n{string.Join('\n', sink.Logger.All.Split('\n').TakeLast(30))}");
        Assert.Equal(0, sink.Metrics.Failed);
        Assert.Equal(0, sink.Metrics.SpoolDepth);

        var lines = await SinkKafkaRedisTests.KcatAsync(_kafka.BootstrapServers, options.Kafka.Topic);
        var events = lines.Select(l => (l.Key, Event: EventMessage.Parse(System.Text.Encoding.UTF8.GetBytes(l.Value))!)).ToList();
        foreach (var camera in cameras)
        {
            var consumed = events.Where(e => e.Key == camera).Select(e => e.Event).ToList();

            // No event lost, none twice, in the order written (ids and frame sequence).
            Assert.Equal(sink.Written[camera], consumed.Select(e => e.Id));
            Assert.Equal(Enumerable.Range(0, (int)seq).Select(i => (long?)i), consumed.Select(e => e.FrameSequence));
        }
    }

    [Fact]
    public async Task Killing_and_restarting_redis_mid_run_keeps_the_sink_alive_and_its_counters_right()
    {
        var options = SinkHarness.DefaultOptions(_kafka.BootstrapServers, _redis.Configuration, Path.Combine(_dir, "spool"));
        options.Redis.EveryNthFrame = 1;
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        var run = Stopwatch.StartNew();
        var seq = 0L;
        long storedBeforeKill = -1;
        long storedAtRestart = -1;
        while (run.Elapsed < TimeSpan.FromSeconds(9))
        {
            if (storedBeforeKill < 0 && run.Elapsed > TimeSpan.FromSeconds(2))
            {
                storedBeforeKill = sink.Metrics.FramesStored;
                await _redis.KillAsync();
            }

            if (storedAtRestart < 0 && run.Elapsed > TimeSpan.FromSeconds(4))
            {
                await _redis.StartAsync();
                storedAtRestart = sink.Metrics.FramesStored;
            }

            await sink.WriteFrameAsync("cam-x", seq, seq % 10 == 0 ? EventKind.TrackStarted : null);
            seq++;
            await Task.Delay(40);
        }

        await sink.CompleteAsync(TimeSpan.FromSeconds(60));
        var m = sink.Metrics;
        var counters = $"written {seq}, attempted {m.FramesAttempted}, stored {m.FramesStored}, skipped {m.FramesSkipped}; the sink logged:\n{sink.Logger.All}";
        Assert.True(seq == m.FramesAttempted, counters);
        Assert.True(m.FramesAttempted == m.FramesStored + m.FramesSkipped, counters);
        Assert.True(storedBeforeKill > 10, $"stored before the kill: {storedBeforeKill}");
        Assert.True(m.FramesSkipped > 10, $"skipped while Redis was down: {m.FramesSkipped}");
        Assert.True(m.FramesStored > storedAtRestart + 10, $"stored after the restart: {m.FramesStored - storedAtRestart}");

        // The pipeline kept going: every event still reached Kafka.
        Assert.Equal(sink.Written["cam-x"].Count, m.Delivered);

        // The reconnected sink wrote the newest frames into the restarted (empty) server.
        await using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        Assert.Equal($"frame:cam-x:{seq - 1}", (string?)await redis.GetDatabase().StringGetAsync("frame:cam-x:latest"));
        Assert.Contains(sink.Logger.Entries, e => e.Message.Contains("Redis", StringComparison.Ordinal) && e.Message.Contains("skipped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Events_the_broker_never_acknowledged_stay_in_the_spool_and_are_sent_at_the_next_start()
    {
        // The first run talks to a broker that accepts connections and never answers (a hung broker): nothing it is sent
        // is acknowledged. (librdkafka's mock cluster cannot play that part: frozen with SIGSTOP while a client connects,
        // it stops listening once resumed.) The next start, against a live broker, sends what the first run spooled.
        var spool = Path.Combine(_dir, "spool");
        List<Guid> written;
        await using (var hung = new SilentTcpServer())
        {
            var options = SinkHarness.DefaultOptions($"127.0.0.1:{hung.Port}", _redis.Configuration, spool);
            options.Kafka.QueueBufferingMaxMessages = 5;
            options.Kafka.FlushTimeoutSeconds = 1;
            await using var first = new SinkHarness(options);
            await first.StartAsync();
            for (var seq = 0; seq < 30; seq++)
            {
                await first.WriteFrameAsync("cam-p", seq, EventKind.TrackStarted);
            }

            await first.CompleteAsync(TimeSpan.FromSeconds(30));
            written = first.Written["cam-p"];
            Assert.True(hung.Accepted > 0, "the first run never reached the hung broker");
            Assert.Equal(0, first.Metrics.Delivered);
            Assert.Equal(30, first.Metrics.SpoolDepth);
            Assert.Contains(first.Logger.Entries, e => e.Message.Contains("stay in the spool", StringComparison.Ordinal));
        }

        var restarted = SinkHarness.DefaultOptions(_kafka.BootstrapServers, _redis.Configuration, spool);
        restarted.Kafka.FlushTimeoutSeconds = 30;
        await using (var second = new SinkHarness(restarted))
        {
            await second.StartAsync();
            await second.CompleteAsync(TimeSpan.FromSeconds(60));
            Assert.True(second.Metrics.SpoolDepth == 0, $"{second.Metrics.SpoolDepth} left in the spool; the restarted sink logged:\n{second.Logger.All}");
            Assert.Equal(30, second.Metrics.Delivered);
        }

        // Nothing lost, none twice, in the order written.
        var lines = await SinkKafkaRedisTests.KcatAsync(_kafka.BootstrapServers, restarted.Kafka.Topic);
        var ids = lines.Select(l => EventMessage.Parse(System.Text.Encoding.UTF8.GetBytes(l.Value))!.Id).ToList();
        Assert.Equal(written, ids);
        Assert.Empty(Directory.GetFiles(spool, "*.spool"));
    }

    [Fact]
    public async Task Kafka_sasl_and_redis_passwords_never_appear_in_logs_or_events()
    {
        const string kafkaSecret = "kafka-Secr3t-9f1c";
        const string redisSecret = "redis-Secr3t-77aa";
        var options = SinkHarness.DefaultOptions(_kafka.BootstrapServers, _redis.Configuration + ",password=" + redisSecret, Path.Combine(_dir, "spool"));
        options.Kafka.SecurityProtocol = "SaslPlaintext";
        options.Kafka.SaslMechanism = "PLAIN";
        options.Kafka.SaslUsername = "stream";
        options.Kafka.SaslPassword = kafkaSecret;
        options.Kafka.FlushTimeoutSeconds = 3;
        options.Redis.Password = redisSecret;
        await using (var sink = new SinkHarness(options))
        {
            await sink.StartAsync();
            for (var seq = 0; seq < 10; seq++)
            {
                await sink.WriteFrameAsync("cam-sec", seq, EventKind.TrackStarted);
            }

            await sink.Status.Writer.WriteAsync(new CameraStatusChange("cam-sec", CameraState.Failed, DateTimeOffset.UtcNow,
                "401 Unauthorized for rtsp://admin:" + kafkaSecret + "@10.0.0.9/stream?password=" + redisSecret));
            await Task.Delay(2000);
            await sink.CompleteAsync(TimeSpan.FromSeconds(30));

            // The redis-server here has no password, so AUTH fails: the sink says so, keeps running and counts the frames it skipped.
            Assert.Equal(sink.Metrics.FramesAttempted, sink.Metrics.FramesStored + sink.Metrics.FramesSkipped);
            var logs = sink.Logger.All;
            Assert.NotEmpty(logs);
            Assert.DoesNotContain(kafkaSecret, logs, StringComparison.Ordinal);
            Assert.DoesNotContain(redisSecret, logs, StringComparison.Ordinal);
        }

        // Whatever reached the spool or the broker carries no secret either.
        foreach (var file in Directory.GetFiles(_dir, "*", SearchOption.AllDirectories))
        {
            var text = System.Text.Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file));
            Assert.DoesNotContain(kafkaSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(redisSecret, text, StringComparison.Ordinal);
        }
    }
}
