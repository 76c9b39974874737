using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// Sources decoded in-process: files and network cameras (rtsp, http) by the system FFmpeg libraries
/// (<see cref="LibavDecoder"/>; files with <c>Ingest:FileDecoder = Libav</c>), files by OpenCV VideoCapture
/// (<see cref="OpenCvDecoder"/>) otherwise, devices by VideoCapture. Each kept picture is converted to BGR straight
/// into the pooled frame's buffer (resized to the output size when one is configured): no per-frame allocations.
/// Files can loop and can be paced at their own frame rate. The fps cap decides on the grabbed picture's time before
/// anything is converted or copied: a picture dropped for MaxFps is decoded and released, nothing more.
/// </summary>
internal sealed class CaptureFrameSource : IFrameSource, IClipSource
{
    private readonly CameraOptions _camera;
    private readonly FrameBufferPool _pool;
    private readonly TimeProvider _time;
    private readonly SourceKind _kind;
    private readonly string _path;
    private readonly int _threads;
    private readonly FileDecoder _decoder;
    private readonly IngestOptions? _network;
    private readonly ILogger? _logger;
    private volatile IPictureDecoder? _capture;
    private readonly TimeSpan _clipBuffer;

    // Clips: how a frame's media time maps to the decoder's packet times. Files: the decoder time is the media time since
    // the run's start less the pass offset (_clipPassOffsetTicks). Network cameras: the latest (capture time, decoder
    // time) pair, since their frames are timed by capture. Written by the camera's thread, read by the sink's.
    private readonly Lock _clipGate = new();
    private long _clipPassOffsetTicks;
    private long _clipAnchorCaptureTicks;
    private long _clipAnchorMicroseconds = long.MinValue;

    /// <summary>Cameras already warned that SkipFrames=NonKey delivers fewer frames than their MaxFps asks for.</summary>
    private static readonly ConcurrentDictionary<(string Camera, string Url), bool> WarnedNonKey = new();

    // SkipFrames=NonKey: the first delivered picture's time, to tell the keyframe rate once a second one arrives.
    private TimeSpan? _firstKeyTime;
    private bool _keyRateChecked;
    private volatile string? _abortReason;

    // Media time of the current pass and the offset that keeps PTS increasing across loops.
    private TimeSpan _ptsOffset;
    private TimeSpan _lastPts;
    private long _framesThisPass;
    private TimeSpan? _nextAllowed;

    // Native pacing: the wall clock (Stopwatch ticks) at which media time _paceBasePts is due.
    private long _paceBaseTicks;
    private TimeSpan _paceBasePts;
    private bool _paceStarted;

    /// <param name="threads">Decoder threads for files (0: the decoder's default).</param>
    /// <param name="decoder">Which decoder reads a file (<see cref="FileDecoder.Libav"/> or <see cref="FileDecoder.OpenCv"/>); devices always use VideoCapture, network cameras libav.</param>
    /// <param name="network">Network cameras: the timeouts and transport (Ingest options).</param>
    public CaptureFrameSource(CameraOptions camera, int threads = 0, FileDecoder decoder = FileDecoder.OpenCv,
        FrameBufferPool? pool = null, TimeProvider? time = null, IngestOptions? network = null, ILogger? logger = null, TimeSpan clipBuffer = default)
    {
        _clipBuffer = clipBuffer;
        _network = network;
        _logger = logger;
        _pool = pool ?? FrameBufferPool.Shared;
        _time = time ?? TimeProvider.System;
        _camera = camera;
        _kind = CameraSource.Classify(camera.Url);
        _path = _kind == SourceKind.File ? CameraSource.FilePath(camera.Url) : camera.Url;
        _threads = threads;
        _decoder = _kind == SourceKind.Network || (_kind == SourceKind.File && decoder == FileDecoder.Libav) ? FileDecoder.Libav : FileDecoder.OpenCv;
    }

    /// <summary>The in-process libav decoder's counts (decoded, converted) of the current connection; null for OpenCV.</summary>
    internal (long Decoded, long Converted)? DecoderCounts => (_capture as LibavDecoder)?.Counts;

    /// <summary>RTSP: the transport the connection uses ("tcp", "udp"); empty otherwise.</summary>
    internal string Transport => (_capture as LibavDecoder)?.Transport ?? string.Empty;

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

        _capture?.Dispose();
        _capture = null;
        if (_decoder == FileDecoder.Libav)
        {
            // The decoder exists before the blocking open, so that Abort (watchdog, shutdown) can end it.
            var libav = LibavDecoder.Create();
            _capture = libav;
            if (_clipBuffer > TimeSpan.Zero)
            {
                // Before the open, so that the buffer starts at the stream's first keyframe.
                libav.SetClipBuffer(_clipBuffer);
            }

            using var stop = cancellationToken.Register(() => Abort("stopped"));
            if (_abortReason is not null)
            {
                libav.Abort();
            }

            var settings = _kind == SourceKind.Network
                ? LibavSettings.Network(_camera, _network ?? new IngestOptions())
                : LibavSettings.File(_path, _threads, _camera.SkipFrames);
            try
            {
                libav.Open(settings);
            }
            catch (SourceException ex) when (_abortReason is { } why)
            {
                throw new SourceException(why, recoverable: true, ex);
            }

            if (settings.Transport == "auto" && libav.Transport == "udp" && _logger is not null)
            {
                Log.RtspFellBackToUdp(_logger, _camera.Id);
            }
        }
        else
        {
            _capture = OpenCvDecoder.Open(_path, _kind == SourceKind.Device, _threads);
        }

        _framesThisPass = 0;
        NominalFps = _capture.Fps;
        FrameCountHint = _capture.FrameCount;
        (Width, Height) = OutputSize(_camera, _capture.Width, _capture.Height);
    }

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
        TimeSpan? lastDecoderPts;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_abortReason is { } reason)
            {
                throw new SourceException(reason, recoverable: true);
            }

            bool grabbed;
            TimeSpan? grabbedPts;
            try
            {
                grabbed = capture.Grab(out grabbedPts);
            }
            catch (SourceException ex) when (_abortReason is { } why)
            {
                throw new SourceException(why, recoverable: true, ex);
            }

            if (!grabbed)
            {
                if (_kind == SourceKind.Device)
                {
                    throw new SourceException("device stopped delivering frames (unplugged or in use?)", recoverable: true);
                }

                if (_kind == SourceKind.Network)
                {
                    throw new SourceException("stream ended (the camera closed the connection); will reconnect", recoverable: true);
                }

                if (_framesThisPass == 0)
                {
                    throw OpenCvDecoder.Unreadable(device: false, "has no decodable video frames");
                }

                if (!_camera.Loop)
                {
                    return null;
                }

                // Start again; media time carries on from the end of this pass.
                _ptsOffset += _lastPts + FrameInterval();
                capture.Restart();
                // After the restart, which emptied the clip buffer: a cut racing it finds no packets rather than wrong ones.
                Volatile.Write(ref _clipPassOffsetTicks, _ptsOffset.Ticks);
                _framesThisPass = 0;
                continue;
            }

            _framesThisPass++;
            lastDecoderPts = grabbedPts;
            pts = MediaTime(grabbedPts);
            _lastPts = pts - _ptsOffset;
            if (_camera.SkipFrames == SkipFrames.NonKey && !_keyRateChecked)
            {
                CheckKeyframeRate(pts);
            }

            if (_camera.MaxFps > 0)
            {
                // Keep a frame only when its time reached the next allowed slot. A frame dropped here is only decoded:
                // no colour conversion, no copy, no pooled buffer (Retrieve below is never called for it).
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

        // Network cameras: the pipeline's time is the capture time (the stream's own clock is the camera's, not ours).
        var framePts = _kind == SourceKind.Network ? (TimeSpan?)null : pts;
        // I420 where the decoder hands out its planes (the system FFmpeg): half the bytes of BGR and no colour conversion;
        // the full-resolution BGR is made only if the sink or the live view asks for it.
        var i420 = capture.CanRetrieveI420 && Frame.CanHoldI420(Width, Height);
        var captureTime = _time.GetUtcNow();
        if (_kind == SourceKind.Network && _clipBuffer > TimeSpan.Zero && lastDecoderPts is { } decoderPts)
        {
            lock (_clipGate)
            {
                _clipAnchorCaptureTicks = captureTime.UtcTicks;
                _clipAnchorMicroseconds = (long)decoderPts.TotalMicroseconds;
            }
        }

        var frame = Frame.Rent(i420 ? PixelFormat.I420 : PixelFormat.Bgr24, cameraId, sequence, Width, Height, captureTime, framePts, live, _pool);
        try
        {
            if (i420)
            {
                capture.RetrieveI420(frame);
            }
            else
            {
                capture.Retrieve(frame.Image);
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

    /// <summary>
    /// SkipFrames=NonKey delivers one frame per keyframe: once two have arrived, warns (once per camera) when MaxFps asks
    /// for more frames than that, since the cap cannot be met.
    /// </summary>
    private void CheckKeyframeRate(TimeSpan time)
    {
        if (_firstKeyTime is not { } first)
        {
            _firstKeyTime = time;
            return;
        }

        _keyRateChecked = true;
        var interval = time - first;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        var keyRate = 1 / interval.TotalSeconds;
        if ((_camera.MaxFps <= 0 || _camera.MaxFps > keyRate * 1.05) && _logger is not null && WarnedNonKey.TryAdd((_camera.Id, _camera.Url), true))
        {
            Log.NonKeyBelowMaxFps(_logger, _camera.Id, keyRate, _camera.MaxFps);
        }
    }

    private TimeSpan MediaTime(TimeSpan? decoded)
    {
        if (_kind is SourceKind.Device or SourceKind.Network)
        {
            return Stopwatch.GetElapsedTime(0);
        }

        return _ptsOffset + (decoded ?? (_framesThisPass - 1) * FrameInterval());
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

    /// <summary>True when this source keeps a clip buffer (the in-process decoder with Clips on).</summary>
    public bool HasClipBuffer => _clipBuffer > TimeSpan.Zero && _decoder == FileDecoder.Libav;

    /// <summary>What the clip buffer holds now (packets, bytes, media times of its first keyframe and newest packet); null without one.</summary>
    internal (long Packets, long Bytes, TimeSpan First, TimeSpan Newest)? ClipStats => HasClipBuffer && _capture is LibavDecoder libav ? libav.ClipStats : null;

    public long BufferedBytes
    {
        get
        {
            try
            {
                return ClipStats?.Bytes ?? 0;
            }
            catch (ObjectDisposedException)
            {
                return 0; // the connection closed at the same moment
            }
        }
    }

    public DateTimeOffset? BufferedUntil(long epoch)
    {
        if (!HasClipBuffer || _capture is not LibavDecoder libav)
        {
            return null;
        }

        try
        {
            var stats = libav.ClipStats;
            return stats.Packets == 0 ? null : ToMediaTime(epoch, stats.Newest);
        }
        catch (ObjectDisposedException)
        {
            return null; // the connection closed at the same moment
        }
    }

    public ClipResult? Cut(long epoch, DateTimeOffset from, DateTimeOffset to, string path)
    {
        if (!HasClipBuffer || _capture is not LibavDecoder libav)
        {
            return null;
        }

        var decoderFrom = ToDecoderTime(epoch, from);
        var decoderTo = ToDecoderTime(epoch, to);
        if (decoderFrom is null || decoderTo is null)
        {
            throw new ClipException("window", "no frame has been timed on this connection yet");
        }

        try
        {
            var (first, last, packets) = libav.Clip(decoderFrom.Value, decoderTo.Value, path);
            return new ClipResult(ToMediaTime(epoch, first) ?? from, ToMediaTime(epoch, last) ?? to, packets, new FileInfo(path).Length);
        }
        catch (ObjectDisposedException ex)
        {
            throw new ClipException("window", "the camera's connection closed (reconnect or stop); its buffer went with it", ex);
        }
    }

    /// <summary>A frame's media time on the decoder's clock (media time from the stream start); null before it can be mapped.</summary>
    private TimeSpan? ToDecoderTime(long epoch, DateTimeOffset time)
    {
        if (_kind != SourceKind.Network)
        {
            return time - DateTimeOffset.FromUnixTimeMilliseconds(epoch) - TimeSpan.FromTicks(Volatile.Read(ref _clipPassOffsetTicks));
        }

        lock (_clipGate)
        {
            return _clipAnchorMicroseconds == long.MinValue
                ? null
                : TimeSpan.FromMicroseconds(_clipAnchorMicroseconds) + (time - new DateTimeOffset(_clipAnchorCaptureTicks, TimeSpan.Zero));
        }
    }

    private DateTimeOffset? ToMediaTime(long epoch, TimeSpan decoderTime)
    {
        if (_kind != SourceKind.Network)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(epoch) + TimeSpan.FromTicks(Volatile.Read(ref _clipPassOffsetTicks)) + decoderTime;
        }

        lock (_clipGate)
        {
            return _clipAnchorMicroseconds == long.MinValue
                ? null
                : new DateTimeOffset(_clipAnchorCaptureTicks, TimeSpan.Zero) + (decoderTime - TimeSpan.FromMicroseconds(_clipAnchorMicroseconds));
        }
    }

    public void Abort(string reason)
    {
        _abortReason ??= reason;
        try
        {
            _capture?.Abort();
        }
        catch (ObjectDisposedException)
        {
            // Closed at the same moment.
        }
    }

    public void Dispose()
    {
        _capture?.Dispose();
        _capture = null;
    }
}
