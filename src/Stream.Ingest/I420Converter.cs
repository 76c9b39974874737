using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// Turns one I420 picture of a fixed size into BGR24 with OpenCV's SIMD <c>cvtColor</c> (BT.601 limited range, the
/// matrix swscale and VideoCapture use). A decoder writes the picture into <see cref="Wire"/> in ffmpeg's rawvideo
/// layout (Y plane W x H, then U and V planes of ceil(W/2) x ceil(H/2)); <see cref="Convert"/> writes it into the frame.
/// The buffers come from the frame buffer pool once and are reused for every frame: nothing is allocated per frame.
/// Odd widths or heights, which cvtColor cannot take, go through a one-pixel padded copy.
/// </summary>
internal sealed class I420Converter : IDisposable
{
    private readonly int _width;
    private readonly int _height;
    private readonly int _wireLength;
    private PixelBuffer? _wire;
    private PixelBuffer? _yuv;
    private PixelBuffer? _bgrPadded;
    private Mat? _yuvMat;
    private Mat? _bgrPaddedMat;
    private Mat? _bgrCrop;

    private readonly FrameBufferPool _pool;

    public I420Converter(int width, int height, FrameBufferPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        _pool = pool;
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        (_width, _height) = (width, height);
        int cw = (width + 1) / 2, ch = (height + 1) / 2;
        int pw = cw * 2, ph = ch * 2;
        _wireLength = checked((width * height) + (2 * cw * ch));
        _wire = _pool.Rent(_wireLength);
        if (pw == width && ph == height)
        {
            // Even size: the wire layout is exactly what cvtColor's I420 input wants (H*3/2 rows of W bytes).
            _yuvMat = Wrap(_wire, height * 3 / 2, width, MatType.CV_8UC1);
        }
        else
        {
            // Odd width or height: the picture is padded by one column/row (edge replicated; the chroma planes already
            // cover it), converted, and the W x H part copied out.
            _yuv = _pool.Rent(checked(pw * ph * 3 / 2));
            _yuvMat = Wrap(_yuv, ph * 3 / 2, pw, MatType.CV_8UC1);
            _bgrPadded = _pool.Rent(checked(pw * ph * 3));
            _bgrPaddedMat = Wrap(_bgrPadded, ph, pw, MatType.CV_8UC3);
            _bgrCrop = new Mat(_bgrPaddedMat, new Rect(0, 0, width, height));
        }
    }

    /// <summary>Where the decoder writes the next I420 picture (exactly one picture long).</summary>
    public Span<byte> Wire => (_wire ?? throw new ObjectDisposedException(nameof(I420Converter))).Span[.._wireLength];

    // Native memory from the frame buffer pool: the pointer stays valid until the buffer is returned, after the Mat's disposal.
    private static Mat Wrap(PixelBuffer buffer, int rows, int cols, MatType type) => Mat.FromPixelData(rows, cols, type, buffer.Pointer);

    /// <summary>Converts the picture in <see cref="Wire"/> into <paramref name="target"/> (BGR24, W x H, preallocated).</summary>
    public void Convert(Mat target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (_bgrCrop is null)
        {
            Cv2.CvtColor(_yuvMat!, target, ColorConversionCodes.YUV2BGR_I420);
            return;
        }

        int w = _width, h = _height;
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        int pw = cw * 2, ph = ch * 2;
        var src = Wire;
        var dst = _yuv!.Span;
        for (var y = 0; y < h; y++)
        {
            var row = dst.Slice(y * pw, pw);
            src.Slice(y * w, w).CopyTo(row);
            row[^1] = row[w - 1];
        }

        if (ph > h)
        {
            dst.Slice((h - 1) * pw, pw).CopyTo(dst.Slice(h * pw, pw));
        }

        src.Slice(w * h, 2 * cw * ch).CopyTo(dst[(pw * ph)..]);
        Cv2.CvtColor(_yuvMat!, _bgrPaddedMat!, ColorConversionCodes.YUV2BGR_I420);
        _bgrCrop.CopyTo(target);
    }

    public void Dispose()
    {
        _bgrCrop?.Dispose();
        _bgrPaddedMat?.Dispose();
        _yuvMat?.Dispose();
        (_bgrCrop, _bgrPaddedMat, _yuvMat) = (null, null, null);
        foreach (var buffer in new[] { _wire, _yuv, _bgrPadded })
        {
            if (buffer is not null)
            {
                _pool.Return(buffer);
            }
        }

        (_wire, _yuv, _bgrPadded) = (null, null, null);
    }
}
