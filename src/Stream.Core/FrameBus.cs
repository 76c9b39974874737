using System.Threading.Channels;

namespace Streaming.Core;

/// <summary>
/// The Ingest -> Detect hand-off: one bounded channel per camera, so that a stalled or flooding camera never
/// takes queue space from the others, plus a wake-up signal so one reader can batch across all cameras.
/// Live cameras drop their oldest frame when their queue is full (the dropped frame is disposed and counted);
/// file sources wait, losing nothing.
/// </summary>
public sealed class FrameBus
{
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
        SingleWriter = false,
    });

    private volatile CameraFeed[] _feeds = [];
    private readonly Lock _gate = new();
    private bool _completed;

    public FrameBus(int capacityPerCamera = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityPerCamera);
        CapacityPerCamera = capacityPerCamera;
    }

    public int CapacityPerCamera { get; }

    /// <summary>The feeds now open (a snapshot; cameras can be added and removed while the pipeline runs).</summary>
    public IReadOnlyList<CameraFeed> Feeds => _feeds;

    /// <summary>True once <see cref="CompleteAdding"/> was called and every feed has been drained and removed.</summary>
    public bool IsCompleted
    {
        get
        {
            lock (_gate)
            {
                return _completed && _feeds.Length == 0;
            }
        }
    }

    /// <summary>Opens the feed of a camera. <paramref name="live"/> picks drop-oldest (true) or wait (false) when full.</summary>
    public CameraFeed Open(string cameraId, bool live)
    {
        ArgumentException.ThrowIfNullOrEmpty(cameraId);
        lock (_gate)
        {
            if (_completed)
            {
                throw new InvalidOperationException("The frame bus is complete; no camera can be added.");
            }

            if (_feeds.Any(f => f.CameraId == cameraId))
            {
                throw new InvalidOperationException($"Camera '{cameraId}' already has an open feed.");
            }

            var feed = new CameraFeed(this, cameraId, live, CapacityPerCamera);
            _feeds = [.. _feeds, feed];
            Signal();
            return feed;
        }
    }

    /// <summary>No more cameras will be opened; readers finish once every open feed is drained.</summary>
    public void CompleteAdding()
    {
        lock (_gate)
        {
            _completed = true;
        }

        Signal();
    }

    /// <summary>Waits until a frame may be available, a feed was added or removed, or the bus completed.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (await _signal.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            _signal.Reader.TryRead(out _);
        }
    }

    /// <summary>Called by the reader when it has drained a completed feed.</summary>
    public void Remove(CameraFeed feed)
    {
        ArgumentNullException.ThrowIfNull(feed);
        lock (_gate)
        {
            _feeds = [.. _feeds.Where(f => f != feed)];
        }

        Signal();
    }

    internal void Signal() => _signal.Writer.TryWrite(true);
}

/// <summary>One camera's bounded queue of frames towards Detect.</summary>
public sealed class CameraFeed
{
    private readonly FrameBus _bus;
    private readonly Channel<Frame> _channel;
    private long _dropped;

    internal CameraFeed(FrameBus bus, string cameraId, bool live, int capacity)
    {
        _bus = bus;
        CameraId = cameraId;
        IsLive = live;
        _channel = Channel.CreateBounded<Frame>(
            new BoundedChannelOptions(capacity)
            {
                FullMode = live ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = true,
            },
            dropped =>
            {
                Interlocked.Increment(ref _dropped);
                dropped.Dispose();
            });
    }

    public string CameraId { get; }

    public bool IsLive { get; }

    /// <summary>Frames dropped because the queue was full (live feeds only).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public int Count => _channel.Reader.Count;

    public ChannelReader<Frame> Reader => _channel.Reader;

    /// <summary>Writes a frame; ownership passes to the bus. Waits when a file feed is full, drops the oldest when a live one is.</summary>
    public async ValueTask WriteAsync(Frame frame, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(frame);
        frame.IngestOutTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await _channel.Writer.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            frame.Dispose();
            throw;
        }

        _bus.Signal();
    }

    /// <summary>The camera stopped: no more frames. The reader drains what is queued, then removes the feed.</summary>
    public void Complete()
    {
        _channel.Writer.TryComplete();
        _bus.Signal();
    }
}
