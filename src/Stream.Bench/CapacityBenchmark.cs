using System.Diagnostics;
using System.Globalization;
using Streaming.Hosting;
using Streaming.Core;

namespace Streaming.Bench;

/// <summary>What <c>stream bench capacity</c> searches over.</summary>
public sealed record CapacityOptions
{
    public required string Source { get; init; }

    /// <summary>Frames per second each camera delivers (its MaxFps, paced like a live camera).</summary>
    public double Fps { get; init; } = 5;

    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(5);

    public int MaxCameras { get; init; } = 64;

    /// <summary>Drops (ingest drop-oldest plus stale drops) allowed, as a fraction of the frames decoded.</summary>
    public double MaxDropFraction { get; init; } = 0.01;

    public TimeSpan MaxAckP99 { get; init; } = TimeSpan.FromSeconds(1);

    public IReadOnlyDictionary<string, string?> Overrides { get; init; } = new Dictionary<string, string?>();
}

/// <summary>One camera count tried.</summary>
public sealed record CapacityRow(int Cameras, double OfferedFps, double AchievedFps, long Decoded, long Dropped, long StaleDropped,
    double? AckP50, double? AckP99, double CpuPercent, double InferenceCallsPerSecond, double InferredFps, bool LatencyAtSink = false)
{
    public double DropFraction => Decoded > 0 ? (double)Dropped / Decoded : 0;

    /// <summary>Why this count does not hold, or null when it does.</summary>
    public string? Failure(CapacityOptions o) =>
        Decoded == 0 ? "no frame decoded"
        : DropFraction > o.MaxDropFraction ? string.Create(CultureInfo.InvariantCulture, $"drops {DropFraction:P1} > {o.MaxDropFraction:P0}")
        : AckP99 is null ? "no event acknowledged and no frame reached the sink"
        : AckP99 > o.MaxAckP99.TotalMilliseconds ? string.Create(CultureInfo.InvariantCulture, $"p99 capture->{(LatencyAtSink ? "sink" : "ack")} {AckP99:F0} ms > {o.MaxAckP99.TotalMilliseconds:F0} ms")
        : StaleDropped > 0 ? string.Create(CultureInfo.InvariantCulture, $"{StaleDropped} frames waited longer than Detect:StalenessMs")
        : null;
}

public sealed record CapacityResult(CapacityOptions Options, string Load, IReadOnlyList<CapacityRow> Rows, int Capacity)
{
    /// <summary>The row of the largest count that held (null when none did).</summary>
    public CapacityRow? AtLimit => Rows.FirstOrDefault(r => r.Cameras == Capacity && Capacity > 0);
}

/// <summary>
/// <c>stream bench capacity</c>: how many live cameras one process holds. Each try runs N cameras that play the clip
/// in a loop, paced as live cameras and capped at F frames/s, through the whole pipeline (Kafka mock, private Redis, as
/// <c>bench e2e</c>). Camera i starts at offset i/N of the clip (a copy rotated at the keyframe nearest that point, made
/// once with <c>ffmpeg -c copy</c>), the way independent cameras do not all see motion at the same moment. A count holds
/// when, over <see cref="CapacityOptions.Hold"/> after a warm-up, drops are at most 1 %, the p99 capture-to-Kafka-ack
/// latency is at most 1 s, and no frame waited longer than Detect:StalenessMs. The search doubles N until a count fails,
/// then bisects between the last count that held and the first that failed.
/// </summary>
public static class CapacityBenchmark
{
    public static async Task<CapacityResult> RunAsync(CapacityOptions options, TextWriter rows, TextWriter? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rows);
        if (!File.Exists(options.Source))
        {
            throw new FileNotFoundException($"{options.Source} not found: pass --source with an existing video file (scripts/setup.sh puts samples/ in place).", options.Source);
        }

        if (options.Fps <= 0)
        {
            throw new ArgumentException("--fps must be above 0 (frames per second each camera delivers).");
        }

        var load = MachineInfo.LoadAverage();
        var work = Directory.CreateTempSubdirectory("stream-capacity-");
        try
        {
            var duration = await ProbeDurationAsync(options.Source, cancellationToken).ConfigureAwait(false);
            var tried = new SortedDictionary<int, CapacityRow>();
            rows.WriteLine("cameras  offered fps  achieved fps  drops   p50 ms  p99 ms  CPU %  inference calls/s  inferred fps  holds");
            async Task<bool> Holds(int n)
            {
                if (!tried.TryGetValue(n, out var row))
                {
                    var sources = await OffsetCopiesAsync(options.Source, duration, n, work.FullName, cancellationToken).ConfigureAwait(false);
                    row = await TryAsync(options, sources, progress, cancellationToken).ConfigureAwait(false);
                    tried[n] = row;
                    var failure = row.Failure(options);
                    rows.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{row.Cameras,7}  {row.OfferedFps,11:F1}  {row.AchievedFps,12:F1}  {row.DropFraction,5:P1}  {Percentiles.Format(row.AckP50),6}  {Percentiles.Format(row.AckP99) + (row.LatencyAtSink ? "*" : string.Empty),6}  {row.CpuPercent,5:F0}  {row.InferenceCallsPerSecond,17:F1}  {row.InferredFps,12:F1}  {(failure is null ? "yes" : "no: " + failure)}"));
                }

                return row.Failure(options) is null;
            }

            rows.WriteLine("(p50/p99: capture to Kafka ack of the events; * where no event was acknowledged in the window: capture to sink of every frame)");

            // Double until a count fails, then bisect between the last that held and the first that failed.
            var good = 0;
            var bad = options.MaxCameras + 1;
            for (var n = 1; n <= options.MaxCameras; n *= 2)
            {
                if (await Holds(n).ConfigureAwait(false))
                {
                    good = n;
                }
                else
                {
                    bad = n;
                    break;
                }
            }

            if (bad > options.MaxCameras && good < options.MaxCameras && await Holds(options.MaxCameras).ConfigureAwait(false))
            {
                good = options.MaxCameras;
            }

            while (bad - good > 1 && good > 0)
            {
                var mid = (good + bad) / 2;
                if (mid > options.MaxCameras)
                {
                    break;
                }

                if (await Holds(mid).ConfigureAwait(false))
                {
                    good = mid;
                }
                else
                {
                    bad = mid;
                }
            }

            return new CapacityResult(options, load, [.. tried.Values], good);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    public static void Print(TextWriter writer, CapacityResult result)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(result);
        writer.WriteLine($"load average: {result.Load} at the start, {MachineInfo.LoadAverage()} at the end; source {result.Options.Source}");
        writer.WriteLine(result.AtLimit is { } limit
            ? string.Create(CultureInfo.InvariantCulture, $"at the limit ({limit.Cameras} cameras): {limit.InferredFps:F1} frames/s inferred of {limit.AchievedFps:F1} frames/s through the pipeline ({limit.OfferedFps:F1} offered), CPU {limit.CpuPercent:F0} % of {Environment.ProcessorCount} cores")
            : "at the limit: no camera count held");
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"capacity: {result.Capacity} cameras at {result.Options.Fps:0.##} fps"));
    }

    private static async Task<CapacityRow> TryAsync(CapacityOptions options, IReadOnlyList<string> sources, TextWriter? progress, CancellationToken ct)
    {
        var settings = new BenchSettings
        {
            Source = sources[0],
            Sources = sources,
            Cameras = sources.Count,
            Pacing = FilePacing.Native,
            Loop = true,
            MaxFps = options.Fps,
            MaxBatch = 4,
            MaxWaitMs = 0,
            Overrides = options.Overrides,
        };
        progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trying {sources.Count} cameras at {options.Fps:0.##} fps..."));
        await using var harness = await PipelineHarness.StartAsync(settings, cancellationToken: ct).ConfigureAwait(false);
        await harness.RunForAsync(options.Warmup, ct).ConfigureAwait(false);
        harness.Metrics.ResetHistograms();
        var start = harness.Counts();
        var batchesBefore = BatchCount(harness);
        var inferredBefore = harness.Metrics.Total(InstrumentNames.DetectFrames);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        await harness.RunForAsync(options.Hold, ct).ConfigureAwait(false);
        var end = harness.Counts();
        var batches = BatchCount(harness) - batchesBefore;
        var inferred = harness.Metrics.Total(InstrumentNames.DetectFrames) - inferredBefore;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        // A scene where nothing is tracked in the window (small people the model misses, an empty room) sends no
        // event: its latency is then the frames' capture to sink, which the ack of an event would only add to.
        var ack = harness.Metrics.AllValues(InstrumentNames.SinkAckLatency);
        var atSink = ack.Count == 0;
        if (atSink)
        {
            ack = harness.Metrics.AllValues(PipelineHarness.SinkLatency);
        }
        await harness.StopAsync().ConfigureAwait(false);
        var seconds = (end.At - start.At).TotalSeconds;
        return new CapacityRow(
            sources.Count,
            sources.Count * options.Fps,
            (end.Sunk - start.Sunk) / seconds,
            end.Ingested - start.Ingested,
            end.Dropped - start.Dropped,
            end.StaleDropped - start.StaleDropped,
            Percentiles.Of(ack, 0.5),
            Percentiles.Of(ack, 0.99),
            100 * cpu.TotalSeconds / seconds / Environment.ProcessorCount,
            batches / seconds,
            inferred / seconds,
            atSink);
    }

    /// <summary>Inference calls so far: a histogram's total is its number of observations, one per batch Detect ran.</summary>
    private static double BatchCount(PipelineHarness harness) => harness.Metrics.Total(InstrumentNames.DetectBatchSize);

    private static async Task<double> ProbeDurationAsync(string path, CancellationToken ct)
    {
        var text = (await ToolProcess.RunAsync("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path], ct).ConfigureAwait(false)).Stdout;
        return double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? seconds
            : throw new InvalidOperationException($"ffprobe could not read the duration of {path}: pass a video file ffmpeg can read.");
    }

    /// <summary>Camera i's copy of the clip starts at i/n of its length and wraps round (stream copy: cut at keyframes).</summary>
    private static async Task<IReadOnlyList<string>> OffsetCopiesAsync(string source, double duration, int n, string directory, CancellationToken ct)
    {
        var full = Path.GetFullPath(source);
        var copies = new List<string>(n);
        for (var i = 0; i < n; i++)
        {
            var offset = duration * i / n;
            if (offset < 0.5)
            {
                copies.Add(full);
                continue;
            }

            var name = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"offset-{offset:F2}{Path.GetExtension(source)}"));
            if (!File.Exists(name))
            {
                var list = Path.Combine(directory, "concat.txt");
                var quoted = full.Replace("'", "'\\''", StringComparison.Ordinal);
                await File.WriteAllTextAsync(list, string.Create(CultureInfo.InvariantCulture,
                    $"file '{quoted}'\ninpoint {offset:F3}\nfile '{quoted}'\noutpoint {offset:F3}\n"), ct).ConfigureAwait(false);
                await ToolProcess.RunAsync("ffmpeg", ["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", list, "-c", "copy", "-an", name], ct).ConfigureAwait(false);
            }

            copies.Add(name);
        }

        return copies;
    }
}
