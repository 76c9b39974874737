using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// The event spool on a full disk (a 64 KiB tmpfs mounted by the test; the tests run as root) under a real
/// <c>stream run</c> (issue 24): no event is lost or counted twice, the sink holds further events, /readyz names the disk
/// and the path, and it all recovers by itself when space returns.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class SpoolDiskFullTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_full_disk_under_the_spool_loses_no_event_holds_the_sink_says_so_on_readyz_and_recovers_by_itself()
    {
        await using var disk = await TmpfsMount.CreateAsync("64k");
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();

        // The broker cannot be reached from the start (its proxy holds every byte): every event goes to the spool.
        await kafka.PauseAsync();
        var config = StreamProcess.Config(StreamProcess.FileCamera("cam-1", maxFps: 10), StreamProcess.FileCamera("cam-2", maxFps: 10));
        await using var run = StreamProcess.Start(config, ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Spool:Directory=" + disk.Path,
            "Sink:Kafka:QueueBufferingMaxMessages=10", "Track:UpdateIntervalSeconds=0.2"], output: output);
        await run.WaitReadyAsync();

        // Invariant at every scrape: accepted (plus found in the spool at the start) = delivered + dead-lettered + in the spool.
        var scrapes = 0;
        async Task<Metrics> ScrapeAsync()
        {
            var m = await run.MetricsAsync();
            scrapes++;
            Assert.True(m.Has("stream_sink_events_unaccounted"), "no stream_sink_events_unaccounted");
            Assert.True(m.Sum("stream_sink_events_unaccounted") == 0, $"scrape {scrapes}: {m.Sum("stream_sink_events_unaccounted")} events unaccounted (accepted {m.Sum("stream_sink_events_accepted_total")}, delivered {m.Sum("stream_sink_events_delivered_total")}, spool depth {m.Sum("stream_sink_spool_depth")})");
            return m;
        }

        // The disk fills: the spool fails to write, the sink holds events.
        var full = await run.WaitUntilAsync(async () => (await ScrapeAsync()).Sum("stream_sink_spool_write_failures_total") > 0, TimeSpan.FromSeconds(60),
            "the spool's disk to fill", pollMs: 500);
        var atFull = await ScrapeAsync();
        var (readyStatus, spoolCheck) = (HttpStatusCode.OK, "");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(35))
        {
            await Task.Delay(1000);
            await ScrapeAsync();
            (readyStatus, spoolCheck) = await CheckAsync(run, "spool");
        }

        var beforeHeal = await ScrapeAsync();
        var acceptedWhileFull = beforeHeal.Sum("stream_sink_events_accepted_total") - atFull.Sum("stream_sink_events_accepted_total");
        var droppedWhileFull = beforeHeal.Sum("stream_ingest_dropped_total") - atFull.Sum("stream_ingest_dropped_total");
        var diskLogLines = run.StdoutLines.Count(l => l.Contains("[5012]", StringComparison.Ordinal));
        var ioLines = run.StdoutLines.Count(l => l.Contains("I/O failed", StringComparison.Ordinal));

        // Space returns (the broker answers and takes the backlog; settled segments go): delivery goes on by itself.
        await kafka.ResumeAsync();
        var recovered = await run.WaitUntilAsync(async () =>
        {
            var m = await ScrapeAsync();
            return m.Sum("stream_sink_spool_depth") == 0 && m.Sum("stream_sink_events_delivered_total") > beforeHeal.Sum("stream_sink_events_accepted_total") &&
                (await CheckAsync(run, "spool")).Description.StartsWith("Healthy", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(90), "the spool to drain and take events again", pollMs: 500);
        var afterHeal = await ScrapeAsync();
        var filesAfter = Directory.GetFiles(disk.Path, "*.spool");
        var bytesAfter = filesAfter.Sum(f => new FileInfo(f).Length);

        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var (acknowledged, refused, left) = run.SinkFinished();
        var consumed = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, "stream.events", acknowledged, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(60));
        var distinct = consumed.Select(c => c.Event.Id).Distinct().Count();

        output.WriteLine(FormattableString.Invariant(
            $"RESULT spool-disk-full: 64 KiB tmpfs; disk full after {full.TotalSeconds:0.0} s; over the next 35 s {acceptedWhileFull} events accepted, {droppedWhileFull} frames dropped oldest at ingest, {beforeHeal.Sum("stream_sink_spool_write_failures_total")} failed writes, {diskLogLines} disk log lines, {ioLines} 'I/O failed' lines; /readyz {(int)readyStatus} spool: {spoolCheck}; recovered {recovered.TotalSeconds:0.0} s after the broker answered, {filesAfter.Length} segment(s) of {bytesAfter} bytes left; {scrapes} scrapes, 0 unaccounted at each; {acknowledged} acknowledged, {refused} refused, {left} left, {afterHeal.Sum("stream_sink_events_lost_total")} lost; consumer {consumed.Count} records, {distinct} distinct"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyStatus);
        Assert.StartsWith("Unhealthy", spoolCheck, StringComparison.Ordinal);
        Assert.Contains("No space left on device", spoolCheck, StringComparison.Ordinal);
        Assert.Contains(disk.Path, spoolCheck, StringComparison.Ordinal);
        Assert.True(diskLogLines is >= 1 and <= 3, $"{diskLogLines} disk-full log lines in ~40 s (once every 30 s expected)");
        Assert.Equal(0, ioLines);
        Assert.True(droppedWhileFull > 0, "the sink did not hold events back: no frame dropped at ingest while the disk was full");
        Assert.True(bytesAfter < 16 * 1024, $"settled segments not reclaimed: {filesAfter.Length} files, {bytesAfter} bytes");
        Assert.Equal(0, afterHeal.Sum("stream_sink_events_lost_total"));
        Assert.Equal(0, left);
        Assert.Equal(0, refused);
        Assert.Equal(acknowledged, distinct);
        Assert.True(acknowledged >= afterHeal.Sum("stream_sink_events_accepted_total"), $"accepted {afterHeal.Sum("stream_sink_events_accepted_total")} but only {acknowledged} acknowledged");
    }

    [Fact]
    public async Task A_read_only_spool_directory_at_start_is_one_line_and_exit_2()
    {
        await using var disk = await TmpfsMount.CreateAsync("64k", readOnly: true);
        var (code, stderr, _) = await StreamProcess.RunToExitAsync(StreamProcess.Config(StreamProcess.FileCamera("cam-1", maxFps: 5)),
            ["Sink:Spool:Directory=" + disk.Path]);
        output.WriteLine($"RESULT spool-read-only: exit {code}; stderr: {string.Join(" | ", stderr)}");
        Assert.Equal(2, code);
        var line = Assert.Single(stderr);
        Assert.StartsWith("stream: config error: Sink:Spool:Directory", line, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", line, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, string Description)> CheckAsync(StreamProcess run, string name)
    {
        using var response = await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/readyz"));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var check = json.RootElement.GetProperty("checks").EnumerateArray().First(c => c.GetProperty("name").GetString() == name);
        return (response.StatusCode, check.GetProperty("status").GetString() + ": " + check.GetProperty("description").GetString());
    }
}
