using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Track;

/// <summary>
/// The Track stage: reads detected frames, hands each camera's frames (in order) to that camera's own worker, which
/// runs the camera's <see cref="ByteTracker"/> and writes <see cref="TrackedFrame"/>s. Cameras run in parallel (one
/// worker task and one bounded queue each); a camera's tracker only ever sees that camera's frames. When the input
/// completes, every worker drains its queue, ends its open confirmed tracks (TrackEnded, Reason "shutdown", when
/// <see cref="TrackOptions.EndTracksOnDrain"/>), and the output is completed once all workers are done. A camera that
/// sends no frame for <see cref="TrackOptions.IdleEndSeconds"/> has its open tracks ended (Reason "idle").
/// </summary>
public sealed class TrackService : PipelineStage
{
    private static readonly PipelineEvent[] NoEvents = [];

    private readonly ChannelReader<DetectedFrame> _input;
    private readonly ChannelWriter<TrackedFrame> _output;
    private readonly TrackOptions _options;
    private readonly ILogger<TrackService> _logger;
    private readonly TrackMetrics _metrics;
    private readonly ConcurrentDictionary<string, CameraWorker> _workers = new(StringComparer.Ordinal);
    private readonly FrameBufferPool _pool;
    private readonly CameraStopReasons? _stopReasons;
    private readonly ModelLabels _labels;

    /// <param name="stopReasons">Why cameras stop, where something other than the camera decides it (a cluster's moves); none in a single process.</param>
    public TrackService(ChannelReader<DetectedFrame> input, ChannelWriter<TrackedFrame> output, IOptions<TrackOptions> options,
        ILogger<TrackService> logger, IMeterFactory meterFactory, FrameBufferPool pool, ModelLabels labels, CameraStopReasons? stopReasons = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _stopReasons = stopReasons;
        _labels = labels ?? throw new ArgumentNullException(nameof(labels));
        _pool = pool ?? throw new ArgumentNullException(nameof(pool));
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _input = input;
        _output = output;
        _options = options.Value;
        _logger = logger;
        _metrics = new TrackMetrics(meterFactory, ObserveActiveTracks);
        foreach (var camera in _options.Cameras.Keys)
        {
            Log.OldGeometryPlace(_logger, camera);
        }
    }

    /// <summary>Cameras seen so far.</summary>
    public IReadOnlyCollection<string> Cameras => [.. _workers.Keys];

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        try
        {
            while (await _input.WaitToReadAsync(hardStop).ConfigureAwait(false))
            {
                while (_input.TryRead(out var detected))
                {
                    var worker = _workers.GetOrAdd(detected.Frame.CameraId, static (_, state) => state.Self.StartWorker(state.First, state.HardStop), (Self: this, First: detected.Frame, HardStop: hardStop));
                    try
                    {
                        await worker.Queue.Writer.WriteAsync(detected, hardStop).ConfigureAwait(false);
                    }
                    catch
                    {
                        detected.Dispose();
                        throw;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
            Log.HardStop(_logger);

            // Release what is still queued upstream of us: nobody else will.
            while (_input.TryRead(out var left))
            {
                left.Dispose();
            }
        }
        finally
        {
            foreach (var worker in _workers.Values)
            {
                worker.Queue.Writer.TryComplete();
            }

            await Task.WhenAll(_workers.Values.Select(w => w.Completion)).ConfigureAwait(false);
            _output.TryComplete();
        }
    }

    /// <summary>Starts the worker of the camera whose first frame is <paramref name="first"/>, with a tracker for that frame's run.</summary>
    private CameraWorker StartWorker(Frame first, CancellationToken hardStop)
    {
        var cameraId = first.CameraId;
        var queue = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(_options.QueuePerCamera)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        var tracker = NewTracker(cameraId, first, first.Epoch > 0 ? (first.Epoch * 1000) + 1 : 1, out var rules);
        var worker = new CameraWorker(cameraId, queue, tracker) { Rules = rules, Epoch = first.Epoch };
        worker.Completion = Task.Run(() => RunWorkerAsync(worker, hardStop), CancellationToken.None);
        Log.CameraStarted(_logger, cameraId);
        return worker;
    }

    private async Task RunWorkerAsync(CameraWorker worker, CancellationToken hardStop)
    {
        var reader = worker.Queue.Reader;
        var tracker = worker.Tracker;
        var lastSequence = -1L;
        var lastTime = DateTimeOffset.MinValue;
        var failed = false;
        while (true)
        {
            bool more;
            if (_options.IdleEndSeconds > 0 && !failed && tracker.ActiveCount > 0)
            {
                // The camera may have gone quiet (offline, removed): end its tracks rather than keep them open forever.
                using var idle = new CancellationTokenSource(TimeSpan.FromSeconds(_options.IdleEndSeconds));
                try
                {
                    more = await reader.WaitToReadAsync(idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (idle.IsCancellationRequested)
                {
                    failed = !await EndTracksAsync(worker, StopReason(worker, "idle"), lastSequence, lastTime + TimeSpan.FromSeconds(_options.IdleEndSeconds), hardStop).ConfigureAwait(false);
                    continue;
                }
            }
            else
            {
                more = await reader.WaitToReadAsync().ConfigureAwait(false);
            }

            if (!more)
            {
                break;
            }

            while (reader.TryRead(out var detected))
            {
                var frame = detected.Frame;
                if (failed)
                {
                    detected.Dispose();
                    continue;
                }

                try
                {
                    if (frame.Epoch != worker.Epoch)
                    {
                        // A new run of the camera (restarted here, or back from another worker): its frame sequence starts
                        // again, so the old run's tracks end and the new run's track ids start from its epoch.
                        if (lastSequence >= 0)
                        {
                            failed = !await EndTracksAsync(worker, StopReason(worker, "restarted"), lastSequence, lastTime, hardStop).ConfigureAwait(false);
                        }

                        worker.Epoch = frame.Epoch;
                        worker.Tracker = NewTracker(worker.CameraId, frame, frame.Epoch > 0 ? (frame.Epoch * 1000) + 1 : tracker.NextTrackId, out var rules);
                        worker.Rules = rules;
                        tracker = worker.Tracker;
                        lastSequence = -1;
                    }

                    var tracks = new List<TrackedObject>(detected.Detections.Count + 4);
                    List<PipelineEvent>? events = null;
                    var start = Stopwatch.GetTimestamp();
                    worker.Events.Clear();
                    var keep = false;
                    if (detected.Inferred)
                    {
                        var counted = worker.Rules.Filter(detected.Detections, worker.Counted);
                        tracker.FrameWidth = frame.Width;
                        tracker.FrameHeight = frame.Height;
                        keep = tracker.Update(counted, frame.MediaTime, frame.Sequence, tracks, worker.Events);
                    }
                    else
                    {
                        tracker.Coast(frame.MediaTime, tracks, worker.Events);
                    }

                    frame.TrackedTimestamp = Stopwatch.GetTimestamp();
                    _metrics.Frame(worker.CameraId, Stopwatch.GetElapsedTime(start, frame.TrackedTimestamp).TotalMicroseconds);
                    worker.ActiveTracks = tracker.ActiveCount;
                    if (worker.Events.Count > 0)
                    {
                        events = Stamped(worker.Events, worker.Epoch, _labels);
                        foreach (var e in events)
                        {
                            _metrics.Event(worker.CameraId, e.Kind);
                        }
                    }

                    lastSequence = frame.Sequence;
                    lastTime = frame.MediaTime;
                    await WriteAsync(new TrackedFrame(frame, tracks, (IReadOnlyList<PipelineEvent>?)events ?? NoEvents, keep), hardStop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ChannelClosedException || (ex is OperationCanceledException && hardStop.IsCancellationRequested))
                {
                    // Hard stop, or the output was closed under us: nothing more can be delivered; release what is queued.
                    failed = true;
                }
                catch (Exception ex)
                {
                    // A bug or bad input must not stop the camera: drop this frame, start the camera's tracking afresh.
                    Log.WorkerFailed(_logger, worker.CameraId, ex);
                    frame.Dispose();
                    worker.Tracker = TrackerFor(worker.CameraId, worker.Rules, tracker.NextTrackId);
                    tracker = worker.Tracker;
                }
            }
        }

        if (!failed && _options.EndTracksOnDrain && lastSequence >= 0)
        {
            await EndTracksAsync(worker, StopReason(worker, "shutdown"), lastSequence, lastTime, hardStop).ConfigureAwait(false);
        }

        Log.CameraDrained(_logger, worker.CameraId);
    }

    /// <summary>Ends the camera's open tracks; returns false when the output can take nothing more.</summary>
    private async Task<bool> EndTracksAsync(CameraWorker worker, string reason, long lastSequence, DateTimeOffset time, CancellationToken hardStop)
    {
        worker.Events.Clear();
        worker.Tracker.EndAll(time, reason, worker.Events);
        worker.ActiveTracks = 0;
        if (worker.Events.Count == 0)
        {
            return true;
        }

        foreach (var e in worker.Events)
        {
            _metrics.Event(worker.CameraId, e.Kind);
        }

        // The events refer to frames already sent (each track's best picture). They travel on a 1x1 black carrier
        // frame that is not a picture: no tracks, KeepFrame false, Sequence = the camera's last + 1.
        var carrier = Frame.Rent(worker.CameraId, lastSequence + 1, 1, 1, time, isLive: false, pool: _pool);
        carrier.Epoch = worker.Epoch;
        carrier.Pixels.Clear();
        carrier.TrackedTimestamp = Stopwatch.GetTimestamp();
        try
        {
            await WriteAsync(new TrackedFrame(carrier, [], Stamped(worker.Events, worker.Epoch, _labels), keepFrame: false), hardStop).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            Log.EndEventsLost(_logger, worker.CameraId, worker.Events.Count);
            return false;
        }
    }

    /// <summary>A copy of <paramref name="events"/>, each naming the camera run it belongs to and its class by the model's label.</summary>
    private static List<PipelineEvent> Stamped(List<PipelineEvent> events, long epoch, ModelLabels labels) =>
        [.. events.Select(e => e with
        {
            Epoch = epoch > 0 ? epoch : e.Epoch,
            Label = e.ClassId is { } c ? labels.NameOf(c) : e.Label,
        })];

    /// <summary>
    /// A tracker for a new run of the camera, with its rules: the run's own settings (its entry under <c>Cameras</c>, which
    /// the frame carries) when they hold zones, lines or objects, else the older <c>Track:Cameras:{id}</c> zones and lines.
    /// Class names the model lacks are reported once per run, one line each.
    /// </summary>
    private ByteTracker NewTracker(string cameraId, Frame? frame, long firstTrackId, out CameraRules rules)
    {
        var camera = frame?.Camera;
        var geometry = camera is not null && camera.Geometry().Any ? camera.Geometry() : _options.Cameras.GetValueOrDefault(cameraId);
        rules = CameraRules.Resolve($"camera '{cameraId}'", camera?.Objects, geometry, _labels.Names, frame?.Width ?? 0, frame?.Height ?? 0, out var problems);
        foreach (var problem in problems)
        {
            Log.ObjectsProblem(_logger, cameraId, problem);
        }

        return TrackerFor(cameraId, rules, firstTrackId);
    }

    /// <summary>A tracker that applies the camera's rules: its zones and lines, and its classes' confirmation thresholds.</summary>
    private ByteTracker TrackerFor(string cameraId, CameraRules rules, long firstTrackId) =>
        new(cameraId, _options, rules.Geometry, firstTrackId, rules.ConfirmRules(new ConfirmRule(_options.ConfirmThreshold, _options.MinArea, _options.MaxArea)));

    /// <summary>Why the camera's tracks end: what the process noted (e.g. "moved" to another worker), else <paramref name="otherwise"/>.</summary>
    private string StopReason(CameraWorker worker, string otherwise) => _stopReasons?.Take(worker.CameraId) ?? otherwise;

    private async ValueTask WriteAsync(TrackedFrame tracked, CancellationToken hardStop)
    {
        try
        {
            await _output.WriteAsync(tracked, hardStop).ConfigureAwait(false);
        }
        catch
        {
            tracked.Dispose();
            throw;
        }
    }

    private IEnumerable<Measurement<int>> ObserveActiveTracks()
    {
        foreach (var (camera, worker) in _workers)
        {
            yield return new Measurement<int>(worker.ActiveTracks, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera));
        }
    }

    private sealed class CameraWorker(string cameraId, Channel<DetectedFrame> queue, ByteTracker tracker)
    {
        private int _active;

        public string CameraId { get; } = cameraId;

        public Channel<DetectedFrame> Queue { get; } = queue;

        public ByteTracker Tracker { get; set; } = tracker;

        /// <summary>The camera run whose frames the tracker sees (0: frames without an epoch).</summary>
        public long Epoch { get; set; }

        public List<PipelineEvent> Events { get; } = [];

        /// <summary>The run's objects and zones, resolved (<see cref="CameraRules"/>).</summary>
        public CameraRules Rules { get; set; } = CameraRules.All(null);

        /// <summary>Scratch: the detections of the current frame that the camera's rules count.</summary>
        public List<Detection> Counted { get; } = new(64);

        public Task Completion { get; set; } = Task.CompletedTask;

        public int ActiveTracks
        {
            get => Volatile.Read(ref _active);
            set => Volatile.Write(ref _active, value);
        }
    }
}
