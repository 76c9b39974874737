using OpenCvSharp;
using Streaming.Core;
using Streaming.Ingest.Motion;
using Streaming.Testing;

namespace Streaming.Ingest.Tests;

/// <summary>The motion detector on real frames of the shared parking-lot clip (768x432, 12.5 fps; a white car crosses from 4.5 to 8 s).</summary>
public class MotionDetectorTests
{
    private static string Clip()
    {
        var sample = Path.Combine(RepoPaths.Samples, "parking_lot_cars_sparse.mp4");
        var shared = Path.GetFullPath(Path.Combine(RepoPaths.Root, "..", "shared", "media", "parking_lot_cars_sparse.mp4"));
        return File.Exists(sample) ? sample
            : File.Exists(shared) ? shared
            : throw new FileNotFoundException($"{sample} is missing (and so is {shared}): run scripts/setup.sh, which copies it from ../shared/media.");
    }

    /// <summary>Frames [from, to) of the clip, by index.</summary>
    private static List<Mat> Frames(int from, int to)
    {
        using var capture = new VideoCapture(Clip());
        Assert.True(capture.IsOpened());
        var frames = new List<Mat>();
        for (var i = 0; i < to; i++)
        {
            var frame = new Mat();
            Assert.True(capture.Read(frame) && !frame.Empty(), $"frame {i} of the clip could not be read");
            if (i >= from)
            {
                frames.Add(frame);
            }
            else
            {
                frame.Dispose();
            }
        }

        return frames;
    }

    private static void DisposeAll(List<Mat> frames) => frames.ForEach(f => f.Dispose());

    [Fact]
    public void A_still_part_of_the_clip_gives_no_motion()
    {
        var frames = Frames(0, 45); // 0-3.6 s: the empty lot
        using var detector = new MotionDetector(new MotionOptions());
        var moving = frames.Select(f => detector.Detect(f)).Count(m => m.HasMotion);
        DisposeAll(frames);
        Assert.Equal(0, moving);
    }

    [Fact]
    public void A_moving_car_gives_motion_where_the_car_is()
    {
        var frames = Frames(0, 90); // up to 7.2 s: the white car drives up the middle of the lot
        using var detector = new MotionDetector(new MotionOptions());
        var car = new Rect(260, 40, 230, 380); // where the car is at 6-7 s (x 266-490)
        var hits = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var motion = detector.Detect(frames[i]);
            if (i >= 75 && motion.HasMotion && detector.Regions.Any(r => (r & car).Width * (r & car).Height > 0.5 * r.Width * r.Height && r.Width * r.Height > 5000))
            {
                hits++;
            }
        }

        DisposeAll(frames);
        Assert.True(hits >= 12, $"a large motion region on the car in {hits} of the last 15 frames");
    }

    [Fact]
    public void A_masked_region_gives_no_motion()
    {
        var frames = Frames(0, 90);
        var camera = new CameraOptions { Id = "lot", Url = "x.mp4", MotionMasks = ["0.3,0,0.7,0,0.7,1,0.3,1"] }; // the car's lane
        using var detector = MotionDetector.ForCamera(camera, new MotionOptions());
        var masked = new Rect((int)(0.3 * 768), 0, (int)(0.4 * 768), 432);
        var inMask = 0;
        foreach (var frame in frames)
        {
            detector.Detect(frame);
            inMask += detector.Regions.Count(r => (r & masked).Width * (r & masked).Height > 0.5 * r.Width * r.Height);
        }

        DisposeAll(frames);
        Assert.Equal(0, inMask);
    }

    [Fact]
    public void A_global_brightness_step_gives_no_motion()
    {
        var frames = Frames(0, 45);
        using var detector = new MotionDetector(new MotionOptions());
        var moving = 0;
        using var darker = new Mat();
        for (var i = 0; i < frames.Count; i++)
        {
            if (i < 20)
            {
                moving += detector.Detect(frames[i]).HasMotion ? 1 : 0;
                continue;
            }

            // From frame 20 on the whole picture is darker, as when the camera's auto-exposure reacts (mean luma 121 -> 62).
            frames[i].ConvertTo(darker, MatType.CV_8UC3, 0.52, 0);
            moving += detector.Detect(darker).HasMotion ? 1 : 0;
        }

        DisposeAll(frames);
        Assert.Equal(0, moving);
    }

    [Fact]
    public void A_car_that_has_left_the_picture_leaves_no_motion_behind()
    {
        // The third car leaves the picture at the bottom edge at about 27.8 s. A background that also learned the car
        // while it crossed kept its ghost as motion until 29.1 s.
        using var capture = new VideoCapture(Clip());
        var interval = TimeSpan.FromSeconds(1 / capture.Fps);
        using var detector = new MotionDetector(new MotionOptions());
        using var frame = new Mat();
        double lastMotion = 0, firstMotionAfter25 = double.NaN;
        for (var i = 0; capture.Read(frame) && !frame.Empty(); i++)
        {
            var seconds = i * interval.TotalSeconds;
            if (detector.Detect(frame, interval).HasMotion && seconds >= 25)
            {
                lastMotion = seconds;
                firstMotionAfter25 = double.IsNaN(firstMotionAfter25) ? seconds : firstMotionAfter25;
            }
        }

        Assert.InRange(firstMotionAfter25, 25, 26); // the car was seen coming in
        Assert.True(lastMotion <= 28.2, $"motion went on until {lastMotion:F2} s, after the car left at about 27.8 s");
    }

    [Fact]
    public void Something_that_stops_in_the_picture_is_motion_until_it_has_been_still_for_StillAfterSeconds()
    {
        var frames = Frames(0, 48); // 0-3.8 s: the empty lot
        var interval = TimeSpan.FromSeconds(0.08); // the clip's 12.5 fps
        using var detector = new MotionDetector(new MotionOptions { StillAfterSeconds = 2 });
        var motion = new List<bool>();
        for (var i = 0; i < frames.Count; i++)
        {
            if (i >= 5)
            {
                // From frame 5 (0.4 s) on, a bright box stands in the lot, as a parked car would.
                Cv2.Rectangle(frames[i], new Rect(300, 150, 120, 80), Scalar.All(230), -1);
            }

            motion.Add(detector.Detect(frames[i], interval).HasMotion);
        }

        DisposeAll(frames);
        Assert.All(motion.Take(5), m => Assert.False(m));
        Assert.All(motion.Skip(5).Take(24), m => Assert.True(m)); // 0.4-2.3 s: still new
        Assert.All(motion.Skip(33), m => Assert.False(m)); // from 2.6 s: part of the background
    }

    [Fact]
    public void A_mask_that_is_not_a_polygon_is_named_with_the_fix()
    {
        var camera = new CameraOptions { Id = "lot", Url = "rtsp://cam/1", MotionMasks = ["0.1,0.2,0.3"] };
        var problems = CameraChecks.Problems(camera);
        Assert.Contains(problems, p => p.Contains("MotionMasks[0]", StringComparison.Ordinal) && p.Contains("at least 3 x,y pairs", StringComparison.Ordinal));
    }

    [Fact]
    public void The_background_forgets_at_the_same_speed_in_seconds_whether_a_camera_passes_12_frames_a_second_or_2()
    {
        // The whole clip (30 s, 12.5 fps), measured on every frame and on every 6th (2.1 fps, as MaxFps 2 would pass them).
        var every = MotionShare(step: 1, timeAware: true);
        var sixth = MotionShare(step: 6, timeAware: true);
        var sixthPerFrame = MotionShare(step: 6, timeAware: false);
        Assert.True(Math.Abs(sixth - every) <= 0.08,
            $"share of frames with motion: {every:P0} at 12.5 fps, {sixth:P0} at 2.1 fps (per-frame weights would give {sixthPerFrame:P0})");
    }

    [Fact]
    public void Measured_on_the_decoders_Y_plane_the_clip_has_motion_in_the_same_frames_as_on_its_BGR_picture()
    {
        // What an I420 frame gives the detector: the Y plane (limited range), no colour conversion.
        using var capture = new VideoCapture(Clip());
        var interval = TimeSpan.FromSeconds(1 / capture.Fps);
        using var fromBgr = new MotionDetector(new MotionOptions());
        using var fromLuma = new MotionDetector(new MotionOptions());
        using var frame = new Mat();
        using var yuv = new Mat();
        int measured = 0, agree = 0, movingBgr = 0, movingLuma = 0;
        while (capture.Read(frame) && !frame.Empty())
        {
            Cv2.CvtColor(frame, yuv, ColorConversionCodes.BGR2YUV_I420);
            using var luma = yuv.RowRange(0, frame.Height);
            var a = fromBgr.Detect(frame, interval).HasMotion;
            var b = fromLuma.DetectLuma(luma, interval).HasMotion;
            measured++;
            agree += a == b ? 1 : 0;
            movingBgr += a ? 1 : 0;
            movingLuma += b ? 1 : 0;
        }

        Assert.True(measured > 300, $"only {measured} frames");
        Assert.True(agree >= 0.97 * measured, $"the two paths agree on {agree} of {measured} frames (motion in {movingBgr} from BGR, {movingLuma} from Y)");
        Assert.InRange(movingLuma, movingBgr - (measured / 50), movingBgr + (measured / 50));
    }

    /// <summary>Share of the measured frames with motion when every <paramref name="step"/>th frame of the clip is measured.</summary>
    private static double MotionShare(int step, bool timeAware)
    {
        using var capture = new VideoCapture(Clip());
        var interval = TimeSpan.FromSeconds(step / capture.Fps);
        using var detector = new MotionDetector(new MotionOptions());
        using var frame = new Mat();
        int measured = 0, moving = 0;
        for (var i = 0; capture.Read(frame) && !frame.Empty(); i++)
        {
            if (i % step == 0)
            {
                var motion = timeAware ? detector.Detect(frame, interval) : detector.Detect(frame);
                measured++;
                moving += motion.HasMotion ? 1 : 0;
            }
        }

        Assert.True(measured > 50, $"only {measured} frames measured");
        return (double)moving / measured;
    }
}
