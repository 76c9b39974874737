using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Streaming.DevServices;
using Streaming.Hosting;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Sink;

namespace Streaming.Bench;

/// <summary>What a benchmark runs: N copies of one file through the whole pipeline, plus any further config keys.</summary>
public sealed record BenchSettings
{
    public required string Source { get; init; }

    /// <summary>One file per camera (camera i plays <c>Sources[i]</c>); null: every camera plays <see cref="Source"/>.</summary>
    public IReadOnlyList<string>? Sources { get; init; }

    public int Cameras { get; init; } = 1;

    /// <summary>Seconds <c>bench e2e</c> measures the machine's limit (<see cref="MachineCeiling"/>), half before and half after the pipeline run.</summary>
    public TimeSpan CeilingWindow { get; init; } = TimeSpan.FromSeconds(6);

    public FilePacing Pacing { get; init; } = FilePacing.Full;

    public bool Loop { get; init; }

    /// <summary>Per-camera frame cap (0: none).</summary>
    public double MaxFps { get; init; }

    public int MaxBatch { get; init; } = 4;

    public int MaxWaitMs { get; init; } = 10;

    /// <summary>Model file; null picks models/yolox_nano_dynamic.onnx for batches above 1 when present, else models/yolox_nano.onnx.</summary>
    public string? ModelPath { get; init; }

    /// <summary>Further configuration keys (e.g. <c>Detect:IntraOpThreads=1</c>), applied last.</summary>
    public IReadOnlyDictionary<string, string?> Overrides { get; init; } = new Dictionary<string, string?>();

    public string ResolvedModelPath()
    {
        if (!string.IsNullOrEmpty(ModelPath))
        {
            return ModelPath;
        }

        const string dynamicModel = "models/yolox_nano_dynamic.onnx";
        return MaxBatch > 1 && File.Exists(dynamicModel) ? dynamicModel : "models/yolox_nano.onnx";
    }
}

/// <summary>Counters of the running pipeline at one moment (all cameras).</summary>
public readonly record struct PipelineCounts(long Ingested, long IngestDropped, long StaleDropped, long Sunk, long EventsProduced, TimeSpan At)
{
    public long Dropped => IngestDropped + StaleDropped;
}

/// <summary>
/// The one harness the benchmarks share: starts a private Redis, builds the real pipeline host
/// (<see cref="PipelineHost.Build"/>) from an in-memory configuration (in-process Kafka mock cluster, Redis above,
/// HTTP and the status output off, a temporary spool directory), starts it, reads the figures every stage publishes
/// through <see cref="LiveMetrics"/>, waits for conditions, stops it gracefully (drain and Kafka flush) and cleans up.
/// </summary>
public sealed class PipelineHarness : IAsyncDisposable
{
    /// <summary>Frames the sink took: one <c>stream.pipeline.latency</c> observation each (see <see cref="FrameLatency"/>).</summary>
    public const string SinkLatency = FrameLatency.TotalLatency;

    /// <summary>Frames tracked: the fallback count of frames reaching the sink when the sink records no per-frame latency.</summary>
    public const string TrackFrames = "stream.track.frames";

    private readonly WebApplication _app;
    private readonly RedisServerProcess? _ownedRedis;
    private readonly string _spool;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _stopped;

    private PipelineHarness(WebApplication app, LiveMetrics metrics, ICameraRegistry cameras, RedisServerProcess? ownedRedis, string spool,
        IConfigurationRoot configuration)
    {
        _app = app;
        Metrics = metrics;
        Cameras = cameras;
        _ownedRedis = ownedRedis;
        _spool = spool;
        Configuration = configuration;
    }

    public LiveMetrics Metrics { get; }

    public ICameraRegistry Cameras { get; }

    public IConfigurationRoot Configuration { get; }

    /// <summary>Time since the pipeline finished starting (all stages up, model loaded).</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>An override key starting with this applies to every camera of the run (e.g. <c>Cameras:*:SkipFrames=nonref</c>).</summary>
    public const string EveryCamera = "Cameras:*:";

    /// <summary>The in-memory configuration of a benchmark run: every key the stages read, as <c>stream run</c> would get them from a file.</summary>
    public static Dictionary<string, string?> BuildConfiguration(BenchSettings settings, string redisConfiguration, string spoolDirectory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var inv = CultureInfo.InvariantCulture;
        var config = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Detect:ModelPath"] = settings.ResolvedModelPath(),
            ["Detect:Provider"] = "auto",
            ["Detect:MaxBatch"] = settings.MaxBatch.ToString(inv),
            ["Detect:MaxWaitMs"] = settings.MaxWaitMs.ToString(inv),
            ["Sink:Kafka:BootstrapServers"] = "embedded",
            ["Sink:Redis:Configuration"] = redisConfiguration,
            ["Sink:Spool:Directory"] = spoolDirectory,
            ["Clips:Directory"] = ClipDirectory(spoolDirectory),
            ["Http:Enabled"] = "false",
            ["Status:Mode"] = "off",
            ["Host:ShutdownTimeoutSeconds"] = "60",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft"] = "Warning",
        };
        for (var i = 0; i < settings.Cameras; i++)
        {
            var prefix = string.Create(inv, $"Cameras:{i}:");
            config[prefix + "Id"] = string.Create(inv, $"bench-{i + 1}");
            config[prefix + "Url"] = settings.Sources is { } sources ? sources[i] : settings.Source;
            config[prefix + "Pacing"] = settings.Pacing.ToString();
            config[prefix + "Loop"] = settings.Loop ? "true" : "false";
            config[prefix + "MaxFps"] = settings.MaxFps.ToString(inv);
        }

        foreach (var (key, value) in settings.Overrides)
        {
            if (key.StartsWith(EveryCamera, StringComparison.OrdinalIgnoreCase))
            {
                for (var i = 0; i < settings.Cameras; i++)
                {
                    config[string.Create(inv, $"Cameras:{i}:{key[EveryCamera.Length..]}")] = value;
                }
            }
            else
            {
                config[key] = value;
            }
        }

        return config;
    }

    /// <summary>
    /// Starts the pipeline. Uses <paramref name="redis"/> when given (shared by several runs), else starts and later
    /// kills its own Redis. Throws <see cref="InvalidOperationException"/> with one line per configuration problem.
    /// </summary>
    public static async Task<PipelineHarness> StartAsync(BenchSettings settings, RedisServerProcess? redis = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!File.Exists(settings.Source))
        {
            throw new FileNotFoundException($"{settings.Source} not found: pass --source with an existing video file (scripts/setup.sh puts samples/ in place).", settings.Source);
        }

        var ownedRedis = redis is null ? await RedisServerProcess.StartAsync(cancellationToken: cancellationToken).ConfigureAwait(false) : null;
        var server = redis ?? ownedRedis!;
        var spool = Path.Combine(Path.GetTempPath(), "stream-bench-spool-" + Guid.NewGuid().ToString("N"));
        WebApplication? app = null;
        try
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(BuildConfiguration(settings, server.Configuration, spool))
                .Build();
            // The benchmark's figures go to stdout; the pipeline's own log lines go to stderr.
            app = PipelineHost.Build(configuration, services =>
                services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
            var failures = PipelineHost.ValidateAll(app.Services);
            if (failures.Count > 0)
            {
                throw new InvalidOperationException(string.Join(Environment.NewLine, failures));
            }

            // The listener must exist before the first frame so that no counter increment is missed.
            var metrics = app.Services.GetRequiredService<LiveMetrics>();
            var cameras = app.Services.GetRequiredService<ICameraRegistry>();
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new PipelineHarness(app, metrics, cameras, ownedRedis, spool, configuration);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            if (ownedRedis is not null)
            {
                await ownedRedis.DisposeAsync().ConfigureAwait(false);
            }

            DeleteRunDirectories(spool);
            throw;
        }
    }

    /// <summary>The instrument counting frames that reached the sink: the per-frame latency when the sink records it, else frames tracked.</summary>
    public string SinkCounter => Metrics.Total(SinkLatency) > 0 ? SinkLatency : TrackFrames;

    /// <summary>
    /// The pipeline's counters now. Per-camera instruments are summed over this pipeline's own cameras only, so that
    /// another pipeline in the same process (tests) cannot blur the figures.
    /// </summary>
    public PipelineCounts Counts()
    {
        Metrics.Refresh();
        var snapshot = Cameras.Snapshot();
        var sinkCounter = SinkCounter;
        return new PipelineCounts(
            snapshot.Sum(c => c.FramesDecoded),
            snapshot.Sum(c => c.FramesDropped),
            (long)snapshot.Sum(c => Metrics.Total(InstrumentNames.DetectStaleDropped, c.Id)),
            (long)snapshot.Sum(c => Metrics.Total(sinkCounter, c.Id)),
            (long)Metrics.Total(InstrumentNames.SinkEventsProduced),
            Elapsed);
    }

    /// <summary>True when every camera stopped (its file ended) and every decoded frame reached the sink.</summary>
    public bool AllFramesThrough()
    {
        var snapshot = Cameras.Snapshot();
        if (snapshot.FirstOrDefault(c => c.State == CameraState.Failed) is { } failed)
        {
            throw new InvalidOperationException($"camera {failed.Id} failed: {failed.LastError}");
        }

        var counts = Counts();
        return snapshot.All(c => c.State == CameraState.Stopped) && counts.Sunk >= counts.Ingested && counts.Ingested > 0;
    }

    /// <summary>
    /// Polls <paramref name="condition"/> every <paramref name="poll"/> until it holds; throws <see cref="TimeoutException"/>
    /// when no frame reached the sink for <paramref name="stall"/> (the pipeline is stuck), and stops when the host stops.
    /// </summary>
    /// <returns>When the sink count last changed (to within <paramref name="poll"/>): the time the last frame reached the sink.</returns>
    public async Task<TimeSpan> WaitUntilAsync(Func<bool> condition, TimeSpan poll, TimeSpan stall, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var lastSunk = -1L;
        var lastProgress = Elapsed;
        var stopping = _app.Lifetime.ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        while (true)
        {
            var now = Elapsed;
            var sunk = Counts().Sunk;
            if (sunk != lastSunk)
            {
                lastSunk = sunk;
                lastProgress = now;
            }

            if (condition())
            {
                return lastProgress;
            }
            else if (Elapsed - lastProgress > stall)
            {
                throw new TimeoutException($"no frame reached the sink for {stall.TotalSeconds:F0} s ({sunk} so far): the pipeline is stuck; run `stream run` with the same settings to see its log.");
            }

            try
            {
                await Task.Delay(poll, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException("the pipeline stopped by itself before the benchmark finished (a stage failed; run `stream run` with the same settings to see why).");
            }
        }
    }

    /// <summary>Lets the pipeline run for <paramref name="duration"/>; throws when it stops by itself meanwhile (a stage failed).</summary>
    public async Task RunForAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        var stopping = _app.Lifetime.ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        try
        {
            await Task.Delay(duration, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException("the pipeline stopped by itself before the benchmark finished (a stage failed; run `stream run` with the same settings to see why).");
        }
    }

    /// <summary>Stops gracefully: cameras stop, queues drain, Kafka flushes. Figures stay readable afterwards.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            if (_ownedRedis is not null)
            {
                await _ownedRedis.DisposeAsync().ConfigureAwait(false);
            }

            DeleteRunDirectories(_spool);
        }
    }

    /// <summary>Where a run's clips go: beside its temporary spool, deleted with it.</summary>
    private static string ClipDirectory(string spoolDirectory) => spoolDirectory + "-clips";

    /// <summary>The run's temporary spool and clip directories.</summary>
    private static void DeleteRunDirectories(string spoolDirectory)
    {
        DeleteQuietly(spoolDirectory);
        DeleteQuietly(ClipDirectory(spoolDirectory));
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Percentiles of recorded values (linear interpolation between ranks, as <see cref="LiveMetrics"/> does).</summary>
internal static class Percentiles
{
    public static double? Of(IReadOnlyList<double> values, double q)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.Order().ToArray();
        var rank = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static string Format(double? ms) => ms is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "n/a";
}
