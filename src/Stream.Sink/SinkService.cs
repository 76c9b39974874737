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
public sealed class SinkService : PipelineStage
{
    private readonly SinkOptions _options;
    private readonly ChannelReader<TrackedFrame> _frames;
    private readonly ChannelReader<CameraStatusChange> _status;
    private readonly EventSpoolFactory _spools;
    private readonly IKafkaProducerFactory _producers;
    private readonly RedisConnection _redis;
    private readonly SinkMetrics _metrics;
    private readonly ILogger<SinkService> _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private long _truncationLoggedAt = long.MinValue;
    private readonly Dictionary<string, long> _framesSeen = new(StringComparer.Ordinal);
    private readonly FrameLatency _latency;
    private readonly string? _worker;
    private volatile RedisFrameStore? _store;
    private volatile KafkaEventPublisher? _publisher;
    private readonly TaskCompletionSource<string> _bootstrap = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ICameraClips? _cameraClips;
    private readonly ClipOptions? _clipOptions;
    private readonly ClipMetrics? _clipMetrics;
    private ClipWriter? _clipWriter;
    private readonly IEmbeddedKafkaLauncher? _embeddedKafka;

    /// <param name="worker">Cluster mode only: the worker's id, named in every event. Null in a single process.</param>
    /// <param name="clips">The cameras' clip buffers (Ingest's); null in a process without Ingest, which then cuts no clips.</param>
    /// <param name="embeddedKafka">
    /// The development broker for <c>BootstrapServers "embedded"</c> (Stream.DevServices'); null in a process that does not
    /// offer one, which then refuses "embedded" with one line.
    /// </param>
    public SinkService(IOptions<SinkOptions> options, ChannelReader<TrackedFrame> frames, ChannelReader<CameraStatusChange> status,
        EventSpoolFactory spools, IKafkaProducerFactory producers, RedisConnection redis, SinkMetrics metrics, ILoggerFactory loggerFactory, FrameLatency latency,
        TimeProvider time, IOptions<ClipOptions> clipOptions, ClipMetrics clipMetrics, WorkerIdentity? worker = null, ICameraClips? clips = null,
        IEmbeddedKafkaLauncher? embeddedKafka = null)
    {
        _embeddedKafka = embeddedKafka;
        ArgumentNullException.ThrowIfNull(clipOptions);
        // Event clips (ClipWriter): only with a camera registry that keeps clip buffers, and Clips:Enabled.
        (_cameraClips, _clipOptions, _clipMetrics) = clips is not null && clipOptions.Value is { Enabled: true } clipOn
            ? (clips, clipOn, clipMetrics ?? throw new ArgumentNullException(nameof(clipMetrics)))
            : (null, null, null);
        _worker = worker?.Id;
        _latency = latency ?? throw new ArgumentNullException(nameof(latency));
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _frames = frames ?? throw new ArgumentNullException(nameof(frames));
        _spools = spools ?? throw new ArgumentNullException(nameof(spools));
        _producers = producers ?? throw new ArgumentNullException(nameof(producers));
        _redis = redis ?? throw new ArgumentNullException(nameof(redis));
        _status = status ?? throw new ArgumentNullException(nameof(status));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _loggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        _logger = loggerFactory.CreateLogger<SinkService>();
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Completes with the bootstrap servers in use once the producer is up (the in-process mock cluster's when none is configured).</summary>
    public Task<string> BootstrapServers => _bootstrap.Task;

    public SinkMetrics Metrics => _metrics;

    /// <summary>Why the Redis frame cache skips frames right now (a reason of <c>stream.sink.redis_frames_skipped</c>), or null while it stores them.</summary>
    public string? FramesSkippedBecause => _store?.SkippingBecause;

    /// <summary>Why the event spool cannot write events now (naming the disk and the path), or null while it can.</summary>
    public string? SpoolProblem => _publisher?.SpoolProblem;

    /// <summary>How long ago Redis acknowledged the frame cache's last frame, or null before the first (or without Redis).</summary>
    public TimeSpan? FrameStoredAgo => _store?.SinceLastStored;

    /// <summary>How long the frame cache waits for Redis's answer before a frame counts as skipped (timeout).</summary>
    public TimeSpan? RedisAnswerTimeout => _store?.AnswerTimeout;

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        IEmbeddedKafka? devCluster = null;
        KafkaEventPublisher? publisher = null;
        RedisFrameStore? store = null;
        try
        {
            var bootstrap = _options.Kafka.BootstrapServers;
            if (_options.Kafka.IsEmbedded)
            {
                var launcher = _embeddedKafka ?? throw new InvalidOperationException(
                    $"Sink:Kafka:BootstrapServers is \"{KafkaSinkOptions.Embedded}\", but this process has no embedded broker (the stream executable has one, from Stream.DevServices): name your Kafka brokers (host:port,...).");
                devCluster = await launcher.StartAsync(_options.Kafka.Topic, _logger.DevClusterProblem, hardStop).ConfigureAwait(false);
                bootstrap = devCluster.BootstrapServers;
                _logger.DevCluster(bootstrap);
            }

            publisher = new KafkaEventPublisher(_options.Kafka, _spools.Open(), bootstrap, _producers, _metrics, _loggerFactory, _time);
            _publisher = publisher;
            store = RedisFrameStore.Start(_options.Redis, _redis, _metrics, _loggerFactory.CreateLogger<RedisFrameStore>(), _time);
            _store = store;
            _bootstrap.TrySetResult(bootstrap);
            if (_cameraClips is not null)
            {
                _clipWriter = ClipWriter.Start(_clipOptions!, _cameraClips, _clipMetrics!,
                    (ready, ct) => publisher.PublishAsync(ready.CameraId, Serialize(ready), EventKind.ClipReady, 0, ct), _logger);
            }

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
            if (_clipWriter is not null)
            {
                // Before the publisher closes: the clips still being cut announce themselves (clip_ready).
                await _clipWriter.DisposeAsync().ConfigureAwait(false);
            }

            if (publisher is not null)
            {
                // The hard stop cuts the flush short; what is not acknowledged by then stays in the spool.
                var left = await publisher.CloseAsync(TimeSpan.FromSeconds(_options.Kafka.FlushTimeoutSeconds), hardStop).ConfigureAwait(false);
                _logger.SinkClosed(_metrics.Delivered, _metrics.Failed, left);
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
            _latency.Record(frame, _time.GetTimestamp());
            _clipWriter?.Watch(frame.CameraId, frame.MediaTime); // a long track's start clip, once it has lasted Clips:MaxSeconds
            var priority = tracked.KeepFrame;
            foreach (var e in tracked.Events)
            {
                var message = EventMessage.From(e, prefix, _worker);
                if (_clipWriter is not null)
                {
                    // track_ended: its clip, if ready within Clips:WaitMs and before another frame is waiting (a frame
                    // loop that waited on clips held back every camera: 85 % of the cameras bench capacity held without)
                    var nextFrame = e.Kind == EventKind.TrackEnded ? _frames.WaitToReadAsync(hardStop).AsTask() : null;
                    await _clipWriter.AttachAsync(e, message, hardStop, nextFrame).ConfigureAwait(false);
                }

                await publisher.PublishAsync(e.CameraId, Serialize(message), e.Kind, frame.CapturedTimestamp, hardStop).ConfigureAwait(false);
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
                    await publisher.PublishAsync(change.CameraId, Serialize(EventMessage.From(change, _worker)), EventKind.CameraStatus, 0, hardStop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
        }
    }

    /// <summary>The event's JSON, bounded by Sink:Kafka:MaxEventBytes (long fields truncated; said at most once a minute).</summary>
    private byte[] Serialize(EventMessage message)
    {
        var limit = _options.Kafka.MaxEventBytes;
        var bytes = message.ToUtf8(limit, out var original);
        if (original > limit)
        {
            var now = _time.GetTimestamp();
            var last = Interlocked.Read(ref _truncationLoggedAt);
            if ((last == long.MinValue || _time.GetElapsedTime(last, now) >= TimeSpan.FromMinutes(1)) &&
                Interlocked.CompareExchange(ref _truncationLoggedAt, now, last) == last)
            {
                _logger.EventTruncated(message.Kind, message.CameraId.Length > 200 ? message.CameraId[..200] + "..." : message.CameraId, original, limit);
            }
        }

        return bytes;
    }
}
