using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class FrameBusTests
{
    private static Frame NewFrame(string camera, long seq) => Frame.Rent(camera, seq, 8, 8, DateTimeOffset.UtcNow);

    [Fact]
    public async Task A_live_feed_drops_its_oldest_frame_when_full_and_counts_it()
    {
        var bus = new FrameBus(capacityPerCamera: 2);
        var feed = bus.Open("cam", live: true);
        var frames = Enumerable.Range(0, 5).Select(i => NewFrame("cam", i)).ToList();
        foreach (var f in frames)
        {
            await feed.WriteAsync(f, CancellationToken.None);
        }

        Assert.Equal(3, feed.Dropped);
        Assert.True(frames.Take(3).All(f => f.IsDisposed), "dropped frames must be disposed");
        Assert.True(feed.Reader.TryRead(out var first));
        Assert.True(feed.Reader.TryRead(out var second));
        Assert.Equal([3L, 4L], new[] { first!.Sequence, second!.Sequence });
        first.Dispose();
        second.Dispose();
    }

    [Fact]
    public async Task A_file_feed_waits_when_full_and_loses_nothing()
    {
        var bus = new FrameBus(capacityPerCamera: 1);
        var feed = bus.Open("file", live: false);
        await feed.WriteAsync(NewFrame("file", 0), CancellationToken.None);
        var blocked = feed.WriteAsync(NewFrame("file", 1), CancellationToken.None).AsTask();
        await Task.Delay(100);
        Assert.False(blocked.IsCompleted);

        Assert.True(feed.Reader.TryRead(out var f0));
        await blocked.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(feed.Reader.TryRead(out var f1));
        Assert.Equal(0, feed.Dropped);
        Assert.Equal([0L, 1L], new[] { f0!.Sequence, f1!.Sequence });
        f0.Dispose();
        f1.Dispose();
    }

    [Fact]
    public async Task The_bus_wakes_its_reader_for_frames_and_completes_once_every_feed_is_drained()
    {
        var bus = new FrameBus();
        var a = bus.Open("a", live: true);
        Assert.Throws<InvalidOperationException>(() => bus.Open("a", live: true));

        var waiting = bus.WaitAsync(CancellationToken.None).AsTask();
        await a.WriteAsync(NewFrame("a", 0), CancellationToken.None);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        a.Complete();
        bus.CompleteAdding();
        Assert.False(bus.IsCompleted); // a frame is still queued
        Assert.Throws<InvalidOperationException>(() => bus.Open("b", live: true));

        Assert.True(a.Reader.TryRead(out var frame));
        frame!.Dispose();
        Assert.True(a.Reader.Completion.IsCompleted);
        bus.Remove(a);
        Assert.True(bus.IsCompleted);
        Assert.Empty(bus.Feeds);
    }
}
