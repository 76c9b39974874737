using System.Globalization;
using Microsoft.Extensions.Configuration;
using Streaming.Core;

namespace Streaming.Bench;

/// <summary>Figures of one <c>stream bench e2e</c> run.</summary>
public sealed record E2eResult(
    string LoadBefore,
    string LoadAfter,
    int Cameras,
    long Ingested,
    long Sunk,
    string SinkCounter,
    double Seconds,
    long Events,
    double? SinkP50, double? SinkP90, double? SinkP99,
    double? AckP50, double? AckP90, double? AckP99, int AckSamples,
    double CpuSeconds,
    Ceiling Serial,
    MachineLimit Ceiling,
    WarmRun Warm)
{
    /// <summary>Frames/s over the whole run, start-up (JIT) included.</summary>
    public double Fps => Seconds > 0 ? Sunk / Seconds : 0;

    /// <summary>Share of the machine's cores the process used while the pipeline ran, in percent.</summary>
    public double CpuPercent => Seconds > 0 ? 100 * CpuSeconds / (Seconds * Environment.ProcessorCount) : 0;

    /// <summary>Frames per CPU-second of the process while the pipeline ran (what a frame costs, whatever share of a loaded machine the process got).</summary>
    public double FramesPerCpuSecond => CpuSeconds > 0 ? Sunk / CpuSeconds : 0;

    /// <summary>The warm pipeline's frames per CPU-second over the ceiling's: the cost of the plumbing, read on a loaded machine too.</summary>
    public double CpuRatio => Ceiling.FramesPerCpuSecond > 0 ? Warm.FramesPerCpuSecond / Ceiling.FramesPerCpuSecond : 0;

    /// <summary>
    /// The warm pipeline's frames/s over the machine's limit for the same work at the same parallelism (&lt;= 1 but for
    /// noise); both leave out their warm-up by the same rule.
    /// </summary>
    public double Ratio => Ceiling.Fps > 0 ? Warm.Fps / Ceiling.Fps : 0;

    /// <summary>Pipeline frames/s over the serial sum of the stage times (the former ceiling: above 1 wherever work overlaps).</summary>
    public double SerialRatio => Serial.Fps > 0 ? Fps / Serial.Fps : 0;
}

/// <summary>The pipeline after its warm-up (the ceiling's rule: 1 s and 8 frames a camera): frames, seconds and CPU-seconds to the last frame.</summary>
public sealed record WarmRun(long Frames, double Seconds, double CpuSeconds)
{
    public double Fps => Seconds > 0 ? Frames / Seconds : 0;

    public double FramesPerCpuSecond => CpuSeconds > 0 ? Frames / CpuSeconds : 0;
}

/// <summary>
/// <c>stream bench e2e</c>: N copies of a file at full speed (Pacing=Full, no loop: nothing is dropped) through the
/// whole pipeline, until every decoded frame of every camera reached the sink and every camera stopped; then a
/// graceful stop (Kafka flush). Around it, half before and half after, on the same file with the same options in the
/// same process: the ceiling, the machine's limit for the same work at the same parallelism (<see cref="MachineCeiling"/>),
/// and the serial sum of the stage times (<see cref="CeilingMeasurement"/>, the former ceiling, kept for comparison).
/// </summary>
public static class E2eBenchmark
{
    public static async Task<E2eResult> RunAsync(BenchSettings settings, TextWriter? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!File.Exists(settings.Source))
        {
            throw new FileNotFoundException($"{settings.Source} not found: pass --source with an existing video file (scripts/setup.sh puts samples/ in place).", settings.Source);
        }

        var loadBefore = MachineInfo.LoadAverage();
        var window = settings.CeilingWindow / 2;
        var sources = settings.Sources ?? Enumerable.Repeat(settings.Source, settings.Cameras).ToList();
        settings = settings with { Pacing = FilePacing.Full, Loop = false, MaxFps = 0 };

        // The ceiling is measured half before and half after the pipeline run, so that both bracket the same machine load.
        var ceilingConfig = new ConfigurationBuilder().AddInMemoryCollection(PipelineHarness.BuildConfiguration(settings, string.Empty, string.Empty)).Build();
        var keep = Math.Max(24, settings.MaxBatch * 4);
        progress?.WriteLine("measuring the ceiling (1/2)...");
        var before = CeilingMeasurement.Measure(settings.Source, ceilingConfig, keep, detectPasses: 2, cancellationToken);
        var limitBefore = await MachineCeiling.MeasureAsync(sources, ceilingConfig, CeilingWarmup, window, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        await using var harness = await PipelineHarness.StartAsync(settings, cancellationToken: cancellationToken).ConfigureAwait(false);
        progress?.WriteLine($"pipeline started: {settings.Cameras} x {settings.Source}, MaxBatch {settings.MaxBatch}, MaxWaitMs {settings.MaxWaitMs}, model {settings.ResolvedModelPath()}");
        // A pipeline that stalls fails the run; a slow one (many cameras on a loaded machine) gets 30 s per camera.
        var stall = TimeSpan.FromSeconds(Math.Max(60, 30 * settings.Cameras));
        var poll = TimeSpan.FromMilliseconds(10);
        var started = harness.Elapsed;
        var cpuBefore = CpuClock.Self();

        // The ceiling's rule for the pipeline too: its first second, and until 8 frames a camera reached the sink, is
        // warm-up (the JIT compiling Track, Sink and the channels, which the ceiling's loops do not run), not measured.
        var warmFrames = 8L * settings.Cameras;
        await harness.WaitUntilAsync(() => (harness.Elapsed - started >= CeilingWarmup && harness.Counts().Sunk >= warmFrames) || harness.AllFramesThrough(),
            poll, stall, cancellationToken).ConfigureAwait(false);
        var warmAt = harness.Elapsed;
        var warmSunk = harness.Counts().Sunk;
        var warmCpu = CpuClock.Self();
        var seconds = (await harness.WaitUntilAsync(harness.AllFramesThrough, poll, stall, cancellationToken).ConfigureAwait(false)).TotalSeconds;
        var cpuEnd = CpuClock.Self();
        var cpuSeconds = (cpuEnd - cpuBefore).TotalSeconds;
        var counts = harness.Counts();
        var warm = new WarmRun(counts.Sunk - warmSunk, seconds - warmAt.TotalSeconds, (cpuEnd - warmCpu).TotalSeconds);
        var sinkCounter = harness.SinkCounter;
        await harness.StopAsync().ConfigureAwait(false);

        var metrics = harness.Metrics;
        var sink = metrics.AllValues(PipelineHarness.SinkLatency);
        var ack = metrics.AllValues(Hosting.InstrumentNames.SinkAckLatency);
        var events = (long)metrics.Total(Hosting.InstrumentNames.SinkEventsProduced);

        progress?.WriteLine($"pipeline done in {seconds:F2} s; measuring the ceiling (2/2)...");
        var limitAfter = await MachineCeiling.MeasureAsync(sources, harness.Configuration, CeilingWarmup, window, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        var after = CeilingMeasurement.Measure(settings.Source, harness.Configuration, keep, detectPasses: 2, cancellationToken);
        var serial = Ceiling.Combine(before, after);
        return new E2eResult(loadBefore, MachineInfo.LoadAverage(), settings.Cameras, counts.Ingested, counts.Sunk, sinkCounter, seconds, events,
            Percentiles.Of(sink, 0.5), Percentiles.Of(sink, 0.9), Percentiles.Of(sink, 0.99),
            Percentiles.Of(ack, 0.5), Percentiles.Of(ack, 0.9), Percentiles.Of(ack, 0.99), ack.Count, cpuSeconds, serial,
            MachineLimit.Combine(limitBefore, limitAfter), warm);
    }

    private static readonly TimeSpan CeilingWarmup = TimeSpan.FromSeconds(1);

    public static void Print(TextWriter writer, E2eResult r)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(r);
        var inv = CultureInfo.InvariantCulture;
        var c = r.Serial;
        writer.WriteLine($"load average: {r.LoadBefore} before, {r.LoadAfter} after");
        writer.WriteLine(string.Create(inv, $"pipeline: {r.Sunk} of {r.Ingested} frames from {r.Cameras} cameras reached the sink in {r.Seconds:F2} s = {r.Fps:F1} frames/s (counted by {r.SinkCounter}); {r.Events} events produced; CPU {r.CpuPercent:F0} % of {Environment.ProcessorCount} cores, {r.FramesPerCpuSecond:F1} frames per CPU-second"));
        writer.WriteLine(string.Create(inv, $"pipeline after its warm-up (the ceiling's rule: 1 s and 8 frames a camera): {r.Warm.Frames} frames in {r.Warm.Seconds:F2} s = {r.Warm.Fps:F1} frames/s, {r.Warm.FramesPerCpuSecond:F1} frames per CPU-second"));
        writer.WriteLine(r.SinkP50 is null
            ? "latency capture->sink: n/a (the sink does not record stream.pipeline.latency in this build)"
            : $"latency capture->sink ms: p50 {Percentiles.Format(r.SinkP50)}  p90 {Percentiles.Format(r.SinkP90)}  p99 {Percentiles.Format(r.SinkP99)}");
        writer.WriteLine(r.AckSamples == 0
            ? "latency capture->Kafka ack: n/a (no frame event was acknowledged: nothing was tracked in the clip; camera status events carry no capture time)"
            : string.Create(inv, $"latency capture->Kafka ack ms: p50 {Percentiles.Format(r.AckP50)}  p90 {Percentiles.Format(r.AckP90)}  p99 {Percentiles.Format(r.AckP99)}  ({r.AckSamples} events)"));
        writer.WriteLine(string.Create(inv, $"serial sum of the stage times (the former ceiling; same frames/options, {c.Model}, batch {c.Batch}, decoder {c.Decoder}): decode {c.DecodeMs:F2} + preprocess {c.PreprocessMs:F2} + inference {c.InferenceMs:F2} + postprocess {c.PostprocessMs:F2} = {c.MsPerFrame:F2} ms/frame = {c.Fps:F1} frames/s ({c.Frames} frames decoded, {c.DetectFrames} detected); pipeline/serial {r.SerialRatio:F3}"));
        writer.WriteLine($"ceiling (the machine's limit for the same work at the same parallelism, all loops at once): {r.Ceiling.Describe()}");
        writer.WriteLine(string.Create(inv, $"frames per CPU-second, pipeline/ceiling: {r.CpuRatio:F3} (what the plumbing costs, comparable under outside load)"));
        writer.WriteLine(string.Create(inv, $"ratio pipeline/ceiling: {r.Ratio:F3}"));
    }
}
