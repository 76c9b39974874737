using Streaming.Core;

namespace Streaming.Ingest.Motion;

/// <summary>
/// The motion measurement of one camera whose gate is <see cref="GateMode.Motion"/>: runs its <see cref="MotionDetector"/>
/// on every decoded frame, on the camera's own thread, and stamps the result on the frame (<see cref="Frame.Motion"/>)
/// for Detect's gate. Keeps the counts the camera's metrics report. A frame the detector fails on is marked as moving
/// (the model then looks at it), never dropped.
/// </summary>
internal sealed class CameraMotion : IDisposable
{
    private readonly MotionDetector _detector;
    private long _measured;
    private long _moving;
    private double _ratio;
    private TimeSpan? _last;

    private CameraMotion(MotionDetector detector) => _detector = detector;

    /// <summary>The camera's motion measurement, or null when its gate (its own, else the global one) is not motion.</summary>
    public static CameraMotion? For(CameraOptions camera, IGateSettings? settings)
    {
        ArgumentNullException.ThrowIfNull(camera);
        var gate = camera.Gate ?? settings?.Gate ?? GateMode.None;
        return gate == GateMode.Motion ? new CameraMotion(MotionDetector.ForCamera(camera, settings?.Motion ?? new MotionOptions())) : null;
    }

    /// <summary>Frames measured so far.</summary>
    public long Measured => Interlocked.Read(ref _measured);

    /// <summary>Frames with motion so far.</summary>
    public long Moving => Interlocked.Read(ref _moving);

    /// <summary>Share of recent frames with motion (exponential average over about the last 50 frames).</summary>
    public double Ratio => Volatile.Read(ref _ratio);

    public void Measure(Frame frame)
    {
        FrameMotion motion;
        try
        {
            // Media time where the source has it (files, played at any pace), else the capture clock.
            var at = frame.Pts ?? TimeSpan.FromTicks(frame.CaptureTime.UtcTicks);
            var sinceLast = _last is { } last && at > last ? at - last : TimeSpan.Zero;
            _last = at;
            // An I420 frame is measured on its Y plane: no colour conversion at all.
            motion = frame.Format == PixelFormat.I420 ? _detector.DetectLuma(frame.Luma, sinceLast) : _detector.Detect(frame.Image, sinceLast);
        }
        catch (OpenCvSharp.OpenCVException)
        {
            motion = new FrameMotion(1, true, SceneChange: true);
            _detector.Reset();
        }

        frame.Motion = motion;
        Interlocked.Increment(ref _measured);
        if (motion.HasMotion)
        {
            Interlocked.Increment(ref _moving);
        }

        Volatile.Write(ref _ratio, _ratio + (((motion.HasMotion ? 1 : 0) - _ratio) / 50));
    }

    /// <summary>A new connection: the background starts again from its first frame.</summary>
    public void Reset()
    {
        _detector.Reset();
        _last = null;
    }

    public void Dispose() => _detector.Dispose();
}
