using System.Runtime.InteropServices;

namespace Streaming.Core;

/// <summary>
/// A block of native memory for pixels, 64-byte aligned, that OpenCV <c>Mat</c>s wrap without copying. Native rather
/// than a pinned managed array: when <see cref="FrameBufferPool"/> lets a buffer go, its memory goes back to the OS at
/// once, whereas a freed pinned array leaves a hole in the pinned object heap, which the GC never compacts (a soak
/// measured +45 MiB committed that way). Only <see cref="FrameBufferPool"/> creates and frees them; whoever rents one
/// returns it to the pool and never touches it afterwards.
/// <para>
/// A buffer that is rented and then lost (its frame never disposed) is freed by the finalizer, as a SafeHandle would
/// be, and counted in <see cref="LostCount"/>; the pool's <see cref="FrameBufferPool.OutstandingCount"/> still shows it,
/// so the leak is visible rather than silent.
/// </para>
/// </summary>
public sealed unsafe class PixelBuffer
{
    private static long s_lost;
    private void* _pointer;

    internal PixelBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        _pointer = NativeMemory.AlignedAlloc((nuint)length, 64);
        Length = length;
    }

    ~PixelBuffer()
    {
        if (Rented)
        {
            Interlocked.Increment(ref s_lost);
        }

        Free();
    }

    /// <summary>Rented buffers that were never returned and that the garbage collector found unreachable (process-wide).</summary>
    public static long LostCount => Interlocked.Read(ref s_lost);

    /// <summary>Size in bytes.</summary>
    public int Length { get; }

    /// <summary>Address of the first byte, for wrapping in a <c>Mat</c>.</summary>
    public IntPtr Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer is null, this);
            return (IntPtr)_pointer;
        }
    }

    /// <summary>The whole buffer.</summary>
    public Span<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer is null, this);
            return new Span<byte>(_pointer, Length);
        }
    }

    /// <summary>Set by the pool while a renter holds the buffer.</summary>
    internal bool Rented { get; set; }

    internal void Free()
    {
        GC.SuppressFinalize(this);
        var pointer = _pointer;
        _pointer = null;
        if (pointer is not null)
        {
            NativeMemory.AlignedFree(pointer);
        }
    }
}
