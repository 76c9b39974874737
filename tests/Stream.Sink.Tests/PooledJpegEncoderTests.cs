using System.Buffers;
using OpenCvSharp;

namespace Streaming.Sink.Tests;

public sealed class PooledJpegEncoderTests
{
    private static Mat Pattern(int rows, int cols, int seed)
    {
        var image = new Mat(rows, cols, MatType.CV_8UC3);
        image.Randu(Scalar.All(0), Scalar.All(255));
        Cv2.Circle(image, new Point(cols / 2, rows / 2), Math.Min(rows, cols) / 3, new Scalar(seed % 256, 40, 200), -1);
        return image;
    }

    [Fact]
    public void The_pooled_encoder_writes_the_same_jpeg_as_imencode_for_frames_of_different_sizes_one_after_another()
    {
        using var encoder = new PooledJpegEncoder(quality: 80);
        foreach (var (rows, cols) in new[] { (720, 1280), (97, 131), (960, 1280) })
        {
            using var image = Pattern(rows, cols, rows);
            Cv2.ImEncode(".jpg", image, out var expected, [(int)ImwriteFlags.JpegQuality, 80]);
            var (buffer, length) = encoder.Encode(image);
            try
            {
                Assert.Equal(expected.Length, length);
                Assert.True(expected.AsSpan().SequenceEqual(buffer.AsSpan(0, length)), $"{cols}x{rows}: bytes differ");
                using var decoded = Cv2.ImDecode(buffer.AsSpan(0, length).ToArray(), ImreadModes.Color);
                Assert.Equal(new Size(cols, rows), decoded.Size());
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    [Fact]
    public void An_image_jpeg_cannot_hold_gives_an_opencv_error()
    {
        using var encoder = new PooledJpegEncoder(quality: 80);
        using var empty = new Mat();
        Assert.ThrowsAny<OpenCVException>(() => encoder.Encode(empty));
    }
}
