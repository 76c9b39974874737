using System.Collections.Concurrent;

namespace Streaming.Core;

/// <summary>
/// Pool of native pixel buffers (<see cref="PixelBuffer"/>) for frames. Native so that an OpenCV <c>Mat</c> can wrap the
/// memory without copying and so that a buffer let go returns its memory to the OS; pooled so that steady-state decoding
/// allocates nothing.
/// Buffers are bucketed by exact length (a camera's frame size rarely changes); each bucket keeps at most
/// <see cref="MaxRetainedPerSize"/> idle buffers so memory stays bounded.
/// <para>
/// A burst (a stalled stage, a slow Redis) can need more buffers than the steady state does; afterwards they sit idle
/// in the pool. The pool tracks, per bucket, the fewest buffers that were idle at any moment of each
/// <see cref="TrimInterval"/>: that many were never needed during the whole interval, so they are let go (their native
/// memory is freed at once). Steady-state memory thus returns to what the load needs, not its high-water mark.
/// </para>
/// </summary>
public sealed class FrameBufferPool
{
    private readonly ConcurrentDictionary<int, Bucket> _buckets = new();
    private readonly TimeProvider _time;
    private readonly long _checkEvery;
    private long _nextCheck;
    private long _allocated;
    private long _released;
    private long _outstanding;

    public FrameBufferPool(int maxRetainedPerSize = 64, TimeSpan? trimInterval = null, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRetainedPerSize);
        MaxRetainedPerSize = maxRetainedPerSize;
        TrimInterval = trimInterval ?? TimeSpan.FromSeconds(30);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TrimInterval, TimeSpan.Zero, nameof(trimInterval));
        _time = timeProvider ?? TimeProvider.System;
        _checkEvery = Math.Max(1, (long)(TrimInterval.TotalSeconds * _time.TimestampFrequency / 8));
        _nextCheck = _time.GetTimestamp() + _checkEvery;
    }

    /// <summary>The process-wide pool used by default.</summary>
    private long _bgrConversions;

    public static FrameBufferPool Shared { get; } = new();

    public int MaxRetainedPerSize { get; }

    /// <summary>How long a buffer may stay unneeded in the pool before it is let go.</summary>
    public TimeSpan TrimInterval { get; }

    /// <summary>Buffers allocated over the pool's lifetime (a flat figure in steady state means no churn).</summary>
    public long AllocatedCount => Interlocked.Read(ref _allocated);

    /// <summary>Buffers let go over the pool's lifetime (idle for a whole trim interval, or beyond the retention cap).</summary>
    public long ReleasedCount => Interlocked.Read(ref _released);

    /// <summary>
    /// Buffers rented and not yet returned. Every frame in flight holds one, so a host that has stopped (channels
    /// drained, frames disposed) must read zero here: anything else is a frame someone forgot to dispose. Hosts log it
    /// at shutdown and the test hosts assert it.
    /// </summary>
    public long OutstandingCount => Interlocked.Read(ref _outstanding);

    /// <summary>
    /// I420 frames of this pool converted to full-resolution BGR (their <see cref="Frame.Image"/> asked for). Ingest hands
    /// out I420 where its decoder can; only the frames the sink stores or the live view shows should ever be converted,
    /// which benchmarks and tests check here.
    /// </summary>
    public long BgrConversions => Interlocked.Read(ref _bgrConversions);

    internal void CountBgrConversion() => Interlocked.Increment(ref _bgrConversions);

    /// <summary>Idle buffers held right now, all sizes.</summary>
    public int IdleCount => _buckets.Values.Sum(b => b.Idle.Count);

    public PixelBuffer Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var bucket = BucketFor(length);
        Interlocked.Increment(ref _outstanding);
        if (bucket.Idle.TryDequeue(out var buffer))
        {
            bucket.NoteIdle(bucket.Idle.Count);
            buffer.Rented = true;
            return buffer;
        }

        bucket.NoteIdle(0);
        Interlocked.Increment(ref _allocated);
        return new PixelBuffer(length) { Rented = true };
    }

    public void Return(PixelBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (!buffer.Rented)
        {
            throw new InvalidOperationException("This pixel buffer was returned to the pool twice; a frame was disposed by two owners.");
        }

        buffer.Rented = false;
        Interlocked.Decrement(ref _outstanding);
        var bucket = BucketFor(buffer.Length);
        if (bucket.Idle.Count < MaxRetainedPerSize)
        {
            bucket.Idle.Enqueue(buffer);
        }
        else
        {
            Release(buffer);
        }

        // A few times per trim interval, every bucket, so that one no longer used (a removed camera, a changed size) lets
        // its buffers go too. In between, a return costs one timestamp read (no enumeration, no allocation).
        var now = _time.GetTimestamp();
        var next = Interlocked.Read(ref _nextCheck);
        if (now >= next && Interlocked.CompareExchange(ref _nextCheck, now + _checkEvery, next) == next)
        {
            foreach (var pair in _buckets)
            {
                TrimIfDue(pair.Value, now);
            }
        }
    }

    // The clock is read only when a bucket is created, not on every rent and return.
    private Bucket BucketFor(int length) => _buckets.GetOrAdd(length, static (_, pool) => new Bucket(pool._time.GetTimestamp()), this);

    private void TrimIfDue(Bucket bucket, long now)
    {
        var since = Interlocked.Read(ref bucket.IntervalStart);
        if (_time.GetElapsedTime(since, now) < TrimInterval || Interlocked.CompareExchange(ref bucket.IntervalStart, now, since) != since)
        {
            return; // not due, or another thread trims this bucket
        }

        // Buffers idle through the whole interval were never needed in it; the next interval starts from what is idle now.
        var unneeded = Interlocked.Exchange(ref bucket.MinIdle, bucket.Idle.Count);
        for (var i = 0; i < unneeded && bucket.Idle.TryDequeue(out var buffer); i++)
        {
            Release(buffer);
        }

        Interlocked.Exchange(ref bucket.MinIdle, bucket.Idle.Count);
    }

    private void Release(PixelBuffer buffer)
    {
        buffer.Free();
        Interlocked.Increment(ref _released);
    }

    private sealed class Bucket(long now)
    {
        public readonly ConcurrentQueue<PixelBuffer> Idle = new();
        public long IntervalStart = now;
        public int MinIdle;

        /// <summary>Lowers this interval's low-water mark of idle buffers to <paramref name="idle"/> when it is lower.</summary>
        public void NoteIdle(int idle)
        {
            var current = Volatile.Read(ref MinIdle);
            while (idle < current)
            {
                var seen = Interlocked.CompareExchange(ref MinIdle, idle, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }
}
