using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// An in-process decoder under <see cref="CaptureFrameSource"/>: OpenCV VideoCapture (<see cref="OpenCvDecoder"/>,
/// files and V4L2 devices) or the system FFmpeg libraries (<see cref="LibavDecoder"/>, files). Grab decodes the next
/// picture; Retrieve converts only the pictures that are kept (an fps cap skips the others cheaply).
/// </summary>
internal interface IPictureDecoder : IDisposable
{
    /// <summary>Source picture size.</summary>
    int Width { get; }

    int Height { get; }

    /// <summary>Nominal frame rate (0 when unknown).</summary>
    double Fps { get; }

    /// <summary>Frames the container states (0 when unknown or for devices).</summary>
    long FrameCount { get; }

    /// <summary>Decodes the next picture; false at the end of the stream. <paramref name="pts"/>: its media time from the start, null when unknown.</summary>
    bool Grab(out TimeSpan? pts);

    /// <summary>True when <see cref="RetrieveI420"/> works: the decoder hands out its YUV planes without a BGR conversion.</summary>
    bool CanRetrieveI420 { get; }

    /// <summary>Writes the grabbed picture as BGR24 into <paramref name="target"/> (preallocated at the output size).</summary>
    void Retrieve(Mat target);

    /// <summary>Writes the grabbed picture as I420 into <paramref name="target"/> (an I420 frame at the output size).</summary>
    void RetrieveI420(Frame target);

    /// <summary>Goes back to the first picture (a file that loops).</summary>
    void Restart();

    /// <summary>Makes a blocked <see cref="Grab"/> return soon (thread-safe; best effort).</summary>
    void Abort();
}

/// <summary>OpenCV <see cref="VideoCapture"/>: files (OpenCvSharp's bundled FFmpeg) and V4L2 devices.</summary>
internal sealed class OpenCvDecoder : IPictureDecoder
{
    /// <summary>cv::CAP_PROP_N_THREADS (decoder threads of the FFmpeg backend); OpenCvSharp has no name for it.</summary>
    private const int CapPropNThreads = 70;

    private readonly string _path;
    private readonly bool _device;
    private readonly int _threads;
    private VideoCapture _capture;
    private Mat? _scratch;
    private long _grabbed;

    private OpenCvDecoder(string path, bool device, int threads)
    {
        (_path, _device, _threads) = (path, device, threads);
        _capture = OpenCapture();
        Width = _capture.FrameWidth;
        Height = _capture.FrameHeight;
        Fps = _capture.Fps is > 0 and < 1000 ? _capture.Fps : 0;
        FrameCount = device ? 0 : Math.Max(0, _capture.FrameCount);
    }

    public int Width { get; }

    public int Height { get; }

    public double Fps { get; }

    public long FrameCount { get; }

    /// <summary>Opens a file or device; throws <see cref="SourceException"/>.</summary>
    public static OpenCvDecoder Open(string path, bool device, int threads)
    {
        var decoder = new OpenCvDecoder(path, device, threads);
        if (decoder.Width <= 0 || decoder.Height <= 0)
        {
            decoder.Dispose();
            throw Unreadable(device, "the stream reports no picture size");
        }

        return decoder;
    }

    internal static SourceException Unreadable(bool device, string what) => device
        ? new SourceException($"device {what}; check that it exists, is a capture device and is not in use", recoverable: true)
        : new SourceException($"file {what}: it is corrupt or not a video OpenCV/FFmpeg can decode; replace it or re-encode it as H.264 MP4", recoverable: false);

    private VideoCapture OpenCapture()
    {
        var capture = _device ? new VideoCapture(_path, VideoCaptureAPIs.V4L2)
            : _threads > 0 ? new VideoCapture(_path, VideoCaptureAPIs.FFMPEG, [CapPropNThreads, _threads])
            : new VideoCapture(_path, VideoCaptureAPIs.FFMPEG);
        if (!capture.IsOpened())
        {
            capture.Dispose();
            throw Unreadable(_device, "cannot be opened");
        }

        _grabbed = 0;
        return capture;
    }

    public bool Grab(out TimeSpan? pts)
    {
        pts = null;
        if (!_capture.Grab())
        {
            return false;
        }

        _grabbed++;
        if (_device)
        {
            return true;
        }

        // PosMsec is 0 for the first frame and wherever the container has no timestamp.
        var ms = _capture.Get(VideoCaptureProperties.PosMsec);
        pts = ms > 0 || _grabbed == 1 ? TimeSpan.FromMilliseconds(ms) : null;
        return true;
    }

    /// <summary>VideoCapture converts to BGR itself.</summary>
    public bool CanRetrieveI420 => false;

    public void RetrieveI420(Frame target) => throw new NotSupportedException("OpenCV's VideoCapture delivers BGR only");

    public void Retrieve(Mat target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var data = target.Data;
        if (target.Width != Width || target.Height != Height)
        {
            _scratch ??= new Mat(Height, Width, MatType.CV_8UC3);
            if (!_capture.Retrieve(_scratch) || _scratch.Width != Width || _scratch.Height != Height)
            {
                throw new SourceException("picture size changed mid-stream", recoverable: true);
            }

            Cv2.Resize(_scratch, target, new Size(target.Width, target.Height), 0, 0, InterpolationFlags.Linear);
        }
        else if (!_capture.Retrieve(target))
        {
            throw new SourceException("a grabbed frame could not be converted", recoverable: true);
        }

        if (target.Data != data)
        {
            // OpenCV reallocated: the picture size changed, so the pooled buffer was not filled.
            throw new SourceException("picture size changed mid-stream", recoverable: true);
        }
    }

    public void Restart()
    {
        _capture.Dispose();
        _capture = OpenCapture();
    }

    public void Abort()
    {
        // VideoCapture cannot be interrupted; the source checks its abort flag between grabs.
    }

    public void Dispose()
    {
        _scratch?.Dispose();
        _scratch = null;
        _capture.Dispose();
    }
}
