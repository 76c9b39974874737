using OpenCvSharp;

namespace Streaming.Core;

/// <summary>
/// One decoded picture of one camera. A frame owns its pixels: a BGR24 <see cref="Mat"/> over a pooled native
/// buffer. Exactly one stage owns a frame at a time; ownership moves with the frame through the
/// channels, and whoever holds it last (or drops it) disposes it, which returns the buffer to the pool.
/// </summary>
public sealed class Frame : IDisposable
{
    private PixelBuffer? _buffer;
    private readonly FrameBufferPool _pool;
    private readonly Mat _image;

    private Frame(FrameBufferPool pool, PixelBuffer buffer, int width, int height, string cameraId, long sequence,
        DateTimeOffset captureTime, TimeSpan? pts, bool isLive)
    {
        _pool = pool;
        _buffer = buffer;
        Width = width;
        Height = height;
        CameraId = cameraId;
        Sequence = sequence;
        CaptureTime = captureTime;
        Pts = pts;
        IsLive = isLive;
        CapturedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        // Native memory: the pointer stays valid until the buffer goes back to the pool, after the Mat is disposed.
        _image = Mat.FromPixelData(height, width, MatType.CV_8UC3, buffer.Pointer);
    }

    /// <summary>Rents a frame of the given size; its pixels are uninitialised until the caller fills them.</summary>
    public static Frame Rent(string cameraId, long sequence, int width, int height, DateTimeOffset captureTime,
        TimeSpan? pts = null, bool isLive = true, FrameBufferPool? pool = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cameraId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        pool ??= FrameBufferPool.Shared;
        var buffer = pool.Rent(checked(width * height * 3));
        return new Frame(pool, buffer, width, height, cameraId, sequence, captureTime, pts, isLive);
    }

    /// <summary>Copies a BGR (CV_8UC3) image into a new pooled frame; the caller keeps ownership of <paramref name="source"/>.</summary>
    public static Frame CopyOf(Mat source, string cameraId, long sequence, DateTimeOffset captureTime,
        TimeSpan? pts = null, bool isLive = false, FrameBufferPool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"Frame.CopyOf needs a BGR 8-bit 3-channel image, got {source.Type()}.", nameof(source));
        }

        var frame = Rent(cameraId, sequence, source.Width, source.Height, captureTime, pts, isLive, pool);
        source.CopyTo(frame._image);
        return frame;
    }

    public string CameraId { get; }

    /// <summary>Per-camera sequence number, increasing by one for every decoded frame (drops leave gaps downstream).</summary>
    public long Sequence { get; }

    /// <summary>
    /// The camera run this frame belongs to: the run's start time in Unix ms, set by ingest (0: none). A camera's
    /// <see cref="Sequence"/> starts again at each run (a restart, a move to another worker): the pair (Epoch, Sequence)
    /// is what names a frame uniquely.
    /// </summary>
    public long Epoch { get; set; }

    /// <summary>Wall-clock time at which the frame was captured (decoded) by ingest.</summary>
    public DateTimeOffset CaptureTime { get; }

    /// <summary>Presentation time stamp from the stream, when the source provides one.</summary>
    public TimeSpan? Pts { get; }

    /// <summary>True for live sources (RTSP, devices, paced files): stale frames may be dropped. False: nothing may be dropped.</summary>
    public bool IsLive { get; }

    public int Width { get; }

    public int Height { get; }

    /// <summary>The pixels, BGR24. Valid until the frame is disposed; do not dispose it yourself.</summary>
    public Mat Image
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            return _image;
        }
    }

    /// <summary>Raw pixel bytes (row-major BGR24, no padding).</summary>
    public Span<byte> Pixels
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            return _buffer.Span[..(Width * Height * 3)];
        }
    }

    /// <summary>
    /// Motion ingest measured on this frame; null when the camera's gate is <see cref="GateMode.None"/> (nothing was
    /// measured, and Detect infers every frame).
    /// </summary>
    public FrameMotion? Motion { get; set; }

    // Latency stamps (Stopwatch ticks), written by the stage that reaches each point.
    public long CapturedTimestamp { get; set; }

    public long IngestOutTimestamp { get; set; }

    public long BatchStartTimestamp { get; set; }

    public long InferenceEndTimestamp { get; set; }

    public long TrackedTimestamp { get; set; }

    public bool IsDisposed => Volatile.Read(ref _buffer) is null;

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is null)
        {
            return;
        }

        _image.Dispose();
        _pool.Return(buffer);
    }
}
