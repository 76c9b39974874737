using OpenCvSharp;

namespace Streaming.Core;

/// <summary>
/// Scales a frame's picture to a (smaller) size as BGR24 in one pass over the source, for the model's input: a BGR
/// frame is resized; an I420 frame has its three planes resized to the target size and only that small picture is
/// converted to BGR, so the frame's full-resolution BGR is never made. The target may be odd-sized: the luma plane is
/// scaled to exactly that size inside an even-sized picture (which I420 needs), and the conversion's extra column or row
/// is cut off.
/// <para>Owns its scratch pictures, reused call after call (reallocated only when the target size changes): no
/// allocation per frame. Not thread-safe: one scaler per thread or batch slot.</para>
/// </summary>
public sealed class FrameScaler : IDisposable
{
    private readonly Mat _small = new(); // even-sized I420 picture: Y rows, then U and V
    private readonly Mat _bgr = new();
    private Mat? _y;
    private Mat? _yExact;
    private Mat? _u;
    private Mat? _v;
    private Mat? _bgrExact;
    private int _width;
    private int _height;

    /// <summary>Writes <paramref name="frame"/>'s picture, scaled bilinearly to <paramref name="width"/> x <paramref name="height"/>, into <paramref name="destination"/> as BGR24.</summary>
    public void Scale(Frame frame, Mat destination, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (frame.Format == PixelFormat.Bgr24)
        {
            if (frame.Width == width && frame.Height == height)
            {
                frame.Image.CopyTo(destination);
            }
            else
            {
                Cv2.Resize(frame.Image, destination, new Size(width, height), 0, 0, InterpolationFlags.Linear);
            }

            return;
        }

        Prepare(width, height);
        var evenWidth = _small.Width;
        var evenHeight = _small.Rows * 2 / 3;
        Cv2.Resize(frame.Luma, _yExact!, new Size(width, height), 0, 0, InterpolationFlags.Linear);
        if (evenWidth != width)
        {
            // Repeat the last column into the spare one, so that the chroma pairs at the edge convert as the picture's own.
            using var last = _y!.Col(width - 1);
            using var spare = _y.Col(evenWidth - 1);
            last.CopyTo(spare);
        }

        if (evenHeight != height)
        {
            using var last = _y!.Row(height - 1);
            using var spare = _y.Row(evenHeight - 1);
            last.CopyTo(spare);
        }

        Cv2.Resize(frame.ChromaU, _u!, new Size(evenWidth / 2, evenHeight / 2), 0, 0, InterpolationFlags.Linear);
        Cv2.Resize(frame.ChromaV, _v!, new Size(evenWidth / 2, evenHeight / 2), 0, 0, InterpolationFlags.Linear);
        if (evenWidth == width && evenHeight == height)
        {
            Cv2.CvtColor(_small, destination, ColorConversionCodes.YUV2BGR_I420);
            return;
        }

        Cv2.CvtColor(_small, _bgr, ColorConversionCodes.YUV2BGR_I420);
        _bgrExact!.CopyTo(destination);
    }

    public void Dispose()
    {
        Release();
        _small.Dispose();
        _bgr.Dispose();
    }

    private void Prepare(int width, int height)
    {
        if (width == _width && height == _height && _y is not null)
        {
            return;
        }

        Release();
        int evenWidth = (width + 1) & ~1, evenHeight = (height + 1) & ~1;
        _small.Create(evenHeight * 3 / 2, evenWidth, MatType.CV_8UC1);
        var start = _small.Data;
        _y = Mat.FromPixelData(evenHeight, evenWidth, MatType.CV_8UC1, start);
        _yExact = new Mat(_y, new Rect(0, 0, width, height));
        _u = Mat.FromPixelData(evenHeight / 2, evenWidth / 2, MatType.CV_8UC1, start + (evenWidth * evenHeight));
        _v = Mat.FromPixelData(evenHeight / 2, evenWidth / 2, MatType.CV_8UC1, start + (evenWidth * evenHeight * 5 / 4));
        _bgr.Create(evenHeight, evenWidth, MatType.CV_8UC3);
        _bgrExact = new Mat(_bgr, new Rect(0, 0, width, height));
        (_width, _height) = (width, height);
    }

    private void Release()
    {
        _yExact?.Dispose();
        _y?.Dispose();
        _u?.Dispose();
        _v?.Dispose();
        _bgrExact?.Dispose();
        (_yExact, _y, _u, _v, _bgrExact) = (null, null, null, null, null);
    }
}
