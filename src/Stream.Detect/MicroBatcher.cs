using Streaming.Core;

namespace Streaming.Detect;

/// <summary>Limits of one micro-batch.</summary>
public sealed record MicroBatchLimits(int MaxBatch, TimeSpan MaxWait, int MaxPerCamera, TimeSpan Staleness)
{
    public static MicroBatchLimits From(DetectOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new MicroBatchLimits(options.MaxBatch, TimeSpan.FromMilliseconds(options.MaxWaitMs), options.MaxPerCamera,
            options.StalenessMs > 0 ? TimeSpan.FromMilliseconds(options.StalenessMs) : TimeSpan.Zero);
    }
}

/// <summary>
/// Forms batches from the per-camera feeds of a <see cref="FrameBus"/>. A batch is handed out when it holds
/// <see cref="MicroBatchLimits.MaxBatch"/> frames, when <see cref="MicroBatchLimits.MaxWait"/> has passed since its first
/// frame reached the bus, or when it cannot grow any more (every open camera is at its per-camera cap, or the bus is done).
/// Cameras are visited round-robin, starting one further each pass, and give at most
/// <see cref="MicroBatchLimits.MaxPerCamera"/> frames per batch, so a fast camera cannot starve the others. Live frames
/// older than <see cref="MicroBatchLimits.Staleness"/> are disposed and reported instead of batched. Each camera's frames
/// keep their order within and across batches. All waiting and ageing runs on the injected <see cref="TimeProvider"/>
/// (a frame's time queued on the bus is read from the bus's own clock). Single reader: one caller at a time.
/// </summary>
public sealed class MicroBatcher
{
    private readonly FrameBus _bus;
    private readonly MicroBatchLimits _limits;
    private readonly TimeProvider _time;
    /// <summary>The clock the <see cref="FrameBus"/> stamps <see cref="Frame.IngestOutTimestamp"/> with.</summary>
    private static readonly TimeProvider BusClock = TimeProvider.System;

    private readonly Action<Frame>? _onStale;
    private readonly Dictionary<CameraFeed, int> _taken = [];
    private int _next;

    public MicroBatcher(FrameBus bus, MicroBatchLimits limits, Action<Frame>? onStale = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limits.MaxBatch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limits.MaxPerCamera);
        _bus = bus;
        _limits = limits;
        _onStale = onStale;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Live frames dropped as stale so far.</summary>
    public long StaleDropped { get; private set; }

    /// <summary>
    /// Fills <paramref name="batch"/> (cleared first) with the next batch; the caller owns its frames. Returns false,
    /// with an empty batch, once the bus is complete and every feed is drained.
    /// </summary>
    public async ValueTask<bool> NextBatchAsync(List<Frame> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Clear();
        _taken.Clear();
        long firstTaken = 0;
        var started = false;
        while (true)
        {
            var growable = Gather(batch);
            if (batch.Count > 0 && !started)
            {
                // The wait counts from when the batch's earliest frame reached the bus, not from when it was taken:
                // a frame that already queued (e.g. while the model ran) does not wait a second time.
                started = true;
                firstTaken = _time.GetTimestamp();
                var queued = TimeSpan.Zero;
                foreach (var frame in batch)
                {
                    if (frame.IngestOutTimestamp > 0 && BusClock.GetElapsedTime(frame.IngestOutTimestamp) is var age && age > queued)
                    {
                        queued = age;
                    }
                }

                firstTaken -= (long)(queued.TotalSeconds * _time.TimestampFrequency);
            }

            if (batch.Count >= _limits.MaxBatch)
            {
                return true;
            }

            if (batch.Count == 0)
            {
                if (_bus.IsCompleted)
                {
                    return false;
                }

                await _bus.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var remaining = _limits.MaxWait - _time.GetElapsedTime(firstTaken);
            if (!growable || remaining <= TimeSpan.Zero)
            {
                return true;
            }

            await WaitAsync(remaining, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes what the feeds hold now, round-robin. Returns whether the batch could still grow from open feeds.</summary>
    private bool Gather(List<Frame> batch)
    {
        var feeds = _bus.Feeds;
        if (feeds.Count == 0)
        {
            return !_bus.IsCompleted;
        }

        var start = _next % feeds.Count;
        bool progress;
        do
        {
            progress = false;
            for (var i = 0; i < feeds.Count && batch.Count < _limits.MaxBatch; i++)
            {
                var feed = feeds[(start + i) % feeds.Count];
                _taken.TryGetValue(feed, out var taken);
                if (taken >= _limits.MaxPerCamera)
                {
                    continue;
                }

                if (TryTakeFresh(feed, out var frame))
                {
                    batch.Add(frame);
                    _taken[feed] = taken + 1;
                    progress = true;
                }
                else if (feed.Reader.Completion.IsCompleted)
                {
                    _bus.Remove(feed); // completed and drained
                }
            }
        }
        while (progress && batch.Count < _limits.MaxBatch);

        _next = (start + 1) % feeds.Count;

        // The batch can still grow if some open feed is under its cap (or a new camera may be added).
        var live = _bus.Feeds;
        if (!_bus.IsCompleted && live.Count == 0)
        {
            return true;
        }

        foreach (var feed in live)
        {
            if (!_taken.TryGetValue(feed, out var taken) || taken < _limits.MaxPerCamera)
            {
                return true;
            }
        }

        // Every open camera is at its cap: only a camera added now could add to it.
        return false;
    }

    private bool TryTakeFresh(CameraFeed feed, out Frame frame)
    {
        while (feed.Reader.TryRead(out frame!))
        {
            if (_limits.Staleness > TimeSpan.Zero && frame.IsLive && _time.GetUtcNow() - frame.CaptureTime > _limits.Staleness)
            {
                StaleDropped++;
                _onStale?.Invoke(frame);
                frame.Dispose();
                continue;
            }

            return true;
        }

        return false;
    }

    private async ValueTask WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeUp = new CancellationTokenSource(timeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeUp.Token);
        try
        {
            await _bus.WaitAsync(either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The batch's wait ran out.
        }
    }
}
