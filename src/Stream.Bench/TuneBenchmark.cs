using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Streaming.DevServices;
using Streaming.Hosting;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Bench;

public sealed record TuneOptions
{
    public required string Source { get; init; }

    public int Cameras { get; init; } = 2;

    public IReadOnlyList<int> Batches { get; init; } = [1, 2, 4];

    public IReadOnlyList<int> Waits { get; init; } = [0, 10, 40];

    public double Seconds { get; init; } = 8;

    public double WarmupSeconds { get; init; } = 3;

    /// <summary>Offered load over all cameras (frames/s); null: half of the serial ceiling at batch 1.</summary>
    public double? LoadFps { get; init; }

    public string OutputDirectory { get; init; } = "bench-out";

    public IReadOnlyDictionary<string, string?> Overrides { get; init; } = new Dictionary<string, string?>();
}

/// <summary>Figures of one (MaxBatch, MaxWaitMs) point of the sweep, over its measured window.</summary>
public sealed record TunePoint(
    int Batch, int WaitMs, string Model, double OfferedFps, double Fps, long Dropped,
    double? SinkP50, double? SinkP99, double? AckP50, double? AckP99, int AckSamples, double? InferenceMs, double? MeanBatch,
    IReadOnlyList<(string Stage, double? P50, double? P99)> Stages)
{
    /// <summary>The stages of <c>stream.pipeline.stage_latency</c>, capture to sink.</summary>
    public static readonly string[] StageNames = ["decode", "queue", "inference", "track", "sink"];

    /// <summary>p50 capture-to-ack within inference + max wait + 15 ms (null when no event was acknowledged).</summary>
    public bool? P50Goal => AckP50 is { } p50 && InferenceMs is { } inf ? p50 <= inf + WaitMs + 15 : null;

    /// <summary>p99 capture-to-ack at most twice p50.</summary>
    public bool? P99Goal => AckP50 is { } p50 && AckP99 is { } p99 ? p99 <= 2 * p50 : null;
}

public sealed record TuneResult(double LoadFps, double PerCameraFps, double? CeilingFps, IReadOnlyList<TunePoint> Points, string CsvPath, string PngPath);

/// <summary>
/// <c>stream bench tune</c>: a fixed offered load (N file cameras paced like live cameras at the file's native rate,
/// capped at load/N frames/s each, looping) and, for every MaxBatch x MaxWaitMs point, a fresh pipeline that runs a
/// warm-up and then a measured window: achieved throughput, frames dropped (oldest-first at ingest, stale at detect),
/// capture-to-sink and capture-to-Kafka-ack percentiles, inference time per batch and mean batch size. Tracks emit a
/// TrackUpdated event every 0.5 s (Track:UpdateIntervalSeconds) so that Kafka acknowledgements are sampled all the
/// time, not only when objects appear. Writes tune.csv and tune.png (ScottPlot).
/// </summary>
public static class TuneBenchmark
{
    public static async Task<TuneResult> RunAsync(TuneOptions options, TextWriter? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(options.Source))
        {
            throw new FileNotFoundException($"{options.Source} not found: pass --source with an existing video file (scripts/setup.sh puts samples/ in place).", options.Source);
        }

        var nativeFps = NativeFps(options.Source);
        double? ceilingFps = null;
        var load = options.LoadFps ?? 0;
        if (options.LoadFps is null)
        {
            progress?.WriteLine("measuring the serial ceiling at batch 1 to set the offered load to half of it...");
            var probe = new BenchSettings { Source = options.Source, Cameras = options.Cameras, MaxBatch = 1, Overrides = options.Overrides };
            var config = new ConfigurationBuilder().AddInMemoryCollection(PipelineHarness.BuildConfiguration(probe, "127.0.0.1:0", Path.GetTempPath())).Build();
            var ceiling = CeilingMeasurement.Measure(options.Source, config, keepFrames: 16, detectPasses: 3, cancellationToken);
            ceilingFps = ceiling.Fps;
            load = ceiling.Fps / 2;
        }

        var perCamera = load / options.Cameras;
        if (nativeFps > 0 && perCamera > nativeFps)
        {
            progress?.WriteLine($"warning: {load:F1} frames/s over {options.Cameras} cameras needs {perCamera:F1} per camera, above the file's {nativeFps:F1}: offering {nativeFps * options.Cameras:F1} (add --cameras)");
            perCamera = nativeFps;
        }

        progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"offered load: {options.Cameras} cameras x {perCamera:F2} frames/s = {perCamera * options.Cameras:F1} frames/s"));
        var points = new List<TunePoint>();
        await using (var redis = await RedisServerProcess.StartAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            foreach (var batch in options.Batches)
            {
                foreach (var wait in options.Waits)
                {
                    var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase) { ["Track:UpdateIntervalSeconds"] = "0.5" };
                    foreach (var (k, v) in options.Overrides)
                    {
                        overrides[k] = v;
                    }

                    var settings = new BenchSettings
                    {
                        Source = options.Source, Cameras = options.Cameras, Pacing = FilePacing.Native, Loop = true, MaxFps = perCamera,
                        MaxBatch = Math.Max(1, batch), MaxWaitMs = wait, Overrides = overrides,
                    };
                    var point = await MeasurePointAsync(settings, redis, options, cancellationToken).ConfigureAwait(false);
                    progress?.WriteLine(Row(point));
                    points.Add(point);
                }
            }
        }

        Directory.CreateDirectory(options.OutputDirectory);
        var csv = Path.GetFullPath(Path.Combine(options.OutputDirectory, "tune.csv"));
        var png = Path.GetFullPath(Path.Combine(options.OutputDirectory, "tune.png"));
        await File.WriteAllTextAsync(csv, Csv(points), cancellationToken).ConfigureAwait(false);
        TunePlot.Save(png, points, perCamera * options.Cameras);
        return new TuneResult(perCamera * options.Cameras, perCamera, ceilingFps, points, csv, png);
    }

    private static async Task<TunePoint> MeasurePointAsync(BenchSettings settings, RedisServerProcess redis, TuneOptions options, CancellationToken ct)
    {
        await using var harness = await PipelineHarness.StartAsync(settings, redis, ct).ConfigureAwait(false);
        await harness.RunForAsync(TimeSpan.FromSeconds(options.WarmupSeconds), ct).ConfigureAwait(false);
        var metrics = harness.Metrics;
        metrics.ResetHistograms();
        var start = harness.Counts();
        await harness.RunForAsync(TimeSpan.FromSeconds(options.Seconds), ct).ConfigureAwait(false);
        var end = harness.Counts();
        var sink = metrics.AllValues(PipelineHarness.SinkLatency);
        var ack = metrics.AllValues(InstrumentNames.SinkAckLatency);
        var inference = metrics.AllValues(InstrumentNames.DetectInferenceMs);
        var batchSizes = metrics.AllValues("stream.detect.batch_size");
        var seconds = (end.At - start.At).TotalSeconds;
        return new TunePoint(settings.MaxBatch, settings.MaxWaitMs, Path.GetFileName(settings.ResolvedModelPath()),
            (end.Ingested - start.Ingested) / seconds, (end.Sunk - start.Sunk) / seconds, end.Dropped - start.Dropped,
            Percentiles.Of(sink, 0.5), Percentiles.Of(sink, 0.99), Percentiles.Of(ack, 0.5), Percentiles.Of(ack, 0.99), ack.Count,
            inference.Count > 0 ? inference.Average() : null, batchSizes.Count > 0 ? batchSizes.Average() : null,
            [.. TunePoint.StageNames.Select(stage =>
            {
                var values = metrics.AllValues(FrameLatency.StageLatency, "stage=" + stage);
                return (stage, Percentiles.Of(values, 0.5), Percentiles.Of(values, 0.99));
            })]);
    }

    private static double NativeFps(string source)
    {
        using var capture = FrameSources.Create(new CameraOptions { Id = "probe", Url = source }, new IngestOptions { FileDecoder = FileDecoder.OpenCv });
        capture.Open(CancellationToken.None);
        return capture.NominalFps;
    }

    private static string F(double? v) => v is { } x ? x.ToString("F1", CultureInfo.InvariantCulture) : "";

    private static string Goal(bool? met) => met switch { true => "yes", false => "NO", null => "n/a" };

    internal static string Csv(IReadOnlyList<TunePoint> points)
    {
        var sb = new StringBuilder("max_batch,max_wait_ms,model,offered_fps,throughput_fps,dropped,sink_p50_ms,sink_p99_ms,ack_p50_ms,ack_p99_ms,ack_samples,inference_ms_per_batch,mean_batch,p50_goal,p99_goal," +
            string.Join(',', TunePoint.StageNames.Select(n => $"{n}_p50_ms,{n}_p99_ms")) + "\n");
        foreach (var p in points)
        {
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Batch},{p.WaitMs},{p.Model},{p.OfferedFps:F2},{p.Fps:F2},{p.Dropped},{F(p.SinkP50)},{F(p.SinkP99)},{F(p.AckP50)},{F(p.AckP99)},{p.AckSamples},{F(p.InferenceMs)},{F(p.MeanBatch)},{Goal(p.P50Goal)},{Goal(p.P99Goal)},{string.Join(',', p.Stages.Select(x => $"{F(x.P50)},{F(x.P99)}"))}"));
        }

        return sb.ToString();
    }

    private static string Row(TunePoint p) => string.Create(CultureInfo.InvariantCulture,
        $"batch {p.Batch,2} wait {p.WaitMs,3} ms | offered {p.OfferedFps,6:F1} fps | out {p.Fps,6:F1} fps | dropped {p.Dropped,5} | sink p50/p99 {F(p.SinkP50),6}/{F(p.SinkP99),6} ms | ack p50/p99 {F(p.AckP50),6}/{F(p.AckP99),6} ms (n={p.AckSamples}) | inference {F(p.InferenceMs),5} ms x batch {F(p.MeanBatch),3} | goals p50 {Goal(p.P50Goal)} p99 {Goal(p.P99Goal)}")
        + Environment.NewLine + "      stage p50/p99 ms: " + string.Join("  ", p.Stages.Select(x => x.Stage + " " + F(x.P50) + "/" + F(x.P99)));

    public static void Print(TextWriter writer, TuneResult result)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(result);
        if (result.CeilingFps is { } ceiling)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"serial ceiling at batch 1: {ceiling:F1} frames/s; offered load: {result.LoadFps:F1} frames/s ({result.PerCameraFps:F2} per camera)"));
        }
        else
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"offered load: {result.LoadFps:F1} frames/s ({result.PerCameraFps:F2} per camera)"));
        }

        foreach (var p in result.Points)
        {
            writer.WriteLine(Row(p));
        }

        writer.WriteLine($"load average at the end: {MachineInfo.LoadAverage()}");
        var met = result.Points.Count(p => p.P50Goal == true && p.P99Goal == true);
        writer.WriteLine($"csv: {result.CsvPath}");
        writer.WriteLine($"plot: {result.PngPath}");
        writer.WriteLine($"points meeting both latency goals (p50 ack <= inference + wait + 15 ms, p99 <= 2 x p50): {met} of {result.Points.Count}");
    }
}
