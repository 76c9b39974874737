using System.Collections.Concurrent;

namespace Streaming.Core;

/// <summary>
/// Pool of pinned byte buffers for frame pixels. Pinned so that an OpenCV <c>Mat</c> can wrap the memory
/// without copying and without the GC moving it; pooled so that steady-state decoding allocates nothing.
/// Buffers are bucketed by exact length (a camera's frame size rarely changes); each bucket keeps at most
/// <see cref="MaxRetainedPerSize"/> idle buffers so memory stays bounded.
/// </summary>
public sealed class FrameBufferPool
{
    private readonly ConcurrentDictionary<int, ConcurrentQueue<byte[]>> _buckets = new();
    private long _allocated;

    public FrameBufferPool(int maxRetainedPerSize = 64) => MaxRetainedPerSize = maxRetainedPerSize;

    /// <summary>The process-wide pool used by default.</summary>
    public static FrameBufferPool Shared { get; } = new();

    public int MaxRetainedPerSize { get; }

    /// <summary>Buffers allocated over the pool's lifetime (a flat figure in steady state means no churn).</summary>
    public long AllocatedCount => Interlocked.Read(ref _allocated);

    public byte[] Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (_buckets.TryGetValue(length, out var bucket) && bucket.TryDequeue(out var buffer))
        {
            return buffer;
        }

        Interlocked.Increment(ref _allocated);
        return GC.AllocateUninitializedArray<byte>(length, pinned: true);
    }

    public void Return(byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var bucket = _buckets.GetOrAdd(buffer.Length, static _ => new ConcurrentQueue<byte[]>());
        if (bucket.Count < MaxRetainedPerSize)
        {
            bucket.Enqueue(buffer);
        }
    }
}
