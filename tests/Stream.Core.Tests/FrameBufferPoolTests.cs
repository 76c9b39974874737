using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class FrameBufferPoolTests
{
    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    private const int Size = 1280 * 720 * 3;

    /// <summary>Steady load: rent <paramref name="inFlight"/> buffers, return them, every 40 ms for <paramref name="duration"/>.</summary>
    private static void Run(FrameBufferPool pool, ManualTime time, int inFlight, TimeSpan duration)
    {
        var rented = new PixelBuffer[inFlight];
        for (var t = TimeSpan.Zero; t < duration; t += TimeSpan.FromMilliseconds(40))
        {
            for (var i = 0; i < inFlight; i++)
            {
                rented[i] = pool.Rent(Size);
            }

            foreach (var buffer in rented)
            {
                pool.Return(buffer);
            }

            time.Advance(TimeSpan.FromMilliseconds(40));
        }
    }

    [Fact]
    public void Buffers_a_burst_needed_are_let_go_once_idle_for_a_whole_trim_interval_and_the_steady_state_keeps_its_own()
    {
        var time = new ManualTime();
        var pool = new FrameBufferPool(trimInterval: TimeSpan.FromSeconds(30), timeProvider: time);
        Run(pool, time, inFlight: 4, TimeSpan.FromSeconds(40));
        Assert.Equal(4, pool.AllocatedCount);

        // A stall: 20 frames in flight at once.
        Run(pool, time, inFlight: 20, TimeSpan.FromMilliseconds(40));
        Assert.Equal(20, pool.AllocatedCount);
        Assert.Equal(20, pool.IdleCount);

        // Back to 4 in flight: within about two intervals the 16 unneeded buffers go, the 4 the load uses stay, and
        // nothing new is allocated.
        Run(pool, time, inFlight: 4, TimeSpan.FromSeconds(70));
        Assert.Equal(16, pool.ReleasedCount);
        Assert.Equal(4, pool.IdleCount);
        Assert.Equal(20, pool.AllocatedCount);

        // The steady state keeps running on those 4 without allocating or releasing.
        Run(pool, time, inFlight: 4, TimeSpan.FromSeconds(120));
        Assert.Equal(20, pool.AllocatedCount);
        Assert.Equal(16, pool.ReleasedCount);
    }

    [Fact]
    public void A_size_no_longer_used_lets_its_buffers_go_while_other_sizes_are_returned()
    {
        var time = new ManualTime();
        var pool = new FrameBufferPool(trimInterval: TimeSpan.FromSeconds(30), timeProvider: time);
        var old = Enumerable.Range(0, 3).Select(_ => pool.Rent(640 * 480 * 3)).ToList();
        old.ForEach(pool.Return);
        Run(pool, time, inFlight: 2, TimeSpan.FromSeconds(70));
        Assert.Equal(3, pool.ReleasedCount);
        Assert.Equal(2, pool.IdleCount);
    }

    [Fact]
    public void The_pool_never_holds_more_idle_buffers_of_one_size_than_its_cap()
    {
        var pool = new FrameBufferPool(maxRetainedPerSize: 3);
        var rented = Enumerable.Range(0, 5).Select(_ => pool.Rent(1024)).ToList();
        rented.ForEach(pool.Return);
        Assert.Equal(3, pool.IdleCount);
        Assert.Equal(2, pool.ReleasedCount);
    }
}
