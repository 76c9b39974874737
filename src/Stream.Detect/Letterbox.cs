using System.Runtime.Intrinsics;
using OpenCvSharp;

namespace Streaming.Detect;

/// <summary>Writes a (resized) BGR picture into one NCHW float slot of the batch tensor, padding the rest of the letterbox.</summary>
public static class Letterbox
{
    /// <summary>
    /// Copies <paramref name="picture"/> (BGR24, already at its letterboxed size) into the planar <paramref name="tensor"/>
    /// (3 x <paramref name="height"/> x <paramref name="width"/>) at (<paramref name="padX"/>, <paramref name="padY"/>),
    /// multiplying by <paramref name="scale"/> and swapping to RGB when asked; everything else gets <paramref name="padValue"/> x scale.
    /// </summary>
    public static unsafe void WritePlanar(Mat picture, Span<float> tensor, int width, int height, int padX, int padY,
        bool rgb, float scale, float padValue)
    {
        ArgumentNullException.ThrowIfNull(picture);
        var w = picture.Width;
        var h = picture.Height;
        var plane = width * height;
        if (tensor.Length < 3 * plane || padX + w > width || padY + h > height)
        {
            throw new ArgumentException("the picture does not fit the tensor slot");
        }

        var pad = padValue * scale;
        var step = picture.Step();
        var src0 = (byte*)picture.Data;
        fixed (float* dst = tensor)
        {
            for (var c = 0; c < 3; c++)
            {
                var p = new Span<float>(dst + c * plane, plane);
                p[..(padY * width)].Fill(pad);
                p[((padY + h) * width)..].Fill(pad);
                for (var y = padY; y < padY + h; y++)
                {
                    var row = p.Slice(y * width, width);
                    row[..padX].Fill(pad);
                    row[(padX + w)..].Fill(pad);
                }
            }

            // Channel c of the picture goes to plane c (BGR) or plane 2-c (RGB).
            var d0 = dst + (rgb ? 2 * plane : 0);
            var d1 = dst + plane;
            var d2 = dst + (rgb ? 0 : 2 * plane);
            for (var y = 0; y < h; y++)
            {
                var src = src0 + y * step;
                var offset = (y + padY) * width + padX;
                Deinterleave(src, d0 + offset, d1 + offset, d2 + offset, w, scale);
            }
        }
    }

    private static unsafe void Deinterleave(byte* src, float* c0, float* c1, float* c2, int count, float scale)
    {
        var x = 0;
        if (Vector128.IsHardwareAccelerated && count >= 16)
        {
            // 16 pixels (48 bytes) at a time: gather each channel with shuffles, widen to float, scale.
            var vscale = Vector128.Create(scale);
            for (; x <= count - 16; x += 16)
            {
                var a = Vector128.Load(src + 3 * x);
                var b = Vector128.Load(src + 3 * x + 16);
                var c = Vector128.Load(src + 3 * x + 32);
                Store(Gather(a, b, c, 0), c0 + x, vscale);
                Store(Gather(a, b, c, 1), c1 + x, vscale);
                Store(Gather(a, b, c, 2), c2 + x, vscale);
            }
        }

        for (; x < count; x++)
        {
            c0[x] = src[3 * x] * scale;
            c1[x] = src[3 * x + 1] * scale;
            c2[x] = src[3 * x + 2] * scale;
        }
    }

    private static readonly Vector128<byte>[] Masks = BuildMasks();

    // For channel k and source block j (0..2): the shuffle that picks bytes 3i+k that fall in block j (others become 0).
    private static Vector128<byte>[] BuildMasks()
    {
        var masks = new Vector128<byte>[9];
        Span<byte> m = stackalloc byte[16];
        for (var k = 0; k < 3; k++)
        {
            for (var j = 0; j < 3; j++)
            {
                for (var i = 0; i < 16; i++)
                {
                    var index = 3 * i + k - 16 * j;
                    m[i] = index is >= 0 and < 16 ? (byte)index : (byte)0x80;
                }

                masks[3 * k + j] = Vector128.Create((ReadOnlySpan<byte>)m);
            }
        }

        return masks;
    }

    private static Vector128<byte> Gather(Vector128<byte> a, Vector128<byte> b, Vector128<byte> c, int k) =>
        Vector128.Shuffle(a, Masks[3 * k]) | Vector128.Shuffle(b, Masks[3 * k + 1]) | Vector128.Shuffle(c, Masks[3 * k + 2]);

    private static unsafe void Store(Vector128<byte> bytes, float* dst, Vector128<float> scale)
    {
        var (lo, hi) = Vector128.Widen(bytes);
        var (a, b) = Vector128.Widen(lo);
        var (c, d) = Vector128.Widen(hi);
        (Vector128.ConvertToSingle(a.AsInt32()) * scale).Store(dst);
        (Vector128.ConvertToSingle(b.AsInt32()) * scale).Store(dst + 4);
        (Vector128.ConvertToSingle(c.AsInt32()) * scale).Store(dst + 8);
        (Vector128.ConvertToSingle(d.AsInt32()) * scale).Store(dst + 12);
    }
}
