using System.Globalization;
using System.Text.Json;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Issue 16: no accepted event is lost to a crash, and no poison event stops delivery. Real processes: <c>stream run</c>
/// against a <c>stream dev-kafka</c> broker process, read back with a real Kafka consumer.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class SinkDurabilityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "stream-it-spool-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Theory]
    [InlineData(50)]
    [InlineData(0)] // the default queue bound (100000)
    public async Task Kill_9_while_the_broker_is_paused_then_restart_and_resume_loses_no_accepted_event(int queueBound)
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        var topic = "kill9-" + Guid.NewGuid().ToString("N")[..8];
        List<string> sets = ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic, "Sink:Spool:Directory=" + _spool,
            "Sink:Kafka:FlushTimeoutSeconds=30", "Host:ShutdownTimeoutSeconds=60",
            // A connection the restarted producer opened to the frozen broker can stay dead after SIGCONT (librdkafka's
            // mock cluster); a 10 s socket timeout makes the producer give it up and connect again well inside the wait.
            "Sink:Kafka:Properties:socket.timeout.ms=10000"];
        if (queueBound > 0)
        {
            sets.Add("Sink:Kafka:QueueBufferingMaxMessages=" + queueBound.ToString(CultureInfo.InvariantCulture));
        }

        // 1. Events flow, then the broker freezes and events pile up; kill -9 while it is frozen.
        double acceptedBeforeKill;
        double inFlightAtKill;
        await using (var first = StreamProcess.Start(LoadConfig(), sets, output: output))
        {
            await first.WaitReadyAsync();
            await first.WaitUntilAsync(async () => (await first.MetricsAsync()).Sum("stream_sink_events_delivered_total") > 10, TimeSpan.FromSeconds(60), "events delivered");
            await kafka.PauseAsync();
            var atPause = (await first.MetricsAsync()).Sum("stream_sink_events_accepted_total");
            await first.WaitUntilAsync(async () => (await first.MetricsAsync()).Sum("stream_sink_events_accepted_total") > atPause + 100, TimeSpan.FromSeconds(60), "100 events accepted while the broker is paused");
            var last = await first.MetricsAsync();
            acceptedBeforeKill = last.Sum("stream_sink_events_accepted_total");
            inFlightAtKill = last.Sum("stream_sink_events_in_flight");
            await first.SignalAsync("KILL");
            await first.WaitForExitAsync(TimeSpan.FromSeconds(20));
        }

        // 2. Restart against the still-frozen broker, then let the broker go.
        double acceptedSecondRun;
        long acknowledged;
        long left;
        await using (var second = StreamProcess.Start(LoadConfig(), sets, output: output))
        {
            await second.WaitReadyAsync();
            await Task.Delay(2000);
            await kafka.ResumeAsync();
            await second.WaitUntilAsync(async () => (await second.MetricsAsync()).Sum("stream_sink_events_delivered_total") > acceptedBeforeKill / 2, TimeSpan.FromSeconds(120), "the spool replayed after the resume");
            await Task.Delay(3000);
            acceptedSecondRun = (await second.MetricsAsync()).Sum("stream_sink_events_accepted_total");
            await second.SignalAsync("TERM");
            Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(90)));
            (acknowledged, _, left) = second.SinkFinished();
        }

        var expected = (long)(acceptedBeforeKill + acceptedSecondRun);
        var events = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, expected, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(60));
        var distinct = events.Select(e => e.Event.Id).Distinct().Count();
        output.WriteLine(FormattableString.Invariant(
            $"RESULT kill-9 (queue bound {(queueBound > 0 ? queueBound : 100000)}): {acceptedBeforeKill} accepted before the kill ({inFlightAtKill} in the producer's hands), {acceptedSecondRun} after the restart; the restarted sink acknowledged {acknowledged}, left {left}; the consumer saw {events.Count} records, {distinct} distinct ids"));

        Assert.True(inFlightAtKill > 0, "nothing was in the producer's hands at the kill: the test did not test the crash");
        Assert.Equal(0, left);

        // Every event counted as accepted by either run reached the topic (duplicates by id allowed, none missing).
        Assert.True(distinct >= expected, $"the consumer saw {distinct} distinct events of the {expected} accepted");
    }

    [Fact]
    public async Task An_event_kafka_refuses_for_good_goes_to_the_dead_letter_file_and_the_other_cameras_events_keep_flowing()
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        var topic = "poison-" + Guid.NewGuid().ToString("N")[..8];

        // A camera whose URL is near the 4096-character limit that config and API share: its status events carry the
        // URL in their reason, so they are larger than Sink:Kafka:MaxEventBytes (4096 here) and the sink cuts them to that;
        // the producer here takes at most 2000 bytes a record, so Kafka refuses them for good.
        var longUrl = "rtsp://127.0.0.1:1/" + string.Concat(Enumerable.Repeat(new string('a', 63) + "/", 62));
        var config = StreamProcess.Config(StreamProcess.FileCamera("cam-1", maxFps: 10), StreamProcess.UrlCamera("cam-big", longUrl));
        config["Track"] = new Dictionary<string, object?> { ["UpdateIntervalSeconds"] = 0.5 };
        List<string> sets = ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic, "Sink:Spool:Directory=" + _spool,
            "Sink:Kafka:MaxEventBytes=4096",
            "Sink:Kafka:Properties:message.max.bytes=2000", "Sink:Kafka:Properties:batch.size=2000", "Host:ShutdownTimeoutSeconds=60"];
        long acknowledged;
        long refused;
        long left;
        double accepted;
        await using (var run = StreamProcess.Start(config, sets, output: output))
        {
            await run.WaitReadyAsync(TimeSpan.FromSeconds(120));
            await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_sink_events_failed_total") >= 1, TimeSpan.FromSeconds(90), "the oversized event refused");
            var refusedAt = (await run.MetricsAsync()).Sum("stream_sink_events_delivered_total");

            // Delivery moved on: events keep being acknowledged after the refusal.
            await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_sink_events_delivered_total") > refusedAt + 20, TimeSpan.FromSeconds(60), "events delivered after the refusal");
            accepted = (await run.MetricsAsync()).Sum("stream_sink_events_accepted_total");
            await run.SignalAsync("TERM");
            Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(90)));
            (acknowledged, refused, left) = run.SinkFinished();
            Assert.Contains(run.StdoutLines, l => l.Contains("over Sink:Kafka:MaxEventBytes", StringComparison.Ordinal) && l.Contains("truncated", StringComparison.Ordinal));
        }

        var deadLetter = Path.Combine(_spool, "dead-letter.jsonl");
        Assert.True(File.Exists(deadLetter), "no dead-letter.jsonl was written");
        var lines = File.ReadAllLines(deadLetter);
        var events = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, acknowledged, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(60));
        output.WriteLine(FormattableString.Invariant(
            $"RESULT poison: {accepted} accepted at the last scrape; {acknowledged} acknowledged, {refused} refused (dead-letter.jsonl {lines.Length} lines, {new FileInfo(deadLetter).Length} bytes), {left} left; consumer saw {events.Count} records ({events.Count(e => e.Key == "cam-1")} of cam-1)"));

        // Each refused event is in the dead-letter file with the reason; none is left in the spool to block the rest.
        Assert.Equal(0, left);
        Assert.True(refused >= 1);
        Assert.Equal(refused, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            Assert.Equal("cam-big", doc.RootElement.GetProperty("camera_id").GetString());
            Assert.Contains("too large", doc.RootElement.GetProperty("reason").GetString()!, StringComparison.OrdinalIgnoreCase);
            Assert.True(line.Length <= 4096 + 1024, $"a dead-lettered event of {line.Length} bytes: it was not truncated first");
        }

        // The other camera's events were all consumed, exactly what the sink had acknowledged.
        Assert.Equal(acknowledged, events.Select(e => e.Event.Id).Distinct().LongCount());
        Assert.Contains(events, e => e.Key == "cam-1" && e.Event.Kind != "camera_status");
    }

    /// <summary>Two looping clips as live cameras at 10 fps, with periodic track updates (a steady flow of events).</summary>
    private static Dictionary<string, object?> LoadConfig()
    {
        var config = StreamProcess.Config(StreamProcess.FileCamera("cam-1", maxFps: 10), StreamProcess.FileCamera("cam-2", maxFps: 10));
        config["Track"] = new Dictionary<string, object?> { ["UpdateIntervalSeconds"] = 0.5 };
        return config;
    }
}
