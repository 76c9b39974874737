using OpenCvSharp;

namespace Streaming.Core;

/// <summary>
/// One decoded picture of one camera. A frame owns its pixels, in a pooled native buffer, in one of two layouts
/// (<see cref="Format"/>): BGR24, or I420 as decoders produce it (a Y plane and two quarter-size chroma planes, half the
/// bytes of BGR). An I420 frame is converted to full-resolution BGR only when somebody asks for <see cref="Image"/>
/// (the sink storing it, the live view showing it); the motion detector reads its Y plane and Detect scales its planes
/// straight to the model's input size (<see cref="FrameScaler"/>), so a frame that is gated, dropped or only inferred
/// never pays the full-resolution conversion.
/// Exactly one stage owns a frame at a time; ownership moves with the frame through the channels, and whoever holds it
/// last (or drops it) disposes it, which returns its buffers to the pool.
/// </summary>
public sealed class Frame : IDisposable
{
    private PixelBuffer? _buffer;
    private readonly FrameBufferPool _pool;
    private readonly Mat _pixels; // BGR24: the image; I420: (H x 3/2) x W bytes, the planes one after another
    private Mat? _y;
    private Mat? _u;
    private Mat? _v;
    private PixelBuffer? _bgrBuffer; // I420 only: the full-resolution BGR picture, made on the first Image
    private Mat? _bgr;

    private Frame(FrameBufferPool pool, PixelBuffer buffer, PixelFormat format, int width, int height, string cameraId, long sequence,
        DateTimeOffset captureTime, TimeSpan? pts, bool isLive)
    {
        _pool = pool;
        _buffer = buffer;
        Format = format;
        Width = width;
        Height = height;
        CameraId = cameraId;
        Sequence = sequence;
        CaptureTime = captureTime;
        Pts = pts;
        IsLive = isLive;
        CapturedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        // Native memory: the pointer stays valid until the buffer goes back to the pool, after the Mat is disposed.
        _pixels = format == PixelFormat.Bgr24
            ? Mat.FromPixelData(height, width, MatType.CV_8UC3, buffer.Pointer)
            : Mat.FromPixelData(height * 3 / 2, width, MatType.CV_8UC1, buffer.Pointer);
    }

    /// <summary>Rents a BGR24 frame of the given size; its pixels are uninitialised until the caller fills them.</summary>
    public static Frame Rent(string cameraId, long sequence, int width, int height, DateTimeOffset captureTime,
        TimeSpan? pts = null, bool isLive = true, FrameBufferPool? pool = null) =>
        Rent(PixelFormat.Bgr24, cameraId, sequence, width, height, captureTime, pts, isLive, pool);

    /// <summary>
    /// Rents a frame of the given size and layout; its pixels are uninitialised until the caller fills them. I420 needs an
    /// even width and height (<see cref="CanHoldI420"/>).
    /// </summary>
    public static Frame Rent(PixelFormat format, string cameraId, long sequence, int width, int height, DateTimeOffset captureTime,
        TimeSpan? pts = null, bool isLive = true, FrameBufferPool? pool = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cameraId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (format == PixelFormat.I420 && !CanHoldI420(width, height))
        {
            throw new ArgumentException($"an I420 frame needs an even width and height, got {width}x{height}", nameof(format));
        }

        pool ??= FrameBufferPool.Shared;
        var buffer = pool.Rent(ByteCount(format, width, height));
        return new Frame(pool, buffer, format, width, height, cameraId, sequence, captureTime, pts, isLive);
    }

    /// <summary>True when a picture of this size can be held as I420 (even width and height).</summary>
    public static bool CanHoldI420(int width, int height) => width > 0 && height > 0 && width % 2 == 0 && height % 2 == 0;

    /// <summary>The bytes a picture of this size takes in <paramref name="format"/>.</summary>
    public static int ByteCount(PixelFormat format, int width, int height) =>
        format == PixelFormat.Bgr24 ? checked(width * height * 3) : checked(width * height * 3 / 2);

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
        source.CopyTo(frame._pixels);
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

    /// <summary>
    /// The settings of the camera run this frame belongs to (its entry under <c>Cameras</c>, zones, lines and objects
    /// included), set by ingest with <see cref="Epoch"/>; null for frames made elsewhere. Track reads it when a run starts.
    /// </summary>
    public CameraOptions? Camera { get; set; }

    /// <summary>Wall-clock time at which the frame was captured (decoded) by ingest.</summary>
    public DateTimeOffset CaptureTime { get; }

    /// <summary>Presentation time stamp from the stream, when the source provides one.</summary>
    public TimeSpan? Pts { get; }

    /// <summary>
    /// When the picture happened on the camera's own timeline, the clock tracking and events run on. A recording's frames
    /// carry their media time (<see cref="Pts"/>, counted from the run's start, <see cref="Epoch"/>), whatever the pacing:
    /// decoded ahead in bursts at full speed or played at its own rate, a frame is 1/fps after the one before it, so a
    /// recording gives the same tracks and events analysed as fast as possible as played like a live camera. Frames
    /// without a stream time (live network cameras and devices, whose clock is not ours) use <see cref="CaptureTime"/>.
    /// </summary>
    public DateTimeOffset MediaTime => Pts is { } pts ? DateTimeOffset.FromUnixTimeMilliseconds(Epoch) + pts : CaptureTime;

    /// <summary>True for live sources (RTSP, devices, paced files): stale frames may be dropped. False: nothing may be dropped.</summary>
    public bool IsLive { get; }

    public int Width { get; }

    public int Height { get; }

    /// <summary>How <see cref="Pixels"/> are laid out.</summary>
    public PixelFormat Format { get; }

    /// <summary>
    /// The picture as BGR24 at full resolution. Valid until the frame is disposed; do not dispose it yourself. For an
    /// I420 frame the first call converts it (BT.601, limited range, as decoders and swscale do) into a second pooled
    /// buffer, and later calls return the same picture; only the frame's owner may call it.
    /// </summary>
    public Mat Image
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            if (Format == PixelFormat.Bgr24)
            {
                return _pixels;
            }

            if (_bgr is null)
            {
                _bgrBuffer = _pool.Rent(ByteCount(PixelFormat.Bgr24, Width, Height));
                _bgr = Mat.FromPixelData(Height, Width, MatType.CV_8UC3, _bgrBuffer.Pointer);
                Cv2.CvtColor(_pixels, _bgr, ColorConversionCodes.YUV2BGR_I420);
                _pool.CountBgrConversion();
            }

            return _bgr;
        }
    }

    /// <summary>True when <see cref="Image"/> costs nothing: a BGR24 frame, or an I420 frame already converted.</summary>
    public bool HasBgr => Format == PixelFormat.Bgr24 || _bgr is not null;

    /// <summary>I420 only: the Y plane (luma, limited range 16-235), W x H, one byte per pixel.</summary>
    public Mat Luma => Plane(ref _y, 0, Width, Height);

    /// <summary>I420 only: the U (Cb) plane, W/2 x H/2.</summary>
    public Mat ChromaU => Plane(ref _u, Width * Height, Width / 2, Height / 2);

    /// <summary>I420 only: the V (Cr) plane, W/2 x H/2.</summary>
    public Mat ChromaV => Plane(ref _v, Width * Height * 5 / 4, Width / 2, Height / 2);

    /// <summary>Raw pixel bytes in <see cref="Format"/>'s layout (BGR24: row-major, no padding; I420: Y, U, V planes).</summary>
    public Span<byte> Pixels
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            return _buffer.Span[..ByteCount(Format, Width, Height)];
        }
    }

    /// <summary>Start of <see cref="Pixels"/> in native memory (valid until the frame is disposed).</summary>
    public IntPtr PixelPointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            return _buffer.Pointer;
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

        _pixels.Dispose();
        _y?.Dispose();
        _u?.Dispose();
        _v?.Dispose();
        _bgr?.Dispose();
        if (_bgrBuffer is not null)
        {
            _pool.Return(_bgrBuffer);
            _bgrBuffer = null;
        }

        _pool.Return(buffer);
    }

    private Mat Plane(ref Mat? plane, int offset, int width, int height)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        if (Format != PixelFormat.I420)
        {
            throw new InvalidOperationException($"frame {CameraId}/{Sequence} is {Format}; only I420 frames have planes");
        }

        return plane ??= Mat.FromPixelData(height, width, MatType.CV_8UC1, _buffer.Pointer + offset);
    }
}

/// <summary>How a <see cref="Frame"/>'s pixels are laid out.</summary>
public enum PixelFormat
{
    /// <summary>Three bytes per pixel, blue, green, red (OpenCV's order).</summary>
    Bgr24,

    /// <summary>Planar YUV 4:2:0 (BT.601 limited range): a W x H Y plane, then W/2 x H/2 U and V planes.</summary>
    I420,
}
