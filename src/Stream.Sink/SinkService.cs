using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// The Sink stage: publishes every event of every <see cref="TrackedFrame"/> and every <see cref="CameraStatusChange"/> to
/// Kafka, and hands the frames worth keeping (those events refer to, <see cref="TrackedFrame.KeepFrame"/>, every Nth per
/// camera) to the Redis frame cache. Owns each tracked frame it reads and disposes it (or passes it to the cache, which does).
/// Runs until both inputs are complete, then drains the spool and flushes the producer.
/// </summary>
public sealed partial class SinkService : PipelineStage
{
    private readonly SinkOptions _options;
    private readonly ChannelReader<TrackedFrame> _frames;
    private readonly ChannelReader<CameraStatusChange> _status;
    private readonly SinkMetrics _metrics;
    private readonly ILogger<SinkService> _logger;
    private readonly Dictionary<string, long> _framesSeen = new(StringComparer.Ordinal);
    private readonly FrameLatency? _latency;
    private readonly TaskCompletionSource<string> _bootstrap = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SinkService(IOptions<SinkOptions> options, ChannelReader<TrackedFrame> frames, ChannelReader<CameraStatusChange> status,
        SinkMetrics metrics, ILogger<SinkService> logger, FrameLatency? latency = null)
    {
        _latency = latency;
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _frames = frames ?? throw new ArgumentNullException(nameof(frames));
        _status = status ?? throw new ArgumentNullException(nameof(status));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    /// <summary>Completes with the bootstrap servers in use once the producer is up (the in-process mock cluster's when none is configured).</summary>
    public Task<string> BootstrapServers => _bootstrap.Task;

    public SinkMetrics Metrics => _metrics;

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        DevKafkaCluster? devCluster = null;
        KafkaEventPublisher? publisher = null;
        RedisFrameStore? store = null;
        try
        {
            var bootstrap = _options.Kafka.BootstrapServers;
            if (string.IsNullOrWhiteSpace(bootstrap))
            {
                devCluster = await DevKafkaCluster.StartAsync(1, [_options.Kafka.Topic], hardStop).ConfigureAwait(false);
                bootstrap = devCluster.BootstrapServers;
                LogDevCluster(_logger, bootstrap);
            }

            publisher = new KafkaEventPublisher(_options.Kafka, _options.Spool, bootstrap, _metrics, _logger);
            store = RedisFrameStore.Start(_options.Redis, _metrics, _logger);
            _bootstrap.TrySetResult(bootstrap);
            await Task.WhenAll(
                ConsumeFramesAsync(publisher, store, hardStop),
                ConsumeStatusAsync(publisher, hardStop)).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _bootstrap.TrySetException(ex);
            throw;
        }
        finally
        {
            if (publisher is not null)
            {
                // The hard stop cuts the flush short; what is not acknowledged by then stays in the spool.
                var left = await publisher.CloseAsync(TimeSpan.FromSeconds(_options.Kafka.FlushTimeoutSeconds), hardStop).ConfigureAwait(false);
                LogClosed(_logger, _metrics.Delivered, _metrics.Failed, left);
                await publisher.DisposeAsync().ConfigureAwait(false);
            }

            if (store is not null)
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }

            devCluster?.Dispose();

            // Whatever is still queued (hard stop) is released.
            while (_frames.TryRead(out var tf))
            {
                tf.Dispose();
            }
        }
    }

    private async Task ConsumeFramesAsync(KafkaEventPublisher publisher, RedisFrameStore store, CancellationToken hardStop)
    {
        var every = _options.Redis.EveryNthFrame;
        var prefix = _options.Redis.KeyPrefix;
        try
        {
            while (await _frames.WaitToReadAsync(hardStop).ConfigureAwait(false))
            {
                while (_frames.TryRead(out var tracked))
                {
                    await HandleAsync(tracked, publisher, store, every, prefix, hardStop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
        }
    }

    private async Task HandleAsync(TrackedFrame tracked, KafkaEventPublisher publisher, RedisFrameStore store, int every, string prefix, CancellationToken hardStop)
    {
        var handedOver = false;
        try
        {
            var frame = tracked.Frame;
            _latency?.Record(frame, System.Diagnostics.Stopwatch.GetTimestamp());
            var priority = tracked.KeepFrame;
            foreach (var e in tracked.Events)
            {
                var message = EventMessage.From(e, prefix);
                await publisher.PublishAsync(e.CameraId, message.ToUtf8(), e.Kind, frame.CapturedTimestamp, hardStop).ConfigureAwait(false);
                priority |= e.FrameSequence == frame.Sequence;
            }

            ref var seen = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_framesSeen, frame.CameraId, out _);
            var periodic = every > 0 && seen % every == 0;
            seen++;
            if (priority || periodic)
            {
                handedOver = true;
                store.TryEnqueue(frame, priority);
            }
        }
        finally
        {
            if (!handedOver)
            {
                tracked.Dispose();
            }
        }
    }

    private async Task ConsumeStatusAsync(KafkaEventPublisher publisher, CancellationToken hardStop)
    {
        try
        {
            while (await _status.WaitToReadAsync(hardStop).ConfigureAwait(false))
            {
                while (_status.TryRead(out var change))
                {
                    var message = EventMessage.From(change);
                    await publisher.PublishAsync(change.CameraId, message.ToUtf8(), EventKind.CameraStatus, 0, hardStop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 5300, Level = LogLevel.Warning, Message = "No Sink:Kafka:BootstrapServers configured: started librdkafka's in-process mock Kafka cluster at {Bootstrap} (development only; events are not persisted). Consume with: stream alerts --bootstrap {Bootstrap}")]
    private static partial void LogDevCluster(ILogger logger, string bootstrap);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Sink finished: {Delivered} events acknowledged by Kafka, {Failed} refused, {Left} left in the spool for the next start")]
    private static partial void LogClosed(ILogger logger, long delivered, long failed, long left);
}
