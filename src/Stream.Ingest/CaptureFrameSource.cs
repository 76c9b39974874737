using System.Diagnostics;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// Files and V4L2 devices through OpenCV <see cref="VideoCapture"/>. Each frame is grabbed (decoded), then
/// retrieved (converted to BGR) straight into the pooled frame's buffer, or into one reused scratch image and
/// resized into the pooled frame when an output size is configured: no per-frame allocations.
/// Files can loop and can be paced at their own frame rate; the fps cap skips grabbed frames without converting them.
/// </summary>
internal sealed class CaptureFrameSource : IFrameSource
{
    /// <summary>cv::CAP_PROP_N_THREADS (decoder threads of the FFmpeg backend); OpenCvSharp has no name for it.</summary>
    private const int CapPropNThreads = 70;

    private readonly CameraOptions _camera;
    private readonly SourceKind _kind;
    private readonly string _path;
    private readonly int _threads;
    private VideoCapture? _capture;
    private Mat? _scratch;
    private volatile string? _abortReason;
    private bool _resize;
    private int _sourceWidth;
    private int _sourceHeight;

    // Media time of the current pass and the offset that keeps PTS increasing across loops.
    private TimeSpan _ptsOffset;
    private TimeSpan _lastPts;
    private long _framesThisPass;
    private TimeSpan? _nextAllowed;

    // Native pacing: the wall clock (Stopwatch ticks) at which media time _paceBasePts is due.
    private long _paceBaseTicks;
    private TimeSpan _paceBasePts;
    private bool _paceStarted;

    /// <param name="threads">Decoder threads for files (0: OpenCV's default).</param>
    public CaptureFrameSource(CameraOptions camera, int threads = 0)
    {
        _camera = camera;
        _kind = CameraSource.Classify(camera.Url);
        _path = _kind == SourceKind.File ? CameraSource.FilePath(camera.Url) : camera.Url;
        _threads = threads;
    }

    public int Width { get; private set; }

    public int Height { get; private set; }

    public double NominalFps { get; private set; }

    /// <summary>Frames in the file as its container states them (0 when unknown or for devices).</summary>
    public long FrameCountHint { get; private set; }

    public void Open(CancellationToken cancellationToken)
    {
        if (_kind == SourceKind.File && !File.Exists(_path))
        {
            throw new SourceException($"file not found; fix the path ({Environment.CurrentDirectory} is the working directory) or run scripts/setup.sh", recoverable: false);
        }

        OpenCapture();
        _sourceWidth = _capture!.FrameWidth;
        _sourceHeight = _capture.FrameHeight;
        if (_sourceWidth <= 0 || _sourceHeight <= 0)
        {
            throw Unreadable("the stream reports no picture size");
        }

        NominalFps = _capture.Fps is > 0 and < 1000 ? _capture.Fps : 0;
        FrameCountHint = _kind == SourceKind.File ? Math.Max(0, _capture.FrameCount) : 0;
        (Width, Height) = OutputSize(_camera, _sourceWidth, _sourceHeight);
        _resize = Width != _sourceWidth || Height != _sourceHeight;
        if (_resize)
        {
            _scratch = new Mat(_sourceHeight, _sourceWidth, MatType.CV_8UC3);
        }
    }

    private void OpenCapture()
    {
        _capture?.Dispose();
        _capture = null;
        VideoCapture capture;
        if (_kind == SourceKind.Device)
        {
            capture = new VideoCapture(_path, VideoCaptureAPIs.V4L2);
        }
        else if (_threads > 0)
        {
            capture = new VideoCapture(_path, VideoCaptureAPIs.FFMPEG, [CapPropNThreads, _threads]);
        }
        else
        {
            capture = new VideoCapture(_path, VideoCaptureAPIs.FFMPEG);
        }

        if (!capture.IsOpened())
        {
            capture.Dispose();
            throw Unreadable("cannot be opened");
        }

        _capture = capture;
        _framesThisPass = 0;
    }

    private SourceException Unreadable(string what) => _kind == SourceKind.Device
        ? new SourceException($"device {what}; check that it exists, is a capture device and is not in use", recoverable: true)
        : new SourceException($"file {what}: it is corrupt or not a video OpenCV/FFmpeg can decode; replace it or re-encode it as H.264 MP4", recoverable: false);

    /// <summary>Output size: the configured one, the source's, or the configured width with the source's aspect (even height).</summary>
    internal static (int Width, int Height) OutputSize(CameraOptions camera, int sourceWidth, int sourceHeight)
    {
        if (camera.Width <= 0)
        {
            return (sourceWidth, sourceHeight);
        }

        if (camera.Height > 0)
        {
            return (camera.Width, camera.Height);
        }

        var h = (int)Math.Round(camera.Width * (double)sourceHeight / sourceWidth / 2.0) * 2;
        return (camera.Width, Math.Max(2, h));
    }

    public Frame? Read(string cameraId, long sequence, bool live, CancellationToken cancellationToken)
    {
        var capture = _capture ?? throw new InvalidOperationException("Open the source first.");
        TimeSpan pts;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_abortReason is { } reason)
            {
                throw new SourceException(reason, recoverable: true);
            }

            if (!capture.Grab())
            {
                if (_kind == SourceKind.Device)
                {
                    throw new SourceException("device stopped delivering frames (unplugged or in use?)", recoverable: true);
                }

                if (_framesThisPass == 0)
                {
                    throw Unreadable("has no decodable video frames");
                }

                if (!_camera.Loop)
                {
                    return null;
                }

                // Start again; media time carries on from the end of this pass.
                _ptsOffset += _lastPts + FrameInterval();
                OpenCapture();
                capture = _capture!;
                continue;
            }

            _framesThisPass++;
            pts = MediaTime(capture);
            _lastPts = pts - _ptsOffset;
            if (_camera.MaxFps > 0)
            {
                // Keep a frame only when its media time reached the next allowed slot (grab without retrieve is cheap).
                _nextAllowed ??= pts;
                if (pts < _nextAllowed.Value)
                {
                    continue;
                }

                var step = TimeSpan.FromSeconds(1 / _camera.MaxFps);
                _nextAllowed = _nextAllowed.Value + step;
                if (pts - _nextAllowed.Value > step)
                {
                    _nextAllowed = pts + step;
                }
            }

            break;
        }

        if (_kind == SourceKind.File && _camera.Pacing == FilePacing.Native)
        {
            Pace(pts, cancellationToken);
        }

        var frame = Frame.Rent(cameraId, sequence, Width, Height, DateTimeOffset.UtcNow, pts, live);
        try
        {
            var target = frame.Image;
            var data = target.Data;
            if (_resize)
            {
                if (!capture.Retrieve(_scratch!) || _scratch!.Width != _sourceWidth || _scratch.Height != _sourceHeight)
                {
                    throw new SourceException("picture size changed mid-stream", recoverable: true);
                }

                Cv2.Resize(_scratch, target, new Size(Width, Height), 0, 0, InterpolationFlags.Linear);
            }
            else if (!capture.Retrieve(target))
            {
                throw new SourceException("a grabbed frame could not be converted", recoverable: true);
            }

            if (target.Data != data)
            {
                // OpenCV reallocated: the picture size changed, so the pooled buffer was not filled.
                throw new SourceException("picture size changed mid-stream", recoverable: true);
            }

            return frame;
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }

    private TimeSpan FrameInterval() => TimeSpan.FromSeconds(1 / (NominalFps > 0 ? NominalFps : 25));

    private TimeSpan MediaTime(VideoCapture capture)
    {
        if (_kind == SourceKind.Device)
        {
            return Stopwatch.GetElapsedTime(0);
        }

        var ms = capture.Get(VideoCaptureProperties.PosMsec);
        var local = ms > 0 || _framesThisPass == 1 ? TimeSpan.FromMilliseconds(ms) : (_framesThisPass - 1) * FrameInterval();
        return _ptsOffset + local;
    }

    private void Pace(TimeSpan pts, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        if (!_paceStarted)
        {
            _paceStarted = true;
            _paceBaseTicks = now;
            _paceBasePts = pts;
            return;
        }

        var due = _paceBaseTicks + (long)((pts - _paceBasePts).TotalSeconds * Stopwatch.Frequency);
        var wait = due - now;
        if (wait > 0)
        {
            if (cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency)))
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        else if (-wait > Stopwatch.Frequency)
        {
            // More than a second behind (machine overloaded): carry on from here rather than bursting to catch up.
            _paceBaseTicks = now;
            _paceBasePts = pts;
        }
    }

    public void Abort(string reason) => _abortReason ??= reason;

    public void Dispose()
    {
        _scratch?.Dispose();
        _scratch = null;
        _capture?.Dispose();
        _capture = null;
    }
}
