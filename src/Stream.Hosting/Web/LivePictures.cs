using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Hosting.Web;

/// <summary>
/// The latest picture of each camera that someone watches, for the web view. Fed by <see cref="WebTap"/> with every
/// tracked frame on its way to the sink; it keeps nothing and copies nothing for a camera nobody watches. A viewer
/// (<see cref="Watch"/>) holds a lease on its camera; while one is held, at most <see cref="MaxPicturesPerSecond"/>
/// frames per camera are copied (one <c>Mat.Clone</c> each) into a ref-counted <see cref="Picture"/> with its tracks,
/// and each picture is drawn and JPEG-encoded at most once per flavour however many viewers read it. When the last
/// lease has expired the held picture is released on the next frame.
/// </summary>
internal sealed class LivePictures : IDisposable
{
    /// <summary>Upper bound of pictures copied per watched camera per second (and so of encodes per flavour).</summary>
    public const double MaxPicturesPerSecond = 5;

    /// <summary>How long a single request (latest.jpg) counts as a viewer: a page polling faster keeps the camera watched.</summary>
    public static readonly TimeSpan PollLease = TimeSpan.FromSeconds(3);

    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly IReadOnlyDictionary<string, CameraGeometryOptions> _geometry;
    private readonly ModelLabels _labels;
    private readonly long _minInterval;

    private readonly Counter<long> _copies;
    private readonly Histogram<double> _renderMs;

    public LivePictures(IOptions<TrackOptions> track, TimeProvider time, IMeterFactory meters, ModelLabels labels)
    {
        _labels = labels ?? throw new ArgumentNullException(nameof(labels));
        ArgumentNullException.ThrowIfNull(track);
        ArgumentNullException.ThrowIfNull(meters);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _geometry = track.Value.Cameras;
        _minInterval = (long)(time.TimestampFrequency / MaxPicturesPerSecond);
        var meter = meters.Create(Telemetry.PipelineMeter);
        _copies = meter.CreateCounter<long>("stream.web.pictures", "{picture}", "Frames copied for viewers of the web view (none while nobody watches).");
        _renderMs = meter.CreateHistogram<double>("stream.web.render_duration", "ms", "Drawing and JPEG-encoding one picture for viewers (once per picture and flavour).");
    }

    /// <summary>Called for every tracked frame (the tap's thread): O(1) and no copy unless the camera is watched.</summary>
    public void Offer(TrackedFrame tracked)
    {
        if (_slots.IsEmpty || !_slots.TryGetValue(tracked.Frame.CameraId, out var slot))
        {
            return;
        }

        var now = _time.GetTimestamp();
        if (slot.Offer(tracked, now, _minInterval))
        {
            _copies.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, tracked.Frame.CameraId));
        }
    }

    /// <summary>
    /// Marks <paramref name="cameraId"/> watched until the returned lease is disposed, or for <paramref name="pollFor"/>
    /// after that (a polling page renews it with every request).
    /// </summary>
    public IDisposable Watch(string cameraId, TimeSpan pollFor)
    {
        var slot = _slots.GetOrAdd(cameraId, static _ => new Slot());
        return slot.Lease(_time.GetTimestamp() + (long)(pollFor.TotalSeconds * _time.TimestampFrequency));
    }

    /// <summary>
    /// The JPEG of the camera's newest picture newer than <paramref name="after"/> (0: any), drawn when
    /// <paramref name="boxes"/>; waits up to <paramref name="wait"/> for one. Null when none came in time.
    /// </summary>
    public async Task<Rendered?> NextAsync(string cameraId, bool boxes, long after, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (!_slots.TryGetValue(cameraId, out var slot))
        {
            return null;
        }

        var deadline = _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            var next = slot.Changed;
            if (slot.Acquire() is { } picture)
            {
                try
                {
                    if (picture.Version > after)
                    {
                        var jpeg = picture.Jpeg(boxes, boxes ? picture.Geometry ?? _geometry.GetValueOrDefault(cameraId) : null, _labels, _renderMs, cameraId);
                        return new Rendered(jpeg, picture.Sequence, picture.Version, picture.CaptureTime, picture.Tracks, picture.Width, picture.Height);
                    }
                }
                finally
                {
                    picture.Release();
                }
            }

            var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return null;
            }

            try
            {
                await next.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
    }

    public void Dispose()
    {
        foreach (var slot in _slots.Values)
        {
            slot.Clear();
        }
    }

    /// <summary>One encoded picture: the JPEG bytes are shared by every viewer of that picture (do not change them).</summary>
    public sealed record Rendered(byte[] Jpeg, long Sequence, long Version, DateTimeOffset CaptureTime, IReadOnlyList<TrackedObject> Tracks, int Width, int Height);

    /// <summary>One camera: its viewers' leases and the picture held for them (owned here, swapped under the lock).</summary>
    private sealed class Slot
    {
        private readonly Lock _gate = new();
        private Picture? _current;
        private long _version;
        private long _lastTaken;
        private int _leases;
        private long _pollUntil;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Changed
        {
            get
            {
                lock (_gate)
                {
                    return _changed.Task;
                }
            }
        }

        public IDisposable Lease(long pollUntil)
        {
            lock (_gate)
            {
                _leases++;
                _pollUntil = Math.Max(_pollUntil, pollUntil);
            }

            return new LeaseHandle(this);
        }

        public bool Offer(TrackedFrame tracked, long now, long minInterval)
        {
            Picture? released = null;
            try
            {
                lock (_gate)
                {
                    if (_leases == 0 && now > _pollUntil)
                    {
                        // Nobody watches: let go of the last picture; take nothing.
                        released = _current;
                        _current = null;
                        return false;
                    }

                    if (_current is not null && now - _lastTaken < minInterval)
                    {
                        return false;
                    }

                    released = _current;
                    _current = new Picture(tracked, ++_version);
                    _lastTaken = now;
                    var changed = _changed;
                    _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    changed.TrySetResult();
                    return true;
                }
            }
            finally
            {
                released?.Release();
            }
        }

        public Picture? Acquire()
        {
            lock (_gate)
            {
                return _current is { } p && p.TryAddRef() ? p : null;
            }
        }

        public void Clear()
        {
            Picture? released;
            lock (_gate)
            {
                released = _current;
                _current = null;
            }

            released?.Release();
        }

        private void EndLease()
        {
            lock (_gate)
            {
                _leases--;
            }
        }

        private sealed class LeaseHandle(Slot slot) : IDisposable
        {
            private int _disposed;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    slot.EndLease();
                }
            }
        }
    }

    /// <summary>
    /// A copy of one frame's pixels and tracks, shared by the viewers that read it: the slot holds one reference, each
    /// reader another while it encodes; the Mat is disposed when the last one lets go. Encoded JPEGs are cached.
    /// </summary>
    private sealed class Picture
    {
        private readonly Mat _image;
        private readonly Lock _encodeGate = new();
        private int _refs = 1;
        private byte[]? _plain;
        private byte[]? _drawn;

        public Picture(TrackedFrame tracked, long version)
        {
            _image = tracked.Frame.Image.Clone();
            Tracks = [.. tracked.Tracks];
            Sequence = tracked.Frame.Sequence;
            CaptureTime = tracked.Frame.CaptureTime;
            Epoch = tracked.Frame.Epoch;
            Geometry = tracked.Frame.Camera is { } camera && camera.Geometry().Any ? camera.Geometry() : null;
            Version = version;
        }

        /// <summary>The camera run the picture belongs to (for the tracks' short ids).</summary>
        public long Epoch { get; }

        /// <summary>The zones and lines of the camera's own entry, when it has any (else <c>Track:Cameras</c>'s are drawn).</summary>
        public CameraGeometryOptions? Geometry { get; }

        public TrackedObject[] Tracks { get; }

        public int Width => _image.Width;

        public int Height => _image.Height;

        public long Sequence { get; }

        public DateTimeOffset CaptureTime { get; }

        public long Version { get; }

        public bool TryAddRef()
        {
            var refs = Volatile.Read(ref _refs);
            while (refs > 0)
            {
                var seen = Interlocked.CompareExchange(ref _refs, refs + 1, refs);
                if (seen == refs)
                {
                    return true;
                }

                refs = seen;
            }

            return false;
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _refs) == 0)
            {
                _image.Dispose();
            }
        }

        /// <summary>The picture as JPEG, plain or with tracks and geometry drawn; encoded once per flavour.</summary>
        public byte[] Jpeg(bool boxes, CameraGeometryOptions? geometry, ModelLabels labels, Histogram<double> renderMs, string cameraId)
        {
            lock (_encodeGate)
            {
                ref var cached = ref boxes ? ref _drawn : ref _plain;
                if (cached is null)
                {
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (boxes)
                    {
                        using var canvas = _image.Clone();
                        Overlay.Geometry(canvas, geometry);
                        Overlay.Tracks(canvas, Tracks, labels, Epoch);
                        cached = JpegOf(canvas);
                    }
                    else
                    {
                        cached = JpegOf(_image);
                    }

                    renderMs.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                        new KeyValuePair<string, object?>(Telemetry.CameraTag, cameraId), new KeyValuePair<string, object?>("boxes", boxes));
                }

                return cached;
            }
        }

        private static byte[] JpegOf(Mat image) => image.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, 80));
    }
}
