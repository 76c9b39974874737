using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Streaming.Core;
using Streaming.Testing;

namespace Streaming.Sink.Tests;

/// <summary>Issue 16 parts 2 and 4 against real servers: poison events never block delivery; a wrong Redis password is named.</summary>
[Collection(SinkServersCollection.Name)]
public sealed class SinkPoisonAndAuthTests(SinkServersFixture servers) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "stream-sink-poison-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task An_event_kafka_refuses_for_good_is_dead_lettered_with_its_reason_counted_and_the_events_behind_it_are_delivered_in_order()
    {
        var options = SinkHarness.DefaultOptions(servers.Kafka.BootstrapServers, servers.Redis.Configuration, Path.Combine(_dir, "spool"));

        // The producer takes at most 2000 bytes a record: a camera_status event with a 5000-character reason can never be sent.
        options.Kafka.Properties["message.max.bytes"] = "2000";
        options.Kafka.Properties["batch.size"] = "2000";
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        for (var seq = 0; seq < 10; seq++)
        {
            await sink.WriteFrameAsync("cam-a", seq, EventKind.TrackStarted);
        }

        await sink.Status.Writer.WriteAsync(new CameraStatusChange("cam-a", CameraState.Failed, DateTimeOffset.UtcNow, "decoder said: " + new string('x', 5000)));
        await Task.Delay(500);
        for (var seq = 10; seq < 20; seq++)
        {
            await sink.WriteFrameAsync("cam-a", seq, EventKind.TrackStarted);
        }

        await sink.CompleteAsync(TimeSpan.FromSeconds(60));
        Assert.True(sink.Metrics.Delivered == 20, $"delivered {sink.Metrics.Delivered} of 20; the sink logged:\n{sink.Logger.All}");
        Assert.Equal(1, sink.Metrics.Failed);
        Assert.Equal(0, sink.Metrics.SpoolDepth);

        // The refused event is in dead-letter.jsonl with Kafka's reason; the log names the file.
        var deadLetter = Path.Combine(options.Spool.Directory, "dead-letter.jsonl");
        var line = Assert.Single(File.ReadAllLines(deadLetter));
        using (var doc = JsonDocument.Parse(line))
        {
            Assert.Equal("cam-a", doc.RootElement.GetProperty("camera_id").GetString());
            Assert.Equal("camera_status", doc.RootElement.GetProperty("event").GetProperty("kind").GetString());
            Assert.Contains("too large", doc.RootElement.GetProperty("reason").GetString()!, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains(sink.Logger.Entries, e => e.Level == LogLevel.Error && e.Category == typeof(KafkaEventPublisher).FullName && e.Message.Contains(deadLetter, StringComparison.Ordinal));

        // Every other event reached the topic once, in order.
        var lines = await SinkKafkaRedisTests.KcatAsync(servers.Kafka.BootstrapServers, options.Kafka.Topic);
        var ids = lines.Select(l => EventMessage.Parse(System.Text.Encoding.UTF8.GetBytes(l.Value))!.Id).ToList();
        Assert.Equal(sink.Written["cam-a"], ids);
    }

    [Fact]
    public async Task An_event_over_MaxEventBytes_has_its_long_fields_truncated_and_is_delivered()
    {
        var options = SinkHarness.DefaultOptions(servers.Kafka.BootstrapServers, servers.Redis.Configuration, Path.Combine(_dir, "spool"));
        options.Kafka.MaxEventBytes = 4096;
        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        var url = "rtsp://10.0.0.9/" + new string('u', 1_000_000);
        await sink.Status.Writer.WriteAsync(new CameraStatusChange("cam-long", CameraState.Backoff, DateTimeOffset.UtcNow, "cannot open " + url));
        await sink.CompleteAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, sink.Metrics.Delivered);
        Assert.Equal(0, sink.Metrics.Failed);

        var (key, value) = Assert.Single(await SinkKafkaRedisTests.KcatAsync(servers.Kafka.BootstrapServers, options.Kafka.Topic));
        Assert.Equal("cam-long", key);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(value) <= 4096, $"{value.Length} bytes");
        var e = EventMessage.Parse(System.Text.Encoding.UTF8.GetBytes(value))!;
        Assert.StartsWith("cannot open rtsp://10.0.0.9/uuu", e.Reason, StringComparison.Ordinal);
        Assert.EndsWith("chars]", e.Reason, StringComparison.Ordinal);
        Assert.Contains(sink.Logger.Entries, l => l.Level == LogLevel.Warning && l.Message.Contains("Sink:Kafka:MaxEventBytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Redis_with_a_wrong_password_logs_one_warning_naming_the_authentication_failure_and_counts_frames_as_auth_failed()
    {
        await using var redis = new RedisServerFixture { Password = "right-" + Guid.NewGuid().ToString("N")[..8] };
        await redis.InitializeAsync();
        var options = SinkHarness.DefaultOptions(servers.Kafka.BootstrapServers, $"127.0.0.1:{redis.Port},connectTimeout=1000", Path.Combine(_dir, "spool"));
        options.Redis.Password = "wrong-password";
        options.Redis.EveryNthFrame = 1;
        var reasons = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "stream.sink.redis_frames_skipped")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (value == 0)
            {
                return; // each reason's series is created at 0 with a camera's first frame
            }

            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    reasons.Add((string)tag.Value!);
                }
            }
        });
        listener.Start();

        await using var sink = new SinkHarness(options);
        await sink.StartAsync();
        for (var seq = 0; seq < 60; seq++)
        {
            await sink.WriteFrameAsync("cam-auth", seq, seq % 10 == 0 ? EventKind.TrackStarted : null);
            await Task.Delay(100);
        }

        await sink.CompleteAsync(TimeSpan.FromSeconds(30));
        var m = sink.Metrics;
        Assert.True(m.FramesAttempted == 60 && m.FramesSkipped == 60, $"attempted {m.FramesAttempted}, skipped {m.FramesSkipped}; the sink logged:\n{sink.Logger.All}");

        // Skipped for the right reason (after the first connection attempt failed), and said once, with the fix.
        Assert.Contains("auth_failed", reasons);
        Assert.True(reasons.Count(r => r == "auth_failed") >= 50, $"reasons: {string.Join(',', reasons.GroupBy(r => r).Select(g => $"{g.Key}={g.Count()}"))}");
        Assert.DoesNotContain("redis_down", reasons);
        var warning = Assert.Single(sink.Logger.Entries, e => e.Message.Contains("authentication failed", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(typeof(RedisFrameStore).FullName, warning.Category);
        Assert.Contains("Sink:Redis:Password", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", sink.Logger.All, StringComparison.Ordinal);

        // The events still reached Kafka: Redis is only the frame cache.
        Assert.Equal(6, m.Delivered);
    }
}
