using System.Diagnostics;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Ingest.Tests;

/// <summary>
/// The ffmpeg pipe carries I420 and converts to BGR in-process, the in-process libav decoder converts with swscale;
/// the pictures must be the ones ffmpeg's own BGR24 conversion and OpenCV VideoCapture (what the detector was
/// validated on) give.
/// </summary>
public class PipePixelTests(ITestOutputHelper output)
{
    private const int Frames = 5;

    private static List<Frame> ReadFrames(IFrameSource source, int count)
    {
        var frames = new List<Frame>();
        source.Open(CancellationToken.None);
        while (frames.Count < count && source.Read("px", frames.Count, live: false, CancellationToken.None) is { } frame)
        {
            frames.Add(frame);
        }

        return frames;
    }

    private static List<Frame> Pipe(CameraOptions camera, PipeFormat format)
    {
        using var source = new FfmpegFrameSource(camera, new IngestOptions { FileDecoder = FileDecoder.Ffmpeg }, format);
        return ReadFrames(source, Frames);
    }

    private static List<Frame> Capture(CameraOptions camera, FileDecoder decoder = FileDecoder.OpenCv)
    {
        using var source = new CaptureFrameSource(camera, decoder: decoder);
        return ReadFrames(source, Frames);
    }

    /// <summary>Mean absolute difference over all pixels and channels, and the largest per-pixel difference.</summary>
    private static (double Mean, double Max) Diff(Frame a, Frame b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        using var diff = new Mat();
        Cv2.Absdiff(a.Image, b.Image, diff);
        var mean = Cv2.Mean(diff);
        using var flat = diff.Reshape(1);
        flat.MinMaxLoc(out double _, out double max);
        return ((mean.Val0 + mean.Val1 + mean.Val2) / 3, max);
    }

    private void AssertSamePictures(List<Frame> expected, List<Frame> actual, string what)
    {
        Assert.Equal(Frames, expected.Count);
        Assert.Equal(Frames, actual.Count);
        for (var i = 0; i < Frames; i++)
        {
            // Not a trivially flat picture (the comparison would prove nothing).
            Cv2.MeanStdDev(expected[i].Image, out _, out var std);
            Assert.True(std.Val0 > 10, $"frame {i} of {what} is flat");
            var (mean, max) = Diff(expected[i], actual[i]);
            output.WriteLine($"{what}: frame {i} mean abs diff {mean:0.000} (max {max})");
            Assert.True(mean < 3, $"{what}: frame {i} differs by {mean:0.00} on average (max {max})");
        }
    }

    private static void DisposeAll(params List<Frame>[] lists)
    {
        foreach (var frame in lists.SelectMany(l => l))
        {
            frame.Dispose();
        }
    }

    [Theory]
    [InlineData("dog_pan_960p.mp4", 0)]
    [InlineData("test_720p.mp4", 0)]
    [InlineData("dog_pan_960p.mp4", 321)]
    public void The_ffmpeg_pipe_in_I420_and_the_libav_decoder_give_the_same_pixels_as_ffmpeg_bgr24_and_as_VideoCapture(string sample, int width)
    {
        var camera = new CameraOptions { Id = "px", Url = RepoPaths.Sample(sample), Pacing = FilePacing.Full, Width = width };
        var i420 = Pipe(camera, PipeFormat.I420);
        var bgr24 = Pipe(camera, PipeFormat.Bgr24);
        var libav = Capture(camera, FileDecoder.Libav);
        try
        {
            if (width > 0)
            {
                Assert.Equal(width, i420[0].Width);
                Assert.Equal((i420[0].Width, i420[0].Height), (libav[0].Width, libav[0].Height));
            }

            AssertSamePictures(bgr24, i420, $"{sample}: I420 pipe vs bgr24 pipe");
            AssertSamePictures(bgr24, libav, $"{sample}: libav vs bgr24 pipe");
            if (width == 0)
            {
                var capture = Capture(camera);
                try
                {
                    AssertSamePictures(capture, i420, $"{sample}: I420 pipe vs VideoCapture");
                    AssertSamePictures(capture, libav, $"{sample}: libav vs VideoCapture");
                }
                finally
                {
                    DisposeAll(capture);
                }
            }
        }
        finally
        {
            DisposeAll(i420, bgr24, libav);
        }
    }

    [Theory]
    [InlineData("odd.mkv", "scale=321:241", "ffv1", "yuv420p", 321, 241)]
    [InlineData("fullrange.mkv", "scale=320:240", "mjpeg", "yuvj420p", 320, 240)]
    [InlineData("422.mkv", "scale=320:240", "ffv1", "yuv422p", 320, 240)]
    public void An_odd_sized_full_range_or_422_file_is_read_at_its_own_size_with_the_same_pixels_as_VideoCapture_by_every_decoder(
        string name, string filter, string codec, string pixelFormat, int width, int height)
    {
        var dir = Directory.CreateTempSubdirectory("stream-px-");
        try
        {
            // H.264 4:2:0 cannot have odd sizes; FFV1 can. MJPEG is full-range yuvj420p, like many IP cameras' JPEG
            // modes; FFV1 4:2:2 like some encoders. ffmpeg normalises the last two to yuv420p for the pipe.
            // Real camera content (the synthetic test pattern's saturated colour bars make chroma edges dominate).
            var path = Path.Combine(dir.FullName, name);
            var info = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true };
            foreach (var a in new[] { "-hide_banner", "-loglevel", "error", "-i", RepoPaths.Sample("dog_pan_960p.mp4"), "-t", "0.4", "-vf", filter, "-an", "-c:v", codec, "-pix_fmt", pixelFormat, path })
            {
                info.ArgumentList.Add(a);
            }

            using (var p = Process.Start(info)!)
            {
                var err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, err);
            }

            var camera = new CameraOptions { Id = "px", Url = path, Pacing = FilePacing.Full };
            var i420 = Pipe(camera, PipeFormat.I420);
            var bgr24 = Pipe(camera, PipeFormat.Bgr24);
            var capture = Capture(camera);
            var libav = Capture(camera, FileDecoder.Libav);
            try
            {
                Assert.Equal((width, height), (i420[0].Width, i420[0].Height));
                Assert.Equal((width, height), (libav[0].Width, libav[0].Height));
                AssertSamePictures(bgr24, i420, $"{name}: I420 pipe vs bgr24 pipe");
                AssertSamePictures(capture, i420, $"{name}: I420 pipe vs VideoCapture");
                AssertSamePictures(capture, libav, $"{name}: libav vs VideoCapture");
            }
            finally
            {
                DisposeAll(i420, bgr24, capture, libav);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
