using System.Buffers;
using OpenCvSharp;
using OpenCvSharp.Internal;
using OpenCvSharp.Internal.Vectors;

namespace Streaming.Sink;

/// <summary>
/// JPEG-encodes frames without a new managed array per frame. <c>Cv2.ImEncode</c> returns a fresh <c>byte[]</c> each
/// call; a 960p JPEG is ~100-200 KB, so every stored frame was a large-object-heap allocation and the sink drove
/// gen-2 collections. Here OpenCV encodes into one native vector this encoder owns (its capacity is reused), and the
/// bytes are copied into an <see cref="ArrayPool{T}"/> buffer that the caller returns once Redis has the value.
/// One encoder per worker: it is not thread-safe.
/// </summary>
public sealed class PooledJpegEncoder : IDisposable
{
    private readonly VectorOfByte _native = new();
    private readonly int[] _parameters;

    public PooledJpegEncoder(int quality) => _parameters = [(int)ImwriteFlags.JpegQuality, quality];

    /// <summary>
    /// Encodes <paramref name="image"/>; the JPEG is the first <c>Length</c> bytes of <c>Buffer</c>, rented from
    /// <see cref="ArrayPool{T}.Shared"/>: the caller returns it. Throws <see cref="OpenCVException"/> when OpenCV cannot encode.
    /// </summary>
    public (byte[] Buffer, int Length) Encode(Mat image)
    {
        ArgumentNullException.ThrowIfNull(image);
        ObjectDisposedException.ThrowIf(_native.IsDisposed, this);
        using (var input = InputArray.Create(image))
        {
            NativeMethods.HandleException(NativeMethods.imgcodecs_imencode_vector(".jpg", input.CvPtr, _native.CvPtr, _parameters, _parameters.Length, out var ok));
            GC.KeepAlive(image);
            if (ok == 0)
            {
                throw new OpenCVException(ErrorCode.StsError, "imencode", "JPEG encoding failed", nameof(PooledJpegEncoder), 0);
            }
        }

        var length = _native.Size;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        unsafe
        {
            new ReadOnlySpan<byte>((void*)_native.ElemPtr, length).CopyTo(buffer);
        }

        return (buffer, length);
    }

    public void Dispose() => _native.Dispose();
}
