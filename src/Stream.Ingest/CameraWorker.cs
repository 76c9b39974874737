using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Streaming.Core;
using Streaming.Ingest.Motion;

namespace Streaming.Ingest;

/// <summary>
/// One camera's long-running reader on its own thread: open, read frames into the camera's feed, and on failure
/// wait (exponential backoff with jitter) and reconnect; unrecoverable failures (missing or corrupt file) end in
/// <see cref="CameraState.Failed"/>. Blocking reads on a dedicated thread keep one camera's trouble away from the others.
/// </summary>
internal sealed class CameraWorker
{
    private readonly IngestOptions _options;
    private readonly CameraFeed _feed;
    private readonly ChannelWriter<CameraStatusChange>? _status;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<CameraOptions, IngestOptions, IFrameSource> _sourceFactory;
    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private Thread? _thread;
    private volatile IFrameSource? _source;
    private readonly EndedClipBuffers? _ended;

    private CameraState _state = CameraState.Stopped;
    private DateTimeOffset _since;
    private long _epoch; // the run going on (Unix ms; 0: none yet), under _gate
    private string? _lastError;
    private long _decoded;
    private long _reconnects;
    private long _lastProgress;
    private volatile bool _inWrite;
    private int _width;
    private int _height;

    // Current fps over the last window of at least one second.
    private long _fpsWindowStart;
    private long _fpsWindowFrames;
    private double _fps;

    /// <summary>Passes over a file that end in the same error after the same frames before the camera is marked failed.</summary>
    internal const int SameFileFailuresToFail = 3;

    public CameraWorker(CameraOptions camera, IngestOptions options, CameraFeed feed, ChannelWriter<CameraStatusChange>? status,
        ILogger logger, TimeProvider time, Func<CameraOptions, IngestOptions, IFrameSource>? sourceFactory = null, IGateSettings? gate = null,
        Task? startAfter = null, EndedClipBuffers? ended = null)
    {
        _startAfter = startAfter ?? Task.CompletedTask;
        _ended = ended;
        Camera = camera;
        _options = options;
        _feed = feed;
        _status = status;
        _logger = logger;
        _time = time;
        Kind = CameraSource.Classify(camera.Url);
        RedactedUrl = UrlRedactor.Redact(camera.Url);
        _sourceFactory = sourceFactory ?? ((c, o) => FrameSources.Create(c, o, time: time, logger: logger));
        _since = time.GetUtcNow();
        Motion = CameraMotion.For(camera, gate);
    }

    /// <summary>The camera's motion measurement when its detection gate is motion; null otherwise.</summary>
    public CameraMotion? Motion { get; }

    public CameraOptions Camera { get; }

    /// <summary>What the camera waits for before it opens its source (Detect's readiness; completed when there is none).</summary>
    private readonly Task _startAfter;

    public string Id => Camera.Id;

    public SourceKind Kind { get; }

    public string RedactedUrl { get; }

    public CameraFeed Feed => _feed;

    /// <summary>The run going on (its start, Unix ms; 0 before the first).</summary>
    public long Epoch
    {
        get
        {
            lock (_gate)
            {
                return _epoch;
            }
        }
    }

    /// <summary>The current connection's source (null between connections); for clips, which read its packet buffer.</summary>
    internal IFrameSource? Source => _source;

    public Task Completion => _done.Task;

    public CameraState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    public long Decoded => Interlocked.Read(ref _decoded);

    public long Reconnects => Interlocked.Read(ref _reconnects);

    public long Dropped => _feed.Dropped;

    public CameraStatus Snapshot()
    {
        lock (_gate)
        {
            var fps = _fps;
            var sinceFrame = _time.GetElapsedTime(Interlocked.Read(ref _lastProgress));
            if (_state != CameraState.Streaming || sinceFrame > TimeSpan.FromSeconds(2))
            {
                fps = 0;
            }

            return new CameraStatus(Id, RedactedUrl, Kind, _state, _since, Decoded, Dropped, Reconnects, _lastError, fps, _width, _height,
                Epoch: _epoch > 0 ? _epoch : null);
        }
    }

    public void Start()
    {
        _thread = new Thread(Run)
        {
            IsBackground = true,
            Name = "ingest:" + Id,
        };
        _thread.Start();
    }

    /// <summary>Stops the worker: cancels, aborts the current connection (kills ffmpeg) and waits for the thread.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        _source?.Abort("stopped");
        if (_thread is null)
        {
            return;
        }

        await _done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Called periodically: restarts a camera that delivered no frame for the watchdog time.</summary>
    public void CheckWatchdog(TimeSpan timeout)
    {
        var state = State;
        if (state is not (CameraState.Connecting or CameraState.Streaming) || _inWrite)
        {
            return;
        }

        var idle = _time.GetElapsedTime(Interlocked.Read(ref _lastProgress));
        if (idle >= timeout && _source is { } source)
        {
            Log.Watchdog(_logger, Id, idle.TotalSeconds);
            source.Abort(string.Create(CultureInfo.InvariantCulture, $"no frame for {idle.TotalSeconds:0.#} s (watchdog restart)"));
        }
    }

    private void MarkProgress() => Interlocked.Exchange(ref _lastProgress, _time.GetTimestamp());

    private string Describe(string error) => $"camera '{Id}' ({RedactedUrl}): {UrlRedactor.Redact(error)}";

    private void SetState(CameraState state, string? error)
    {
        CameraStatusChange change;
        lock (_gate)
        {
            if (_state == state && error is null)
            {
                return;
            }

            _state = state;
            _since = _time.GetUtcNow();
            if (error is not null)
            {
                _lastError = error;
            }

            change = new CameraStatusChange(Id, state, _since, error) { Epoch = _epoch > 0 ? _epoch : null };
        }

        _status?.TryWrite(change);
    }

    private void Run()
    {
        var ct = _cts.Token;

        // This run of the camera: frame keys and track ids downstream are unique per (camera, epoch). Taken first, so
        // that every status change of the run names it, the Connecting of the wait for Detect below included.
        var epoch = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_gate)
        {
            // Every status change of this run (and the API's view of it) names the run, as its frames do.
            _epoch = epoch;
        }

        // The camera plays once Detect can look at its frames: a live-paced camera would drop its first frames while the
        // model loads, and a recording would lose its start. Listed meanwhile as Connecting.
        if (!_startAfter.IsCompleted)
        {
            SetState(CameraState.Connecting, null);
            try
            {
                _startAfter.Wait(ct);
            }
            catch (Exception ex) when (ex is OperationCanceledException || ct.IsCancellationRequested)
            {
                // Stopped (or the stage that was to be waited for failed) before the camera ever started.
            }

            if (ct.IsCancellationRequested)
            {
                SetState(CameraState.Stopped, null);
                _feed.Complete();
                Motion?.Dispose();
                _done.TrySetResult();
                return;
            }
        }

        var backoff = Backoff.FromOptions(_options);
        var live = _feed.IsLive;
        long sequence = 0;
        var finalState = CameraState.Stopped;
        var reason = "stopped";
        // A file is the same bytes on every pass: when it breaks the same way, after the same frames, it is damaged and
        // retrying cannot help (a file cut in the middle would otherwise go round backoff forever).
        (string Error, long Frames) lastFailure = (string.Empty, -1);
        var sameFailures = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                MarkProgress();
                SetState(CameraState.Connecting, null);
                Log.Connecting(_logger, Id, RedactedUrl, Kind);
                long streamingSince = 0;
                long passFrames = 0;
                string error;
                try
                {
                    var source = _sourceFactory(Camera, _options);
                    try
                    {
                        _source = source;
                        if (ct.IsCancellationRequested)
                        {
                            break;
                        }

                        source.Open(ct);
                        Motion?.Reset();
                        _width = source.Width;
                        _height = source.Height;
                        while (true)
                        {
                            var frame = source.Read(Id, sequence, live, ct);
                            if (frame is null)
                            {
                                reason = "end of file";
                                return;
                            }

                            frame.Epoch = epoch;
                            frame.Camera = Camera;
                            sequence++;
                            passFrames++;
                            Interlocked.Increment(ref _decoded);
                            MarkProgress();
                            CountFps();
                            if (streamingSince == 0)
                            {
                                streamingSince = _time.GetTimestamp();
                                SetState(CameraState.Streaming, null);
                                Log.Streaming(_logger, Id, source.Width, source.Height, source.NominalFps);
                            }

                            Motion?.Measure(frame);
                            Write(frame, ct);
                        }
                    }
                    finally
                    {
                        // The connection's packets outlive it a while for the clips of the tracks still open (EndedClipBuffers).
                        // Kept before the worker lets go of it: in between, a clip's cut found the run neither live nor
                        // ended and failed as no_buffer (seen in ClipTests once tracks ended closer to the end of a file).
                        var kept = _ended?.TryKeep(Id, epoch, source) == true;
                        _source = null;
                        if (!kept)
                        {
                            source.Dispose();
                        }
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (SourceException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (SourceException ex) when (!ex.Recoverable)
                {
                    var message = Describe(ex.Message);
                    finalState = CameraState.Failed;
                    reason = "failed";
                    SetState(CameraState.Failed, message);
                    Log.Failed(_logger, message);
                    return;
                }
                catch (SourceException ex)
                {
                    error = ex.Message;
                }
                catch (Exception ex)
                {
                    error = ex.Message;
                }
                finally
                {
                    _source = null;
                }

                if (ct.IsCancellationRequested)
                {
                    break;
                }

                if (Kind == SourceKind.File)
                {
                    sameFailures = lastFailure == (error, passFrames) ? sameFailures + 1 : 1;
                    lastFailure = (error, passFrames);
                    if (sameFailures >= SameFileFailuresToFail)
                    {
                        var message = Describe(string.Create(CultureInfo.InvariantCulture,
                            $"the file fails the same way on every pass ({error} after {passFrames} frames, {sameFailures} times): it is damaged or cut short; replace it or re-encode it"));
                        finalState = CameraState.Failed;
                        reason = "failed";
                        SetState(CameraState.Failed, message);
                        Log.Failed(_logger, message);
                        return;
                    }
                }

                var healthy = streamingSince == 0 ? TimeSpan.Zero : _time.GetElapsedTime(streamingSince);
                var delay = backoff.NextDelay(healthy);
                Interlocked.Increment(ref _reconnects);
                var line = Describe(error);
                SetState(CameraState.Backoff, line);
                Log.Backoff(_logger, line, backoff.Attempt, delay.TotalSeconds);
                if (!Sleep(delay, ct))
                {
                    break;
                }
            }
        }
        finally
        {
            if (finalState != CameraState.Failed)
            {
                SetState(CameraState.Stopped, null);
            }

            // No more frames from this camera: Detect drains what is queued and then drops the feed.
            _feed.Complete();
            Motion?.Dispose();
            Log.Stopped(_logger, Id, reason, Decoded);
            _done.TrySetResult();
        }
    }

    /// <summary>Waits on this camera's own thread for <paramref name="delay"/> of the injected clock; false when cancelled.</summary>
    private bool Sleep(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            Task.Delay(delay, _time, ct).Wait(ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (AggregateException ex) when (ex.InnerException is OperationCanceledException)
        {
            return false;
        }
    }

    private void Write(Frame frame, CancellationToken ct)
    {
        // Live feeds never wait (drop-oldest); file feeds at full speed wait here while downstream is full.
        var pending = _feed.WriteAsync(frame, ct);
        if (pending.IsCompletedSuccessfully)
        {
            return;
        }

        _inWrite = true;
        try
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
        finally
        {
            _inWrite = false;
            MarkProgress();
        }
    }

    private void CountFps()
    {
        var now = _time.GetTimestamp();
        if (_fpsWindowStart == 0)
        {
            _fpsWindowStart = now;
        }

        _fpsWindowFrames++;
        var elapsed = _time.GetElapsedTime(_fpsWindowStart, now);
        if (elapsed >= TimeSpan.FromSeconds(1))
        {
            var fps = _fpsWindowFrames / elapsed.TotalSeconds;
            lock (_gate)
            {
                _fps = fps;
            }

            _fpsWindowStart = now;
            _fpsWindowFrames = 0;
        }
    }
}
