using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Streaming.Core;

/// <summary>Whether Detect runs the model on every frame of a camera or only where something moves.</summary>
public enum GateMode
{
    /// <summary>Every frame that reaches Detect is inferred.</summary>
    None,

    /// <summary>
    /// Ingest measures motion on each frame; Detect infers a frame when there is motion, for <see cref="MotionOptions.HoldSeconds"/>
    /// after motion or after the camera's detections last moved, and otherwise once per <see cref="MotionOptions.RefreshSeconds"/>.
    /// Frames between go to Track marked as not inferred, and tracks coast on their prediction.
    /// </summary>
    Motion,
}

/// <summary>
/// The motion detector's thresholds and the gate's timing (config <c>Detect:Motion</c>; the gate itself is
/// <c>Detect:Gate</c>, and each camera may override it with its own <c>Gate</c> and add <c>MotionMasks</c>).
/// Lives in the shared contracts because Ingest measures motion (per camera, on its own thread) and Detect decides.
/// </summary>
public sealed class MotionOptions
{
    /// <summary>Height in pixels of the grey picture motion is measured on (the width follows the aspect).</summary>
    [Range(36, 1080)]
    public int FrameHeight { get; set; } = 100;

    /// <summary>A pixel counts as changed when its grey value differs from the background by more than this (0-255).</summary>
    [Range(1, 254)]
    public int Threshold { get; set; } = 30;

    /// <summary>The smallest changed region that counts as motion, as a percentage of the frame's area.</summary>
    [Range(0.0, 100.0)]
    public double MinAreaPercent { get; set; } = 0.03;

    /// <summary>
    /// How fast the background average follows the picture: the weight of one frame at 10 frames/s (0-1; accumulateWeighted's
    /// alpha). Frames further apart weigh more (1 - (1 - alpha)^(seconds x 10)), so the background forgets at the same speed
    /// in seconds whatever the camera's MaxFps.
    /// </summary>
    [Range(0.001, 1.0)]
    public double BackgroundAlpha { get; set; } = 0.05;

    /// <summary>
    /// A change that stays in motion this long without a break (seconds) is taken into the background at once (a car that
    /// parked, a chair moved, the picture shifted). Until then the background does not learn the pixels in motion, so a
    /// passing car leaves no ghost that reads as motion after it has gone.
    /// </summary>
    [Range(0.1, 3600.0)]
    public double StillAfterSeconds { get; set; } = 2;

    /// <summary>
    /// A change over more than this percentage of the (unmasked) frame, left after brightness compensation, is taken
    /// as the whole scene changing (lighting switched, camera moved): the background restarts from the current picture.
    /// </summary>
    [Range(1.0, 100.0)]
    public double SceneChangePercent { get; set; } = 60;

    /// <summary>
    /// Without motion, a camera's frame is still inferred this often (seconds), so stationary objects stay tracked and
    /// still ones are confirmed. 5 s: Frigate re-detects stationary objects every 50 frames (10 s at its 5 fps); tracks
    /// coast between looks without ageing (docs/detect.md, "Why these defaults").
    /// </summary>
    [Range(0.0, 3600.0)]
    public double RefreshSeconds { get; set; } = 5;

    /// <summary>
    /// After motion, or after the camera's detections last moved, frames are inferred for this long (seconds). 0.5: an
    /// object that stops is still motion for <see cref="StillAfterSeconds"/> (the background does not learn it before),
    /// so the hold only has to bridge the frames after the last motion (docs/detect.md, "Why these defaults").
    /// </summary>
    [Range(0.0, 3600.0)]
    public double HoldSeconds { get; set; } = 0.5;
}

/// <summary>What ingest measured on one frame of a camera whose gate is <see cref="GateMode.Motion"/>.</summary>
/// <param name="Fraction">Changed area after masks, brightness compensation and the minimum area, as a fraction of the frame (0-1).</param>
/// <param name="HasMotion">True when some region of at least the minimum area changed (or the whole scene did).</param>
/// <param name="SceneChange">True when the scene changed as a whole and the background was restarted.</param>
public readonly record struct FrameMotion(float Fraction, bool HasMotion, bool SceneChange = false);

/// <summary>
/// A polygon of the picture to ignore for motion (timestamps, trees), written as Frigate writes masks:
/// <c>"x1,y1,x2,y2,x3,y3,..."</c>. Coordinates all between 0 and 1 are fractions of the width and height; otherwise
/// they are pixels of the camera's frames.
/// </summary>
public sealed class MotionMask
{
    private MotionMask(float[] coordinates, bool normalized)
    {
        Coordinates = coordinates;
        Normalized = normalized;
    }

    /// <summary>x1, y1, x2, y2, ...</summary>
    public IReadOnlyList<float> Coordinates { get; }

    public bool Normalized { get; }

    /// <summary>Parses a mask; null and a one-line reason when it is not a polygon.</summary>
    public static MotionMask? TryParse(string? text, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "is empty: write a polygon as \"x1,y1,x2,y2,x3,y3,...\" (fractions 0-1 of the frame, or pixels)";
            return null;
        }

        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length < 6 || parts.Length % 2 != 0)
        {
            error = $"'{text}' has {parts.Length} numbers: a polygon needs at least 3 x,y pairs (\"x1,y1,x2,y2,x3,y3\")";
            return null;
        }

        var values = new float[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]) || values[i] < 0)
            {
                error = $"'{text}': '{parts[i]}' is not a coordinate (a number >= 0, '.' as decimal point)";
                return null;
            }
        }

        return new MotionMask(values, values.All(v => v <= 1f));
    }

    /// <summary>The corners in pixels of a <paramref name="width"/> x <paramref name="height"/> picture whose frames are <paramref name="frameWidth"/> x <paramref name="frameHeight"/>.</summary>
    public OpenCvSharp.Point[] Scaled(int width, int height, int frameWidth, int frameHeight)
    {
        var sx = Normalized ? width : (double)width / frameWidth;
        var sy = Normalized ? height : (double)height / frameHeight;
        var points = new OpenCvSharp.Point[Coordinates.Count / 2];
        for (var i = 0; i < points.Length; i++)
        {
            points[i] = new OpenCvSharp.Point((int)Math.Round(Coordinates[2 * i] * sx), (int)Math.Round(Coordinates[(2 * i) + 1] * sy));
        }

        return points;
    }
}

/// <summary>The gate settings ingest needs to know (the global <c>Detect:Gate</c> and <c>Detect:Motion</c>), given by Detect's options.</summary>
public interface IGateSettings
{
    GateMode Gate { get; }

    MotionOptions Motion { get; }
}
