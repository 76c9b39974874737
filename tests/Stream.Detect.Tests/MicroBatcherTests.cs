using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Streaming.Core;
using Streaming.Detect;

namespace Streaming.Detect.Tests;

public class MicroBatcherTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_batch_is_flushed_as_soon_as_it_reaches_max_batch()
    {
        var bus = new FrameBus(8);
        var feeds = new[] { bus.Open("a", live: false), bus.Open("b", live: false), bus.Open("c", live: false) };
        foreach (var feed in feeds)
        {
            await Fill(feed, 3);
        }

        var batcher = new MicroBatcher(bus, new MicroBatchLimits(4, Long, 2, TimeSpan.Zero), time: _time);
        var batch = new List<Frame>();

        var next = batcher.NextBatchAsync(batch, CancellationToken.None);

        Assert.True(next.IsCompleted, "a full batch must not wait while no time passes");
        Assert.True(await next);
        Assert.Equal(4, batch.Count);
        Dispose(batch);
    }

    [Fact]
    public async Task A_partial_batch_is_flushed_when_max_wait_has_passed_since_its_first_frame()
    {
        var bus = new FrameBus(8);
        var a = bus.Open("a", live: false);
        bus.Open("b", live: false); // open but silent: the batch could still grow, so it waits
        await Fill(a, 1);
        var batcher = new MicroBatcher(bus, new MicroBatchLimits(4, Long, 4, TimeSpan.Zero), time: _time);
        var batch = new List<Frame>();

        var next = batcher.NextBatchAsync(batch, CancellationToken.None);
        _time.Advance(Long - TimeSpan.FromSeconds(1));
        Assert.False(next.IsCompleted, "flushed before max wait had passed");
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(await next.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Single(batch);
        Dispose(batch);
    }

    [Fact]
    public async Task Max_wait_counts_from_when_the_first_frame_reached_the_bus()
    {
        var bus = new FrameBus(8);
        var a = bus.Open("a", live: false);
        bus.Open("b", live: false);
        await Fill(a, 1);
        await Task.Delay(250); // the frame queues longer than max wait (e.g. while the model ran)
        var batcher = new MicroBatcher(bus, new MicroBatchLimits(4, TimeSpan.FromMilliseconds(200), 4, TimeSpan.Zero));
        var batch = new List<Frame>();
        var watch = Stopwatch.StartNew();

        Assert.True(await batcher.NextBatchAsync(batch, CancellationToken.None));

        Assert.Single(batch);
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(150), $"took {watch.Elapsed}: the frame had already waited its max wait");
        Dispose(batch);
    }

    [Fact]
    public async Task A_frame_arriving_during_the_wait_joins_the_batch()
    {
        var bus = new FrameBus(8);
        var a = bus.Open("a", live: false);
        var b = bus.Open("b", live: false);
        await Fill(a, 1);
        var batcher = new MicroBatcher(bus, new MicroBatchLimits(2, TimeSpan.FromSeconds(5), 2, TimeSpan.Zero), time: _time);
        var batch = new List<Frame>();
        var next = batcher.NextBatchAsync(batch, CancellationToken.None);
        Assert.False(next.IsCompleted);
        await Fill(b, 1);

        // No time passes on the batcher's clock: the batch is handed out because it is full, not because max wait ran out.
        Assert.True(await next.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(["a", "b"], batch.Select(f => f.CameraId));
        Dispose(batch);
    }

    [Fact]
    public async Task A_fast_camera_gives_at_most_max_per_camera_frames_per_batch_and_cannot_starve_the_others()
    {
        var bus = new FrameBus(16);
        var fast = bus.Open("fast", live: false);
        var slow1 = bus.Open("slow1", live: false);
        var slow2 = bus.Open("slow2", live: false);
        await Fill(fast, 12);
        await Fill(slow1, 2);
        await Fill(slow2, 2);
        var batcher = new MicroBatcher(bus, new MicroBatchLimits(4, TimeSpan.FromMilliseconds(20), 2, TimeSpan.Zero));
        var batch = new List<Frame>();

        // First two batches: every camera is represented, the fast one never more than twice.
        for (var i = 0; i < 2; i++)
        {
            Assert.True(await batcher.NextBatchAsync(batch, CancellationToken.None));
            Assert.Equal(4, batch.Count);
            Assert.InRange(batch.Count(f => f.CameraId == "fast"), 1, 2);
            Assert.Equal(3, batch.Select(f => f.CameraId).Distinct().Count());
            Dispose(batch);
        }

        // The slow cameras are drained; the fast one now fills batches up to its cap alone.
        Assert.True(await batcher.NextBatchAsync(batch, CancellationToken.None));
        Assert.Equal(["fast", "fast"], batch.Select(f => f.CameraId));
        Dispose(batch);
    }

    [Fact]
    public async Task Stale_live_frames_are_dropped_disposed_and_counted_before_batching()
    {
        var bus = new FrameBus(8);
        var live = bus.Open("live", live: true);
        var file = bus.Open("file", live: false);
        var old = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(5);
        var staleFrames = new List<Frame>();
        for (var i = 0; i < 3; i++)
        {
            var frame = Frame.Rent("live", i, 4, 4, old, isLive: true);
            staleFrames.Add(frame);
            await live.WriteAsync(frame, CancellationToken.None);
        }

        await live.WriteAsync(Frame.Rent("live", 3, 4, 4, DateTimeOffset.UtcNow, isLive: true), CancellationToken.None);
        await file.WriteAsync(Frame.Rent("file", 0, 4, 4, old, isLive: false), CancellationToken.None); // files are never stale
        var dropped = new List<string>();
        var batcher = new MicroBatcher(bus, new MicroBatchLimits(2, TimeSpan.FromSeconds(5), 4, TimeSpan.FromSeconds(1)), f => dropped.Add(f.CameraId));
        var batch = new List<Frame>();

        Assert.True(await batcher.NextBatchAsync(batch, CancellationToken.None));

        Assert.Equal([("file", 0L), ("live", 3L)], batch.Select(f => (f.CameraId, f.Sequence)).Order());
        Assert.Equal(3, batcher.StaleDropped);
        Assert.Equal(["live", "live", "live"], dropped);
        Assert.All(staleFrames, f => Assert.True(f.IsDisposed));
        Dispose(batch);
    }

    [Fact]
    public async Task Each_camera_keeps_its_order_and_the_batcher_finishes_when_the_bus_is_complete_and_drained()
    {
        var bus = new FrameBus(32);
        var a = bus.Open("a", live: false);
        var b = bus.Open("b", live: false);
        await Fill(a, 7);
        await Fill(b, 5);
        a.Complete();
        b.Complete();
        bus.CompleteAdding();
        var batcher = new MicroBatcher(bus, new MicroBatchLimits(3, TimeSpan.FromSeconds(5), 2, TimeSpan.Zero), time: _time);
        var batch = new List<Frame>();
        var seen = new Dictionary<string, List<long>> { ["a"] = [], ["b"] = [] };
        var batches = 0;

        // The batcher's clock never moves: batches that cannot grow must not wait for max wait.
        while (await batcher.NextBatchAsync(batch, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30)))
        {
            batches++;
            Assert.InRange(batch.Count, 1, 3);
            foreach (var frame in batch)
            {
                seen[frame.CameraId].Add(frame.Sequence);
            }

            Dispose(batch);
        }

        Assert.Equal(Enumerable.Range(0, 7).Select(i => (long)i), seen["a"]);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), seen["b"]);
        Assert.Empty(batch);
        Assert.Empty(bus.Feeds);
        Assert.True(bus.IsCompleted);
        Assert.InRange(batches, 4, 12);
    }

    [Fact]
    public async Task Waiting_for_frames_stops_when_cancelled()
    {
        var bus = new FrameBus(4);
        bus.Open("a", live: true);
        var batcher = new MicroBatcher(bus, new MicroBatchLimits(4, TimeSpan.FromMilliseconds(10), 2, TimeSpan.Zero));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await batcher.NextBatchAsync([], cts.Token));
    }

    private static async Task Fill(CameraFeed feed, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await feed.WriteAsync(Frame.Rent(feed.CameraId, i, 4, 4, DateTimeOffset.UtcNow, isLive: feed.IsLive), CancellationToken.None);
        }
    }

    private static void Dispose(List<Frame> batch)
    {
        batch.ForEach(f => f.Dispose());
        batch.Clear();
    }
}
