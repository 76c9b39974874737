using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class FrameTests
{
    [Fact]
    public void A_frame_wraps_its_pooled_buffer_and_returns_it_on_dispose()
    {
        var pool = new FrameBufferPool();
        var frame = Frame.Rent("cam", 1, 64, 48, DateTimeOffset.UtcNow, pool: pool);
        frame.Image.SetTo(new Scalar(1, 2, 3));
        Assert.Equal(64 * 48 * 3, frame.Pixels.Length);
        Assert.Equal((byte)1, frame.Pixels[0]);
        Assert.Equal((byte)3, frame.Pixels[^1]);
        frame.Dispose();
        frame.Dispose(); // idempotent
        Assert.True(frame.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => frame.Image);

        using var again = Frame.Rent("cam", 2, 64, 48, DateTimeOffset.UtcNow, pool: pool);
        Assert.Equal(1, pool.AllocatedCount); // the buffer came back from the pool
    }

    [Fact]
    public void Steady_state_renting_allocates_no_new_buffers()
    {
        var pool = new FrameBufferPool();
        for (var i = 0; i < 100; i++)
        {
            using var a = Frame.Rent("cam", i, 320, 240, DateTimeOffset.UtcNow, pool: pool);
            using var b = Frame.Rent("cam", i, 320, 240, DateTimeOffset.UtcNow, pool: pool);
        }

        Assert.Equal(2, pool.AllocatedCount);
    }

    [Fact]
    public void CopyOf_copies_pixels_and_rejects_non_bgr_images()
    {
        using var source = new Mat(10, 20, MatType.CV_8UC3, new Scalar(9, 8, 7));
        using var frame = Frame.CopyOf(source, "cam", 5, DateTimeOffset.UtcNow);
        Assert.Equal(20, frame.Width);
        Assert.Equal(10, frame.Height);
        Assert.Equal(new Vec3b(9, 8, 7), frame.Image.At<Vec3b>(9, 19));

        using var gray = new Mat(10, 20, MatType.CV_8UC1);
        Assert.Throws<ArgumentException>(() => Frame.CopyOf(gray, "cam", 6, DateTimeOffset.UtcNow));
    }
}
