using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
    private readonly ITimer _watchdog;
    private readonly Meter? _meter;
    private readonly IGateSettings? _gateSettings;
    private bool _closed;

    public CameraManager(FrameBus bus, ChannelWriter<CameraStatusChange>? status, IOptions<IngestOptions> options,
        ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null, TimeProvider? time = null, FrameBufferPool? pool = null,
        IGateSettings? gate = null)
    {
        _gateSettings = gate;
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        _bus = bus;
        _status = status;
        _options = options.Value;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<CameraManager>();
        _time = time ?? TimeProvider.System;
        _pool = pool ?? FrameBufferPool.Shared;
        var period = TimeSpan.FromSeconds(Math.Clamp(_options.WatchdogSeconds / 4, 0.1, 1));
        _watchdog = _time.CreateTimer(_ => CheckWatchdogs(), null, period, period);
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(Telemetry.IngestMeter);
            _meter.CreateObservableCounter("stream.ingest.frames", () => Measure(w => w.Decoded), "{frame}", "Frames decoded per camera");
            _meter.CreateObservableCounter("stream.ingest.dropped", () => Measure(w => w.Dropped), "{frame}", "Frames dropped per camera because downstream was full (live sources)");
            _meter.CreateObservableCounter("stream.ingest.reconnects", () => Measure(w => w.Reconnects), "{reconnect}", "Reconnect attempts per camera");
            _meter.CreateObservableGauge("stream.ingest.camera_state", () => Measure(w => (int)w.State), "{state}",
                "Camera state: 0 connecting, 1 streaming, 2 backoff, 3 stopped, 4 failed");
            _meter.CreateObservableCounter("stream.ingest.motion_frames", () => MeasureMotion(m => m.Moving), "{frame}", "Frames with motion per camera (cameras whose gate is motion)");
            _meter.CreateObservableGauge("stream.ingest.motion_ratio", () => MeasureMotion(m => m.Ratio), "1", "Share of a camera's recent frames (about the last 50) with motion (cameras whose gate is motion)");
        }
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

    private CameraWorker[] Workers()
    {
        lock (_gate)
        {
            return [.. _workers];
        }
    }

    public IReadOnlyList<CameraStatus> Snapshot() => [.. Workers().Select(w => w.Snapshot())];

    public CameraStatus? Get(string id) => Workers().FirstOrDefault(w => w.Id == id)?.Snapshot();

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

            if (_workers.Any(w => w.Id == camera.Id))
            {
                throw new ArgumentException($"camera '{camera.Id}': a camera with this id already exists; remove it first or pick another id.", nameof(camera));
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
                (c, o) => FrameSources.Create(c, o, _pool, _time, logger), _gateSettings);
            _workers.Add(worker);
        }

        worker.Start();
        return Task.CompletedTask;
    }

    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default)
    {
        CameraWorker? worker;
        lock (_gate)
        {
            worker = _workers.FirstOrDefault(w => w.Id == id);
            if (worker is null)
            {
                return false;
            }
        }

        await worker.StopAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _workers.Remove(worker);
        }

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
    }

    private static CameraOptions Clone(CameraOptions c) => new()
    {
        Id = c.Id,
        Url = c.Url,
        MaxFps = c.MaxFps,
        Width = c.Width,
        Height = c.Height,
        Loop = c.Loop,
        Pacing = c.Pacing,
        HwAccel = c.HwAccel,
        Enabled = c.Enabled,
        Gate = c.Gate,
        MotionMasks = [.. c.MotionMasks],
    };

    public async ValueTask DisposeAsync()
    {
        await StopAllAsync().ConfigureAwait(false);
        await _watchdog.DisposeAsync().ConfigureAwait(false);
        _meter?.Dispose();
    }
}
