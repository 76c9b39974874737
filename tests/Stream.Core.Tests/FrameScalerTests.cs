using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class FrameScalerTests
{
    [Fact]
    public void An_I420_frame_converts_to_BGR_only_when_its_image_is_asked_for_once_and_gives_both_buffers_back()
    {
        var pool = new FrameBufferPool();
        using var colour = new Mat(48, 64, MatType.CV_8UC3, new Scalar(40, 120, 200));
        var frame = I420Frame(colour, pool);
        Assert.Equal(64 * 48 * 3 / 2, frame.Pixels.Length);
        Assert.Equal((64, 48), (frame.Luma.Width, frame.Luma.Height));
        Assert.Equal((32, 24), (frame.ChromaU.Width, frame.ChromaV.Height));
        Assert.False(frame.HasBgr);
        Assert.Equal(0, pool.BgrConversions);

        var image = frame.Image;
        Assert.Same(image, frame.Image);
        Assert.Equal(1, pool.BgrConversions);
        var pixel = image.At<Vec3b>(47, 63);
        Assert.InRange(pixel.Item0, 37, 43);
        Assert.InRange(pixel.Item1, 117, 123);
        Assert.InRange(pixel.Item2, 197, 203);

        frame.Dispose();
        Assert.Equal(0, pool.OutstandingCount);
        Assert.Throws<ObjectDisposedException>(() => frame.Luma);
    }

    [Fact]
    public void I420_needs_even_sides_and_a_BGR_frame_has_no_planes()
    {
        var error = Assert.Throws<ArgumentException>(() => Frame.Rent(PixelFormat.I420, "cam", 1, 63, 48, DateTimeOffset.UtcNow));
        Assert.Contains("63x48", error.Message, StringComparison.Ordinal);
        using var bgr = Frame.Rent("cam", 1, 64, 48, DateTimeOffset.UtcNow);
        Assert.Throws<InvalidOperationException>(() => bgr.Luma);
        Assert.True(bgr.HasBgr);
    }

    [Theory]
    [InlineData(416, 234)]
    [InlineData(415, 233)]
    public void Scaling_an_I420_frame_from_its_planes_matches_scaling_its_BGR_picture(int width, int height)
    {
        var pool = new FrameBufferPool();
        using var picture = Scene(1280, 720);
        using var frame = I420Frame(picture, pool);
        using var yuv = YuvOf(picture);
        using var expectedSource = new Mat();
        Cv2.CvtColor(yuv, expectedSource, ColorConversionCodes.YUV2BGR_I420);
        using var expected = new Mat();
        Cv2.Resize(expectedSource, expected, new Size(width, height), 0, 0, InterpolationFlags.Linear);

        using var scaler = new FrameScaler();
        using var scaled = new Mat();
        scaler.Scale(frame, scaled, width, height);
        scaler.Scale(frame, scaled, width, height); // the scratch pictures are reused

        Assert.Equal((width, height), (scaled.Width, scaled.Height));
        Assert.Equal(MatType.CV_8UC3, scaled.Type());
        using var diff = new Mat();
        Cv2.Absdiff(scaled, expected, diff);
        var mean = Cv2.Mean(diff);
        Assert.True(mean.Val0 < 2 && mean.Val1 < 2 && mean.Val2 < 2, $"mean difference {mean.Val0:F2}/{mean.Val1:F2}/{mean.Val2:F2}");
        Assert.Equal(0, pool.BgrConversions); // never converted at full size
    }

    [Fact]
    public void Scaling_a_BGR_frame_is_a_plain_resize()
    {
        using var picture = Scene(320, 240);
        using var frame = Frame.CopyOf(picture, "cam", 1, DateTimeOffset.UtcNow);
        using var scaler = new FrameScaler();
        using var scaled = new Mat();
        scaler.Scale(frame, scaled, 160, 90);
        using var expected = new Mat();
        Cv2.Resize(picture, expected, new Size(160, 90), 0, 0, InterpolationFlags.Linear);
        using var diff = new Mat();
        Cv2.Absdiff(scaled, expected, diff);
        Assert.Equal(0, Cv2.CountNonZero(diff.Reshape(1)));
    }

    /// <summary>A picture with edges and colours: gradients and filled shapes.</summary>
    private static Mat Scene(int width, int height)
    {
        var m = new Mat(height, width, MatType.CV_8UC3);
        for (var y = 0; y < height; y += 8)
        {
            Cv2.Rectangle(m, new Rect(0, y, width, 8), new Scalar(y * 255 / height, 80, 255 - (y * 255 / height)), -1);
        }

        Cv2.Circle(m, new Point(width / 3, height / 2), height / 4, new Scalar(20, 200, 40), -1);
        Cv2.Rectangle(m, new Rect(width / 2, height / 4, width / 4, height / 3), new Scalar(230, 230, 230), -1);
        return m;
    }

    private static Mat YuvOf(Mat bgr)
    {
        var yuv = new Mat();
        Cv2.CvtColor(bgr, yuv, ColorConversionCodes.BGR2YUV_I420);
        return yuv;
    }

    private static Frame I420Frame(Mat bgr, FrameBufferPool pool)
    {
        using var yuv = YuvOf(bgr);
        var frame = Frame.Rent(PixelFormat.I420, "cam", 1, bgr.Width, bgr.Height, DateTimeOffset.UtcNow, pool: pool);
        using var target = Mat.FromPixelData(yuv.Rows, yuv.Cols, MatType.CV_8UC1, frame.PixelPointer);
        yuv.CopyTo(target);
        return frame;
    }
}
