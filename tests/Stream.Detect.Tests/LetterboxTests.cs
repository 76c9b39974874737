using OpenCvSharp;
using Streaming.Detect;

namespace Streaming.Detect.Tests;

public class LetterboxTests
{
    [Theory]
    [InlineData(false, 1f, 0, 0)]
    [InlineData(true, 1f / 255f, 3, 5)]
    public void Planar_write_puts_each_channel_in_its_plane_scaled_with_pad_around(bool rgb, float scale, int padX, int padY)
    {
        // 37 pixels wide: exercises the 16-pixel vector path and the scalar tail. A sub-matrix: rows have a gap (step > width * 3).
        const int width = 48, height = 40;
        using var parent = new Mat(30, 45, MatType.CV_8UC3);
        Cv2.Randu(parent, Scalar.All(0), Scalar.All(256));
        using var picture = new Mat(parent, new Rect(4, 2, 37, 26));
        var tensor = new float[3 * width * height];

        Letterbox.WritePlanar(picture, tensor, width, height, padX, padY, rgb, scale, 114f);

        var plane = width * height;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var inside = x >= padX && x < padX + picture.Width && y >= padY && y < padY + picture.Height;
                var bgr = inside ? picture.At<Vec3b>(y - padY, x - padX) : new Vec3b(114, 114, 114);
                var expected = rgb ? new[] { bgr.Item2, bgr.Item1, bgr.Item0 } : new[] { bgr.Item0, bgr.Item1, bgr.Item2 };
                for (var c = 0; c < 3; c++)
                {
                    Assert.Equal(expected[c] * scale, tensor[c * plane + y * width + x], 5);
                }
            }
        }
    }
}
