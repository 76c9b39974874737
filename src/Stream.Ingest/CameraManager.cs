using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// Owns every camera's worker: starts and stops them (also at runtime), runs the watchdog, and publishes the
/// cameras' states as metrics (meter <see cref="Telemetry.IngestMeter"/>) and as <see cref="CameraStatusChange"/>s.
/// </summary>
public sealed class CameraManager : ICameraRegistry, IAsyncDisposable
{
    private readonly FrameBus _bus;
    private readonly ChannelWriter<CameraStatusChange>? _status;
    private readonly IngestOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly FrameBufferPool _pool;
    private readonly Lock _gate = new();
    private readonly List<CameraWorker> _workers = [];

    /// <summary>Disabled cameras (under <see cref="_gate"/>): their configuration and their last status, in the order disabled.</summary>
    private readonly List<(CameraOptions Camera, CameraStatus Last)> _disabled = [];
    private readonly ITimer _watchdog;
    private readonly Meter _meter;
    private readonly IGateSettings? _gateSettings;

    /// <summary>Cameras play once this completes: Detect's readiness, in a process with a Detect stage (null: at once).</summary>
    private readonly Task? _startAfter;
    private bool _closed;

    /// <summary>Compressed video each camera with an in-process decoder keeps for clips (zero: clips off).</summary>
    internal TimeSpan ClipBuffer { get; }

    /// <summary>The clip buffers of connections that ended, kept for the clips of their last tracks.</summary>
    internal EndedClipBuffers Ended { get; }

    /// <param name="status">Where camera status changes go; null: nowhere (a process that does not report them).</param>
    /// <param name="gate">Detect's gate settings (motion gating); null in a process without Detect: no camera is gated.</param>
    /// <param name="detect">Detect's readiness, which cameras wait for before they play; null in a process without Detect: at once.</param>
    public CameraManager(FrameBus bus, ChannelWriter<CameraStatusChange>? status, IOptions<IngestOptions> options,
        ILoggerFactory loggerFactory, IMeterFactory meterFactory, TimeProvider time, FrameBufferPool pool, IOptions<ClipOptions> clips,
        IGateSettings? gate = null, DetectReadiness? detect = null)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentNullException.ThrowIfNull(meterFactory);
        _gateSettings = gate;
        _startAfter = detect?.Ready;
        ClipBuffer = clips.Value is { Enabled: true } clip ? TimeSpan.FromSeconds(clip.BufferSeconds) : TimeSpan.Zero;
        _bus = bus;
        _status = status;
        _options = options.Value;
        _loggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        _logger = _loggerFactory.CreateLogger<CameraManager>();
        _time = time ?? throw new ArgumentNullException(nameof(time));
        Ended = new EndedClipBuffers(_time);
        _pool = pool ?? throw new ArgumentNullException(nameof(pool));
        var period = TimeSpan.FromSeconds(Math.Clamp(_options.WatchdogSeconds / 4, 0.1, 1));
        _watchdog = _time.CreateTimer(_ => CheckWatchdogs(), null, period, period);
        _meter = meterFactory.Create(Telemetry.IngestMeter);
        _meter.CreateObservableCounter("stream.ingest.frames", () => Measure(w => w.Decoded), "{frame}", "Frames decoded per camera");
        _meter.CreateObservableCounter("stream.ingest.dropped", () => Measure(w => w.Dropped), "{frame}", "Frames dropped per camera because downstream was full (live sources)");
        _meter.CreateObservableCounter("stream.ingest.reconnects", () => Measure(w => w.Reconnects), "{reconnect}", "Reconnect attempts per camera");
        _meter.CreateObservableGauge("stream.ingest.camera_state", MeasureStates, "{state}",
            "Camera state: 0 connecting, 1 streaming, 2 backoff, 3 stopped (a disabled camera too), 4 failed");
        _meter.CreateObservableCounter("stream.ingest.motion_frames", () => MeasureMotion(m => m.Moving), "{frame}", "Frames with motion per camera (cameras whose gate is motion)");
        _meter.CreateObservableGauge("stream.ingest.motion_ratio", () => MeasureMotion(m => m.Ratio), "1", "Share of a camera's recent frames (about the last 50) with motion (cameras whose gate is motion)");
        _meter.CreateObservableGauge("stream.ingest.clip_buffer", MeasureClipBuffers, "By",
            "Compressed video each camera keeps for event clips (Clips:BufferSeconds x its bitrate), live connections only");
        _meter.CreateObservableCounter("stream.ingest.bgr_conversions", () => _pool.BgrConversions, "{frame}",
            "Frames ingest handed out as I420 (decoder planes, no colour conversion) that a later stage converted to full-resolution BGR: the frames the sink stored or the live view showed");
    }

    private List<Measurement<T>> Measure<T>(Func<CameraWorker, T> value)
        where T : struct
    {
        var workers = Workers();
        var list = new List<Measurement<T>>(workers.Length);
        foreach (var w in workers)
        {
            list.Add(new Measurement<T>(value(w), new KeyValuePair<string, object?>(Telemetry.CameraTag, w.Id)));
        }

        return list;
    }

    private List<Measurement<long>> MeasureClipBuffers()
    {
        var list = new List<Measurement<long>>();
        foreach (var w in Workers())
        {
            if (w.Source is IClipSource { HasClipBuffer: true } clips)
            {
                list.Add(new Measurement<long>(clips.BufferedBytes, new KeyValuePair<string, object?>(Telemetry.CameraTag, w.Id)));
            }
        }

        return list;
    }

    private List<Measurement<int>> MeasureStates()
    {
        var list = Measure(w => (int)w.State);
        foreach (var (_, last) in Disabled())
        {
            list.Add(new Measurement<int>((int)CameraState.Stopped, new KeyValuePair<string, object?>(Telemetry.CameraTag, last.Id)));
        }

        return list;
    }

    private List<Measurement<T>> MeasureMotion<T>(Func<Motion.CameraMotion, T> value)
        where T : struct
    {
        var list = new List<Measurement<T>>();
        foreach (var w in Workers())
        {
            if (w.Motion is { } motion)
            {
                list.Add(new Measurement<T>(value(motion), new KeyValuePair<string, object?>(Telemetry.CameraTag, w.Id)));
            }
        }

        return list;
    }

    private (CameraOptions Camera, CameraStatus Last)[] Disabled()
    {
        lock (_gate)
        {
            return [.. _disabled];
        }
    }

    private CameraWorker[] Workers()
    {
        lock (_gate)
        {
            return [.. _workers];
        }
    }

    /// <summary>The running worker of camera <paramref name="id"/>; null when it is not running.</summary>
    internal CameraWorker? Worker(string id) => Workers().FirstOrDefault(w => w.Id == id);

    public IReadOnlyList<CameraStatus> Snapshot() => [.. Workers().Select(Status), .. Disabled().Select(d => d.Last)];

    public CameraStatus? Get(string id) =>
        (Workers().FirstOrDefault(w => w.Id == id) is { } worker ? Status(worker) : null) ?? Disabled().FirstOrDefault(d => d.Camera.Id == id).Last;

    private CameraStatus Status(CameraWorker worker) =>
        worker.Snapshot() with { Clips = ClipBuffer > TimeSpan.Zero && FrameSources.HasClips(worker.Camera, _options) };

    public async Task<bool> SetEnabledAsync(string id, bool enabled, CancellationToken cancellationToken = default)
    {
        if (enabled)
        {
            CameraOptions camera;
            lock (_gate)
            {
                var index = _disabled.FindIndex(d => d.Camera.Id == id);
                if (index < 0)
                {
                    return _workers.Any(w => w.Id == id);
                }

                camera = _disabled[index].Camera;
                _disabled.RemoveAt(index);
            }

            var again = Clone(camera);
            again.Enabled = true;
            try
            {
                await AddAsync(again, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                lock (_gate)
                {
                    _disabled.Add((camera, Get(id) ?? DisabledStatus(camera, null)));
                }

                throw;
            }

            Log.CameraEnabled(_logger, id);
            return true;
        }

        CameraWorker? worker;
        lock (_gate)
        {
            worker = _workers.FirstOrDefault(w => w.Id == id);
            if (worker is null)
            {
                return _disabled.Any(d => d.Camera.Id == id);
            }
        }

        await worker.StopAsync(cancellationToken).ConfigureAwait(false);
        var disabled = Clone(worker.Camera);
        disabled.Enabled = false;
        lock (_gate)
        {
            _workers.Remove(worker);
            _disabled.Add((disabled, DisabledStatus(disabled, worker.Snapshot())));
        }

        Log.CameraDisabled(_logger, id);
        return true;
    }

    /// <summary>What a disabled camera shows: its last counters (none when it never ran), stopped since now.</summary>
    private CameraStatus DisabledStatus(CameraOptions camera, CameraStatus? last) =>
        (last ?? new CameraStatus(camera.Id, UrlRedactor.Redact(camera.Url), CameraSource.Classify(camera.Url), CameraState.Stopped,
            _time.GetUtcNow(), 0, 0, 0, null, 0, 0, 0))
        with { State = CameraState.Stopped, Since = _time.GetUtcNow(), Fps = 0, Enabled = false };

    public Task AddAsync(CameraOptions camera, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(camera);
        var errors = CameraChecks.Problems(camera);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(camera));
        }

        CameraWorker worker;
        lock (_gate)
        {
            if (_closed)
            {
                throw new InvalidOperationException($"camera '{camera.Id}': ingest is shutting down; no camera can be added.");
            }

            if (_workers.Any(w => w.Id == camera.Id) || _disabled.Any(d => d.Camera.Id == camera.Id))
            {
                throw new ArgumentException($"camera '{camera.Id}': a camera with this id already exists; remove it first or pick another id.", nameof(camera));
            }

            if (!camera.Enabled)
            {
                // Listed, not started: enabling it starts it.
                var disabled = Clone(camera);
                _disabled.Add((disabled, DisabledStatus(disabled, null)));
                return Task.CompletedTask;
            }

            CameraFeed feed;
            try
            {
                feed = _bus.Open(camera.Id, CameraSource.IsLive(camera));
            }
            catch (InvalidOperationException ex)
            {
                throw new InvalidOperationException($"camera '{camera.Id}': {ex.Message} (a removed camera's queued frames may still be draining; retry shortly).", ex);
            }

            var logger = _loggerFactory.CreateLogger("Streaming.Ingest.Camera");
            worker = new CameraWorker(Clone(camera), _options, feed, _status, logger, _time,
                (c, o) => FrameSources.Create(c, o, _pool, _time, logger, ClipBuffer), _gateSettings, _startAfter, Ended);
            _workers.Add(worker);
        }

        worker.Start();
        return Task.CompletedTask;
    }

    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        CameraWorker? worker;
        lock (_gate)
        {
            worker = _workers.FirstOrDefault(w => w.Id == id);
            if (worker is null)
            {
                return _disabled.RemoveAll(d => d.Camera.Id == id) > 0;
            }

            // This call owns the removal from here on: a concurrent one for the same id finds nothing (one 204, the rest 404).
            _workers.Remove(worker);
        }

        // Once claimed, the stop runs to its end even if the caller gives up, so that no worker is left running unlisted.
        await worker.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    /// <summary>Stops every camera (each completes its feed); no camera can be added afterwards.</summary>
    public async Task StopAllAsync(CancellationToken cancellationToken = default)
    {
        CameraWorker[] workers;
        lock (_gate)
        {
            _closed = true;
            workers = [.. _workers];
        }

        await Task.WhenAll(workers.Select(w => w.StopAsync(cancellationToken))).ConfigureAwait(false);
        Log.IngestStopped(_logger, workers.Length);
    }

    private void CheckWatchdogs()
    {
        var timeout = TimeSpan.FromSeconds(_options.WatchdogSeconds);
        foreach (var w in Workers())
        {
            w.CheckWatchdog(timeout);
        }

        Ended.Prune();
    }

    private static CameraOptions Clone(CameraOptions c) => c.Clone();

    public async ValueTask DisposeAsync()
    {
        await StopAllAsync().ConfigureAwait(false);
        await _watchdog.DisposeAsync().ConfigureAwait(false);
        Ended.Dispose();
        _meter.Dispose();
    }
}
