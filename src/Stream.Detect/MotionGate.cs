using Streaming.Core;

namespace Streaming.Detect;

/// <summary>
/// Decides, per camera, which frames the model looks at when the camera's gate is motion (its frames carry
/// <see cref="Frame.Motion"/>): a frame is inferred when it has motion, within <see cref="MotionOptions.HoldSeconds"/>
/// after motion or after the camera's detections last moved, and otherwise when <see cref="MotionOptions.RefreshSeconds"/>
/// have passed since the camera's last inferred frame (so stationary objects stay tracked). A frame without a motion
/// measurement (gate none) is always inferred. Time comes from the injected <see cref="TimeProvider"/>.
/// <para>Thread-safe: Detect's batching loop asks <see cref="ShouldInfer"/>, its inference loop reports detections through
/// <see cref="Observe"/>.</para>
/// </summary>
public sealed class MotionGate
{
    /// <summary>A detection must overlap the camera's previous one by this IoU to be the same object.</summary>
    private const float SameObjectIoU = 0.3f;

    /// <summary>The same object moved when its centre shifted by this share of its larger side.</summary>
    private const float MovedShare = 0.1f;

    /// <summary>Detections under this score are too unsure to keep the gate open.</summary>
    private const float MovingScore = 0.5f;

    private readonly TimeProvider _time;
    private readonly long _hold;
    private readonly long _refresh;
    private readonly Dictionary<string, CameraGate> _cameras = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public MotionGate(MotionOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _time = time ?? TimeProvider.System;
        _hold = (long)(options.HoldSeconds * _time.TimestampFrequency);
        _refresh = (long)(options.RefreshSeconds * _time.TimestampFrequency);
    }

    /// <summary>Whether the model should look at this frame of <paramref name="cameraId"/>; an inferred frame restarts the refresh interval.</summary>
    public bool ShouldInfer(string cameraId, FrameMotion? motion)
    {
        if (motion is not { } m)
        {
            return true;
        }

        var now = _time.GetTimestamp();
        lock (_lock)
        {
            var camera = Camera(cameraId);
            if (m.HasMotion)
            {
                camera.HoldUntil = Math.Max(camera.HoldUntil, now + _hold);
            }

            var infer = m.HasMotion || now < camera.HoldUntil || camera.LastInferred is null || now - camera.LastInferred.Value >= _refresh;
            if (infer)
            {
                camera.LastInferred = now;
            }

            return infer;
        }
    }

    /// <summary>
    /// The detections of an inferred frame: when one of them moved since the camera's previous inferred frame, or is new
    /// (no confident detection of its class overlapped it there), the gate holds open, so that a moving object stays
    /// looked at and a new one is seen again on the next frames, which the tracker needs to confirm it.
    /// </summary>
    public void Observe(string cameraId, IReadOnlyList<Detection> detections)
    {
        ArgumentNullException.ThrowIfNull(detections);
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            var camera = Camera(cameraId);
            if (MovedOrNew(camera.Previous, detections))
            {
                camera.HoldUntil = Math.Max(camera.HoldUntil, now + _hold);
            }

            camera.Previous.Clear();
            foreach (var d in detections)
            {
                if (d.Score >= MovingScore)
                {
                    camera.Previous.Add(d);
                }
            }
        }
    }

    /// <summary>Forgets a camera (it was removed).</summary>
    public void Forget(string cameraId)
    {
        lock (_lock)
        {
            _cameras.Remove(cameraId);
        }
    }

    /// <summary>
    /// True when a confident detection matches a previous one of its class (IoU >= 0.3) whose centre is 10 % of its size
    /// away, or matches none (it is new: a pedestrian too small for the motion detector, first seen on a refresh look).
    /// </summary>
    internal static bool MovedOrNew(List<Detection> previous, IReadOnlyList<Detection> detections)
    {
        foreach (var d in detections)
        {
            if (d.Score < MovingScore)
            {
                continue;
            }

            var best = 0f;
            var shift = 0f;
            foreach (var p in previous)
            {
                var iou = p.ClassId == d.ClassId ? p.Box.IoU(d.Box) : 0;
                if (iou > best)
                {
                    best = iou;
                    var size = Math.Max(1f, Math.Max(d.Box.Width, d.Box.Height));
                    shift = MathF.Sqrt(MathF.Pow(p.Box.CenterX - d.Box.CenterX, 2) + MathF.Pow(p.Box.CenterY - d.Box.CenterY, 2)) / size;
                }
            }

            if (best < SameObjectIoU || shift >= MovedShare)
            {
                return true;
            }
        }

        return false;
    }

    private CameraGate Camera(string cameraId)
    {
        if (!_cameras.TryGetValue(cameraId, out var camera))
        {
            camera = new CameraGate();
            _cameras[cameraId] = camera;
        }

        return camera;
    }

    private sealed class CameraGate
    {
        public long? LastInferred { get; set; }

        public long HoldUntil { get; set; }

        public List<Detection> Previous { get; } = [];
    }
}
