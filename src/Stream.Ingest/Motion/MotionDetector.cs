using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Ingest.Motion;

/// <summary>
/// One camera's motion detector, as Frigate's: the frame is shrunk to a small grey picture (<see cref="MotionOptions.FrameHeight"/>
/// rows), compared with a running average of the past pictures (the background), and the pixels that differ by more than
/// <see cref="MotionOptions.Threshold"/> are dilated and grouped into regions; regions of at least
/// <see cref="MotionOptions.MinAreaPercent"/> are motion. Masked polygons never count. The background learns only the
/// pixels outside motion regions (and those in motion for <see cref="MotionOptions.StillAfterSeconds"/>), so a passing
/// object leaves no ghost behind.
/// <para>A change of the whole picture's brightness (auto-exposure darkening the frame while a white car passes, clouds,
/// lights switched) is not motion: before differencing, the picture's grey levels are mapped linearly so that their mean
/// and spread over the unmasked area match the background's. A change over most of the picture that this does not
/// explain (<see cref="MotionOptions.SceneChangePercent"/>: the camera moved, a light came on in part of the room)
/// restarts the background from the current picture and is reported as a scene change, which counts as motion once.</para>
/// <para>Every picture lives in a Mat owned by this instance and reused frame after frame: no allocation per frame
/// once the size is known. Not thread-safe: one instance per camera, called from that camera's own thread.</para>
/// </summary>
public sealed class MotionDetector : IDisposable
{
    private readonly MotionOptions _options;
    private readonly IReadOnlyList<MotionMask> _masks;
    private readonly Mat _small = new();
    private readonly Mat _lumaSmall = new();
    private readonly Mat _grey = new();
    private readonly Mat _background = new();
    private readonly Mat _backgroundGrey = new();
    private readonly Mat _compensated = new();
    private readonly Mat _diff = new();
    private readonly Mat _binary = new();
    private readonly Mat _dilated = new();
    private readonly Mat _still = new(); // 255 outside motion regions
    private readonly Mat _motionAge = new(); // seconds each pixel has been in motion without a break (float)
    private readonly Mat _aged = new();
    private readonly Mat _agedMask = new();
    private bool _motionAged; // some pixel of _motionAge may be non-zero
    private readonly Mat _kernel = Cv2.GetStructuringElement(MorphShapes.Rect, new Size(3, 3));
    private readonly List<Rect> _regions = [];
    private readonly Mat _noMask = new(); // an empty mask: every pixel counts
    private Mat? _keep; // 255 where motion counts, 0 in masked areas; null without masks
    private int _frameWidth;
    private int _frameHeight;
    private int _counted; // unmasked pixels of the small picture
    private bool _hasBackground;

    public MotionDetector(MotionOptions options, IReadOnlyList<MotionMask>? masks = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _masks = masks ?? [];
    }

    /// <summary>Builds a detector for a camera's options: its masks parsed (the camera's checks already rejected bad ones).</summary>
    public static MotionDetector ForCamera(CameraOptions camera, MotionOptions options)
    {
        ArgumentNullException.ThrowIfNull(camera);
        var masks = new List<MotionMask>(camera.MotionMasks.Count);
        foreach (var text in camera.MotionMasks)
        {
            masks.Add(MotionMask.TryParse(text, out var error) ?? throw new ArgumentException($"camera '{camera.Id}': MotionMasks {error}"));
        }

        return new MotionDetector(options, masks);
    }

    /// <summary>Motion regions of the last frame, in the frame's pixels.</summary>
    public IReadOnlyList<Rect> Regions => _regions;

    /// <summary>Forgets the background: the next frame starts it afresh (e.g. after a reconnect).</summary>
    public void Reset()
    {
        _hasBackground = false;
        ClearMotionAge();
    }

    /// <summary>
    /// The frame rate at which <see cref="MotionOptions.BackgroundAlpha"/> is the weight of one frame: frames further apart
    /// weigh more, so that the background follows the scene at the same speed in seconds whatever MaxFps lets through.
    /// </summary>
    public const double ReferenceFps = 10;

    /// <summary>Measures motion in a BGR frame (any size; a size change restarts the background), each frame weighing <see cref="MotionOptions.BackgroundAlpha"/>.</summary>
    public FrameMotion Detect(Mat bgr) => Detect(bgr, TimeSpan.Zero);

    /// <summary>
    /// Measures motion in a BGR frame that came <paramref name="sinceLast"/> after the previous one: the background takes
    /// it in with weight 1 - (1 - alpha)^(sinceLast x <see cref="ReferenceFps"/>), so a camera capped at 2 frames/s
    /// forgets a passed car as fast as one at 10. <see cref="TimeSpan.Zero"/>: alpha as it is, per frame.
    /// </summary>
    public FrameMotion Detect(Mat bgr, TimeSpan sinceLast)
    {
        ArgumentNullException.ThrowIfNull(bgr);
        if (bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"Detect needs a BGR picture, got {bgr.Type()}; use DetectLuma for a Y plane", nameof(bgr));
        }

        if (bgr.Width != _frameWidth || bgr.Height != _frameHeight)
        {
            Prepare(bgr.Width, bgr.Height);
        }

        // Shrink first, then convert: the colour conversion touches the small picture only. Bilinear (INTER_AREA costs
        // about 8x more on 720p).
        Cv2.Resize(bgr, _small, _grey.Size(), 0, 0, InterpolationFlags.Linear);
        Cv2.CvtColor(_small, _grey, ColorConversionCodes.BGR2GRAY);
        return Measure(sinceLast);
    }

    /// <summary>
    /// Measures motion in a decoder's Y plane (limited-range luma, 16-235, as in an I420 frame), so that no colour
    /// conversion is made at all: the plane is shrunk and its levels stretched to 0-255, which is the grey a BGR
    /// conversion of the same picture would give (BT.601 luma), so thresholds mean the same on either path.
    /// </summary>
    public FrameMotion DetectLuma(Mat luma, TimeSpan sinceLast)
    {
        ArgumentNullException.ThrowIfNull(luma);
        if (luma.Type() != MatType.CV_8UC1)
        {
            throw new ArgumentException($"DetectLuma needs a one-byte-per-pixel Y plane, got {luma.Type()}", nameof(luma));
        }

        if (luma.Width != _frameWidth || luma.Height != _frameHeight)
        {
            Prepare(luma.Width, luma.Height);
        }

        Cv2.Resize(luma, _lumaSmall, _grey.Size(), 0, 0, InterpolationFlags.Linear);
        _lumaSmall.ConvertTo(_grey, MatType.CV_8UC1, 255.0 / 219, -16 * 255.0 / 219);
        return Measure(sinceLast);
    }

    private FrameMotion Measure(TimeSpan sinceLast)
    {
        // A 3x3 blur against the noise that sampling keeps.
        Cv2.GaussianBlur(_grey, _grey, new Size(3, 3), 0);
        _regions.Clear();
        if (!_hasBackground)
        {
            _grey.ConvertTo(_background, MatType.CV_32FC1);
            _hasBackground = true;
            return new FrameMotion(0, false);
        }

        // Brightness compensation: exposure scales grey levels (a power law keeps a gain a gain after gamma), so the
        // picture is scaled by the ratio of the background's median to its own. Medians, not means: a white car
        // covering a tenth of the frame moves the mean, not the median.
        _background.ConvertTo(_backgroundGrey, MatType.CV_8UC1);
        var medianNow = Median(_grey);
        var medianBg = Median(_backgroundGrey);
        var gain = medianNow > 2 ? Math.Clamp((double)medianBg / medianNow, 0.25, 4) : 1;
        _grey.ConvertTo(_compensated, MatType.CV_8UC1, gain, 0);

        Cv2.Absdiff(_compensated, _backgroundGrey, _diff);
        Cv2.Threshold(_diff, _binary, _options.Threshold, 255, ThresholdTypes.Binary);
        if (_keep is not null)
        {
            Cv2.BitwiseAnd(_binary, _keep, _binary);
        }

        var changed = Cv2.CountNonZero(_binary);
        if (changed > _counted * _options.SceneChangePercent / 100)
        {
            // Not explained by brightness: the scene changed as a whole. Start the background again from here.
            _grey.ConvertTo(_background, MatType.CV_32FC1);
            ClearMotionAge();
            return new FrameMotion(1, true, SceneChange: true);
        }

        var alpha = Weight(_options.BackgroundAlpha, sinceLast);
        if (changed == 0)
        {
            Cv2.AccumulateWeighted(_grey, _background, alpha, _noMask);
            ClearMotionAge();
            return new FrameMotion(0, false);
        }

        // Contours rather than connected components: OpenCV's labelling costs about 0.5 ms on this small picture,
        // findContours about 0.01 ms (it allocates the contours' point arrays, only on frames with changed pixels).
        // Opening first: thin lines of change along high-contrast edges (road markings shimmering under compression
        // and exposure) are one or two pixels wide and vanish; anything that really moved is a solid patch.
        Cv2.Erode(_binary, _dilated, _kernel);
        Cv2.Dilate(_dilated, _dilated, _kernel, null, 2);
        Cv2.FindContours(_dilated, out var contours, out _, RetrievalModes.External, ContourApproximationModes.ApproxSimple);
        var minArea = Math.Max(1, _counted * _options.MinAreaPercent / 100);
        var moving = 0.0;
        var sx = (double)_frameWidth / _grey.Width;
        var sy = (double)_frameHeight / _grey.Height;
        foreach (var contour in contours)
        {
            var area = Cv2.ContourArea(contour);
            if (area < minArea)
            {
                continue;
            }

            moving += area;
            var r = Cv2.BoundingRect(contour);
            _regions.Add(new Rect((int)(r.X * sx), (int)(r.Y * sy), (int)Math.Ceiling(r.Width * sx), (int)Math.Ceiling(r.Height * sy)));
        }

        // Selective update: the background learns only the still pixels. Learning everything, as a plain running
        // average does, soaks a passing car into the background while it crosses, and the ghost it leaves reads as
        // motion for a second or two after it has gone (1.0-1.6 s after each car on the parking-lot clip). Pixels in
        // motion for StillAfterSeconds without a break (a car that parked, a chair moved) are taken into the
        // background at once, as they are now.
        Cv2.BitwiseNot(_dilated, _still);
        Cv2.AccumulateWeighted(_grey, _background, alpha, _still);
        Cv2.Add(_motionAge, Scalar.All(Seconds(sinceLast)), _motionAge, _dilated);
        _motionAge.SetTo(Scalar.All(0), _still);
        Cv2.Threshold(_motionAge, _aged, _options.StillAfterSeconds, 255, ThresholdTypes.Binary);
        _aged.ConvertTo(_agedMask, MatType.CV_8UC1);
        Cv2.AccumulateWeighted(_grey, _background, 1, _agedMask);
        _motionAged = true;
        return new FrameMotion(Math.Min(1f, (float)moving / Math.Max(1, _counted)), moving > 0);
    }

    /// <summary>Seconds a frame stands for: the time since the previous one, or one frame at <see cref="ReferenceFps"/> when unknown.</summary>
    private static double Seconds(TimeSpan sinceLast) => sinceLast > TimeSpan.Zero ? Math.Min(sinceLast.TotalSeconds, 10) : 1 / ReferenceFps;

    /// <summary>A weight per frame at <see cref="ReferenceFps"/> turned into the weight of a frame <paramref name="sinceLast"/> after the previous one.</summary>
    private static double Weight(double alphaAtReference, TimeSpan sinceLast) =>
        sinceLast > TimeSpan.Zero ? 1 - Math.Pow(1 - alphaAtReference, Seconds(sinceLast) * ReferenceFps) : alphaAtReference;

    /// <summary>No pixel has been in motion: after a still frame, a scene change or a reset.</summary>
    private void ClearMotionAge()
    {
        if (_motionAged)
        {
            _motionAge.SetTo(Scalar.All(0));
            _motionAged = false;
        }
    }

    /// <summary>
    /// The median grey level over the unmasked pixels, from a histogram of every other pixel of every other row
    /// (a quarter of the small picture is plenty for a median, and costs a quarter).
    /// </summary>
    private unsafe int Median(Mat grey)
    {
        Span<int> histogram = stackalloc int[256];
        histogram.Clear();
        var rows = grey.Rows;
        var cols = grey.Cols;
        var step = (int)grey.Step();
        var data = (byte*)grey.Data;
        var keep = _keep is null ? null : (byte*)_keep.Data;
        var keepStep = _keep is null ? 0 : (int)_keep.Step();
        var samples = 0;
        for (var y = 0; y < rows; y += 2)
        {
            var row = data + ((long)y * step);
            var keepRow = keep is null ? null : keep + ((long)y * keepStep);
            for (var x = 0; x < cols; x += 2)
            {
                if (keepRow is null || keepRow[x] != 0)
                {
                    histogram[row[x]]++;
                    samples++;
                }
            }
        }

        var half = samples / 2;
        var seen = 0;
        for (var v = 0; v < 256; v++)
        {
            seen += histogram[v];
            if (seen > half)
            {
                return v;
            }
        }

        return 255;
    }

    private void Prepare(int width, int height)
    {
        _frameWidth = width;
        _frameHeight = height;
        var h = Math.Min(_options.FrameHeight, height);
        var w = Math.Max(1, (int)Math.Round((double)width * h / height));
        _grey.Create(h, w, MatType.CV_8UC1);
        _motionAge.Create(h, w, MatType.CV_32FC1);
        _motionAge.SetTo(Scalar.All(0));
        _motionAged = false;
        _hasBackground = false;
        _keep?.Dispose();
        _keep = null;
        _counted = w * h;
        if (_masks.Count == 0)
        {
            return;
        }

        _keep = new Mat(h, w, MatType.CV_8UC1, Scalar.All(255));
        foreach (var mask in _masks)
        {
            Cv2.FillPoly(_keep, [mask.Scaled(w, h, width, height)], Scalar.All(0));
        }

        _counted = Math.Max(1, Cv2.CountNonZero(_keep));
    }

    public void Dispose()
    {
        _small.Dispose();
        _lumaSmall.Dispose();
        _grey.Dispose();
        _background.Dispose();
        _backgroundGrey.Dispose();
        _compensated.Dispose();
        _diff.Dispose();
        _binary.Dispose();
        _dilated.Dispose();
        _still.Dispose();
        _motionAge.Dispose();
        _aged.Dispose();
        _agedMask.Dispose();
        _kernel.Dispose();
        _noMask.Dispose();
        _keep?.Dispose();
    }
}
