using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Ingest.Motion;

namespace Streaming.Bench;

/// <summary>What <c>stream bench motion</c> measured.</summary>
public sealed record MotionBenchResult(string Source, int Width, int Height, int Frames, double WallMsPerFrame, double P50Ms,
    double P99Ms, double CpuMsPerFrame, double MotionPercent, IReadOnlyList<double> MotionPercentPerSecond);

/// <summary>
/// Cost of the per-camera motion detector: every frame of a clip, scaled to the given size (1280x720 by default) outside
/// the timed part, goes through one <see cref="MotionDetector"/>; the detector's own time is taken per frame with the
/// wall clock and with the thread's CPU clock (the latter stays meaningful on a loaded machine). Also prints which
/// seconds of the clip have motion, so that a gate's threshold can be checked against what the clip shows.
/// </summary>
public static partial class MotionBenchmark
{
    private const int ClockThreadCpuTime = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private static double ThreadCpuMs() =>
        OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTime, out var t) == 0 ? (t.Seconds * 1e3) + (t.Nanoseconds / 1e6) : 0;

    public static MotionBenchResult Run(string source, int width, int height, int passes, MotionOptions options, IReadOnlyList<string> masks)
    {
        if (!File.Exists(source))
        {
            throw new FileNotFoundException($"--source '{source}' not found: give a video file, e.g. ../shared/media/parking_lot_cars_sparse.mp4", source);
        }

        var camera = new CameraOptions { Id = "bench", Url = source };
        camera.MotionMasks.AddRange(masks);
        using var detector = MotionDetector.ForCamera(camera, options);
        using var scaled = new Mat(height, width, MatType.CV_8UC3);
        using var frame = new Mat();
        var times = new List<double>();
        var cpu = 0.0;
        var moving = 0;
        var perSecond = new List<(int Moving, int Frames)>();
        for (var pass = 0; pass < Math.Max(1, passes); pass++)
        {
            using var capture = new VideoCapture(source);
            if (!capture.IsOpened())
            {
                throw new InvalidOperationException($"--source '{source}' could not be opened as a video");
            }

            var fps = capture.Fps > 0 ? capture.Fps : 25;
            var index = 0;
            while (capture.Read(frame) && !frame.Empty())
            {
                Cv2.Resize(frame, scaled, scaled.Size(), 0, 0, InterpolationFlags.Linear);
                var c0 = ThreadCpuMs();
                var t0 = Stopwatch.GetTimestamp();
                var motion = detector.Detect(scaled);
                var wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                cpu += ThreadCpuMs() - c0;
                times.Add(wall);
                if (pass == 0)
                {
                    var second = (int)(index / fps);
                    while (perSecond.Count <= second)
                    {
                        perSecond.Add((0, 0));
                    }

                    perSecond[second] = (perSecond[second].Moving + (motion.HasMotion ? 1 : 0), perSecond[second].Frames + 1);
                }

                moving += motion.HasMotion ? 1 : 0;
                index++;
            }
        }

        if (times.Count == 0)
        {
            throw new InvalidOperationException($"--source '{source}' has no frames");
        }

        var sorted = times.Order().ToArray();
        return new MotionBenchResult(source, width, height, times.Count, times.Average(), sorted[sorted.Length / 2],
            sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))], cpu / times.Count, 100.0 * moving / times.Count,
            [.. perSecond.Select(s => 100.0 * s.Moving / Math.Max(1, s.Frames))]);
    }

    public static void Print(TextWriter output, MotionBenchResult r)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(r);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"source {r.Source} scaled to {r.Width}x{r.Height}, {r.Frames} frames"));
        output.WriteLine("motion per second of the clip (% of its frames): " + string.Join(' ', r.MotionPercentPerSecond.Select((p, i) => string.Create(inv, $"{i}s:{p:0}"))));
        output.WriteLine(string.Create(inv, $"frames with motion: {r.MotionPercent:0.0} %"));
        output.WriteLine(string.Create(inv, $"wall ms/frame: mean {r.WallMsPerFrame:0.000} p50 {r.P50Ms:0.000} p99 {r.P99Ms:0.000} (shared machine: wall time includes waiting for a core)"));
        output.WriteLine(string.Create(inv, $"motion: {r.CpuMsPerFrame:0.000} ms CPU per {r.Width}x{r.Height} frame"));
    }
}
