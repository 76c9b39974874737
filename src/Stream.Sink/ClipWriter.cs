using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>The clip writer's instruments (meter <see cref="Telemetry.SinkMeter"/>).</summary>
public sealed class ClipMetrics
{
    private readonly Counter<long> _written;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _cutMs;
    private readonly Histogram<double> _delayMs;
    private long _writtenTotal;
    private long _failuresTotal;

    public ClipMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(Telemetry.SinkMeter);
        _written = meter.CreateCounter<long>("stream.sink.clips", "{clip}", "Event clips written (one per ended track).");
        _failures = meter.CreateCounter<long>("stream.sink.clip_failures", "{clip}",
            "Ended tracks whose clip could not be written, by reason: no_buffer (camera gone or without a clip buffer), window (not in the buffer), io (the disk), busy (queue full), error.");
        _cutMs = meter.CreateHistogram<double>("stream.sink.clip_cut", "ms", "Time to cut one clip (remux and write, off the sink's frame loop).");
        _delayMs = meter.CreateHistogram<double>("stream.sink.clip_delay", "ms",
            "From a track_ended reaching the sink (or a long track's start clip falling due) to its clip on disk: how soon a consumer can fetch it.");
    }

    public long Written => Interlocked.Read(ref _writtenTotal);

    public long Failures => Interlocked.Read(ref _failuresTotal);

    internal void Clip(string camera, double ms, double delayMs)
    {
        Interlocked.Increment(ref _writtenTotal);
        _written.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera));
        _cutMs.Record(ms);
        _delayMs.Record(delayMs);
    }

    internal void Failure(string camera, string reason)
    {
        Interlocked.Increment(ref _failuresTotal);
        _failures.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera), new KeyValuePair<string, object?>("reason", reason));
    }
}

/// <summary>
/// Cuts a clip for every track_ended event (issue 26; docs/events.md, "Clips"): the window [first_seen - PreSeconds,
/// last_seen + PostSeconds] (at most MaxSeconds) of the camera's buffered packets into
/// <c>{Directory}/{camera}/{epoch}-{track_id}.mp4</c>, by <see cref="ICameraClips"/>. The cuts run on a loop of their
/// own, fed by a bounded channel, never on the sink's frame loop: the frame loop waits for a clip at most
/// <c>Clips:WaitMs</c>, and only while no other frame waits for it (so clips never hold back the cameras), then the event goes out with <c>clip_key</c> and <c>clip_seconds</c> when the clip is there;
/// a clip finished later is announced by a <c>clip_ready</c> event; a clip that fails is counted
/// (<c>stream.sink.clip_failures</c>) and its event goes out without one. A track that lasts past <c>MaxSeconds</c> also
/// gets, while it lasts, a clip of its start (<c>[first_seen - PreSeconds, + MaxSeconds]</c>,
/// <c>{epoch}-{track_id}-start.mp4</c>), announced by a <c>clip_ready</c>; its end clip comes with its track_ended as
/// for any track. Old clips go by age and total size, oldest first. <see cref="AttachAsync"/> and <see cref="Watch"/>
/// are called by one loop (the sink's frame loop).
/// </summary>
public sealed class ClipWriter : IAsyncDisposable
{
    private const int Queue = 256;
    private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);

    private readonly ClipOptions _options;
    private readonly ICameraClips _clips;
    private readonly ClipMetrics _metrics;
    private readonly Func<EventMessage, CancellationToken, ValueTask> _publishLate;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Job> _jobs = Channel.CreateBounded<Job>(new BoundedChannelOptions(Queue)
    {
        FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the clip is counted as busy, the event never waits
        SingleReader = true,
        SingleWriter = true,
    });

    // Tracks started and not ended (AttachAsync and Watch, one loop): when each is due for its start clip.
    private readonly Dictionary<(string Camera, long Track), OpenTrack> _open = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _bytes;
    private long _lastSweep;

    private ClipWriter(ClipOptions options, ICameraClips clips, ClipMetrics metrics, Func<EventMessage, CancellationToken, ValueTask> publishLate,
        ILogger logger, TimeProvider time)
    {
        _options = options;
        _clips = clips;
        _metrics = metrics;
        _publishLate = publishLate;
        _logger = logger;
        _time = time;
        Root = Path.GetFullPath(options.Directory);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The directory clips are written to (absolute).</summary>
    public string Root { get; }

    /// <summary>Starts the writer's loop; <paramref name="publishLate"/> sends a clip_ready event.</summary>
    public static ClipWriter Start(ClipOptions options, ICameraClips clips, ClipMetrics metrics, Func<EventMessage, CancellationToken, ValueTask> publishLate,
        ILogger logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(publishLate);
        ArgumentNullException.ThrowIfNull(logger);
        logger.ClipsStarted(Path.GetFullPath(options.Directory), options.BufferSeconds, options.PreSeconds, options.PostSeconds, options.MaxSeconds,
            options.MaxBytes, options.MaxAgeHours);
        return new ClipWriter(options, clips, metrics, publishLate, logger, time ?? TimeProvider.System);
    }

    /// <summary>A track's clip key, relative to Clips:Directory: <c>{camera}/{epoch}-{track_id}.mp4</c> (its start clip: <c>-start.mp4</c>).</summary>
    public static string KeyFor(string cameraId, long epoch, long trackId, bool start = false) =>
        string.Create(CultureInfo.InvariantCulture, $"{cameraId}/{epoch}-{trackId}{(start ? "-start" : "")}.mp4");

    /// <summary>The file of <paramref name="key"/> under <paramref name="directory"/>; null when the key would leave it.</summary>
    public static string? PathFor(string directory, string key)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(key);
        var root = Path.GetFullPath(directory);
        var path = Path.GetFullPath(Path.Combine(root, key));
        return path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? path : null;
    }

    /// <summary>
    /// For a track_ended event: queues its clip and waits for it at most Clips:WaitMs, or until <paramref name="stopWaiting"/>
    /// completes; when it is there, <paramref name="message"/> gets its <c>clip_key</c> and <c>clip_seconds</c> (else a
    /// <c>clip_ready</c> names it later). Other events pass untouched.
    /// </summary>
    /// <param name="stopWaiting">
    /// The sink's "another frame is waiting" (its input's <c>WaitToReadAsync</c>): the sink spends only idle time on the
    /// wait, never holding back the cameras behind it. Null: wait the whole WaitMs (<c>stream analyze</c>).
    /// </param>
    public async ValueTask AttachAsync(PipelineEvent e, EventMessage message, CancellationToken cancellationToken, Task? stopWaiting = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(message);
        if (e.Kind == EventKind.TrackStarted && e.TrackId is { } started && e.Epoch is { } startEpoch && e.FirstSeen is { } firstSeen)
        {
            var startFrom = firstSeen - TimeSpan.FromSeconds(_options.PreSeconds);
            _open[(e.CameraId, started)] = new OpenTrack(startEpoch, startFrom, startFrom + TimeSpan.FromSeconds(_options.MaxSeconds), message);
            return;
        }

        if (e.Kind != EventKind.TrackEnded || e.TrackId is not { } track || e.Epoch is not { } epoch || e.FirstSeen is not { } first || e.LastSeen is not { } last)
        {
            return;
        }

        _open.Remove((e.CameraId, track));

        var to = last + TimeSpan.FromSeconds(_options.PostSeconds);
        var from = first - TimeSpan.FromSeconds(_options.PreSeconds);
        var longest = TimeSpan.FromSeconds(_options.MaxSeconds);
        if (to - from > longest)
        {
            from = to - longest; // a long track: its last MaxSeconds
        }

        var key = KeyFor(e.CameraId, epoch, track);
        var job = new Job(e.CameraId, epoch, track, from, to, key, message, _time.GetTimestamp());
        if (!_jobs.Writer.TryWrite(job))
        {
            _metrics.Failure(e.CameraId, "busy");
            _logger.ClipFailed(track, e.CameraId, "busy", $"{Queue} clips are already waiting");
            return;
        }

        if (_options.WaitMs > 0 && !job.Done.Task.IsCompleted && stopWaiting is not { IsCompleted: true })
        {
            using var waited = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(TimeSpan.FromMilliseconds(_options.WaitMs), _time, waited.Token);
            await (stopWaiting is null ? Task.WhenAny(job.Done.Task, delay) : Task.WhenAny(job.Done.Task, delay, stopWaiting)).ConfigureAwait(false);
            await waited.CancelAsync().ConfigureAwait(false); // the timer goes with the wait
        }

        if (job.Claim() && job.Done.Task.Result is { } clip)
        {
            message.ClipKey = key;
            message.ClipSeconds = Math.Round(clip.Duration.TotalSeconds, 3);
        }
    }

    /// <summary>
    /// For every frame of <paramref name="cameraId"/> (media time <paramref name="now"/>): a track of the camera that has
    /// lasted past its first <c>MaxSeconds</c> (from <c>first_seen - PreSeconds</c>) gets its start clip now, announced
    /// by a <c>clip_ready</c> when written. No allocation unless one is due.
    /// </summary>
    public void Watch(string cameraId, DateTimeOffset now)
    {
        if (_open.Count == 0)
        {
            return;
        }

        foreach (var ((camera, track), open) in _open)
        {
            if (open.Clipped || now < open.To || !string.Equals(camera, cameraId, StringComparison.Ordinal))
            {
                continue;
            }

            open.Clipped = true;
            var job = new Job(camera, open.Epoch, track, open.From, open.To, KeyFor(camera, open.Epoch, track, start: true), open.Started, _time.GetTimestamp());
            job.Detach(); // no event waits for it: it is announced by clip_ready
            if (!_jobs.Writer.TryWrite(job))
            {
                _metrics.Failure(camera, "busy");
                _logger.ClipFailed(track, camera, "busy", $"{Queue} clips are already waiting");
            }
        }
    }

    private async Task RunAsync()
    {
        Sweep();
        try
        {
            await foreach (var job in _jobs.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                var clip = await CutAsync(job).ConfigureAwait(false);
                job.Done.TrySetResult(clip);
                if (!job.Finish() && clip is not null)
                {
                    // The event went out without its clip: say that it is there now.
                    await PublishReadyAsync(job, clip).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task PublishReadyAsync(Job job, ClipResult clip)
    {
        var ended = job.Event;
        var ready = new EventMessage
        {
            Id = Guid.CreateVersion7(),
            Kind = EventMessage.KindName(EventKind.ClipReady),
            CameraId = ended.CameraId,
            Time = ended.Time,
            FrameSequence = ended.FrameSequence,
            FrameKey = ended.FrameKey,
            TrackId = ended.TrackId,
            ClassId = ended.ClassId,
            Label = ended.Label,
            FirstSeen = ended.FirstSeen,
            LastSeen = ended.LastSeen,
            Worker = ended.Worker,
            Epoch = ended.Epoch,
            ClipKey = job.Key,
            ClipSeconds = Math.Round(clip.Duration.TotalSeconds, 3),
        };
        try
        {
            await _publishLate(ready, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Shutting down: the clip is on disk, its announcement is lost with the publisher.
        }
    }

    /// <summary>Waits until the window's end is buffered (at most PostSeconds + 2 s), then cuts; null (counted, logged) when it fails.</summary>
    private async Task<ClipResult?> CutAsync(Job job)
    {
        var deadline = TimeSpan.FromSeconds(_options.PostSeconds + 2);
        while (_time.GetElapsedTime(job.Queued) < deadline && _clips.BufferedUntil(job.Camera, job.Epoch) is { } until && until < job.To)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, _stop.Token).ConfigureAwait(false);
        }

        var path = PathFor(Root, job.Key);
        if (path is null)
        {
            return Fail(job, "error", "the camera id does not make a file name");
        }

        var partial = path + ".part";
        var clock = Stopwatch.GetTimestamp();
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var clip = await _clips.CutAsync(job.Camera, job.Epoch, job.From, job.To, partial, _stop.Token).ConfigureAwait(false);
            if (clip is null)
            {
                return Fail(job, "no_buffer", "the camera's run is not running here or keeps no clip buffer");
            }

            // Whole or not at all: a reader never sees a clip being written.
            File.Move(partial, path, overwrite: true);
            var ms = Stopwatch.GetElapsedTime(clock).TotalMilliseconds;
            _metrics.Clip(job.Camera, ms, _time.GetElapsedTime(job.Queued).TotalMilliseconds);
            _logger.ClipWritten(job.Key, clip.Duration.TotalSeconds, clip.Packets, clip.Bytes, ms);
            _bytes += clip.Bytes;
            if (_bytes > _options.MaxBytes || _time.GetElapsedTime(_lastSweep) >= SweepEvery)
            {
                Sweep();
            }

            return clip;
        }
        catch (ClipException ex)
        {
            TryDelete(partial);
            return Fail(job, ex.Reason, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(partial);
            return Fail(job, "io", ex.Message);
        }
    }

    private ClipResult? Fail(Job job, string reason, string error)
    {
        _metrics.Failure(job.Camera, reason);
        _logger.ClipFailed(job.Track, job.Camera, reason, error);
        return null;
    }

    /// <summary>Deletes clips older than MaxAgeHours, then the oldest while the rest is over MaxBytes; recounts the bytes.</summary>
    private void Sweep()
    {
        _lastSweep = _time.GetTimestamp();
        if (!Directory.Exists(Root))
        {
            _bytes = 0;
            return;
        }

        var oldest = _time.GetUtcNow().UtcDateTime - TimeSpan.FromHours(_options.MaxAgeHours);
        var files = new DirectoryInfo(Root).EnumerateFiles("*.mp4", SearchOption.AllDirectories).OrderBy(f => f.LastWriteTimeUtc).ToList();
        var total = files.Sum(f => f.Length);
        var (deleted, freed) = (0, 0L);
        foreach (var file in files)
        {
            if (file.LastWriteTimeUtc >= oldest && total <= _options.MaxBytes)
            {
                break;
            }

            if (TryDelete(file.FullName))
            {
                total -= file.Length;
                deleted++;
                freed += file.Length;
            }
        }

        _bytes = total;
        if (deleted > 0)
        {
            _logger.ClipsDeleted(deleted, freed);
        }
    }

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Stops taking clips and lets the queued ones finish (at most 5 s), then stops the loop.</summary>
    public async ValueTask DisposeAsync()
    {
        _jobs.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
        }

        // Waiters of clips that never ran.
        while (_jobs.Reader.TryRead(out var job))
        {
            job.Done.TrySetResult(null);
        }

        _stop.Dispose();
    }

    /// <summary>One track's clip: the window, where it goes, and who gets it (the event while it waits, clip_ready after).</summary>
    private sealed class Job(string camera, long epoch, long track, DateTimeOffset from, DateTimeOffset to, string key, EventMessage message, long queued)
    {
        private const int Waiting = 0;
        private const int Claimed = 1; // the event took the clip (or went out without one when it failed)
        private const int Late = 2;    // the event went out before the clip was done

        private int _state;

        public string Camera { get; } = camera;

        public long Epoch { get; } = epoch;

        public long Track { get; } = track;

        public DateTimeOffset From { get; } = from;

        public DateTimeOffset To { get; } = to;

        public string Key { get; } = key;

        public EventMessage Event { get; } = message;

        public long Queued { get; } = queued;

        public TaskCompletionSource<ClipResult?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The event's side, after its wait: true when the clip is done and the event may name it; otherwise the job is late.</summary>
        public bool Claim() =>
            Done.Task.IsCompleted ? Interlocked.CompareExchange(ref _state, Claimed, Waiting) != Late : Interlocked.CompareExchange(ref _state, Late, Waiting) != Waiting;

        /// <summary>The loop's side, after the cut: false when the event already went out without the clip (then it is announced).</summary>
        public bool Finish() => Interlocked.CompareExchange(ref _state, Claimed, Waiting) != Late;

        /// <summary>No event waits for this clip: it is announced when written.</summary>
        public void Detach() => Volatile.Write(ref _state, Late);
    }

    /// <summary>A track that started and has not ended: its start clip's window, and its track_started (the clip_ready's source).</summary>
    private sealed class OpenTrack(long epoch, DateTimeOffset from, DateTimeOffset to, EventMessage started)
    {
        public long Epoch { get; } = epoch;

        public DateTimeOffset From { get; } = from;

        public DateTimeOffset To { get; } = to;

        public EventMessage Started { get; } = started;

        public bool Clipped { get; set; }
    }
}
