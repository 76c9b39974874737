using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using StackExchange.Redis;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// Caches recent frames in Redis as JPEG under <c>{prefix}:{camera}:{seq}</c> with a TTL, keeps a per-camera index of
/// recent frames (<c>{prefix}:{camera}:index</c>, a sorted set scored by sequence, trimmed to IndexLength) and
/// <c>{prefix}:{camera}:latest</c> (the newest frame's key). Encoding runs off the hot path on a bounded queue: when the
/// queue is full, or Redis is down, frames are skipped and counted (attempted = stored + skipped). It writes through the
/// process's one Redis connection (<see cref="RedisConnection"/>, shared with the snapshots and the health probe; it
/// reconnects by itself), which it neither opens nor closes. Owns every frame handed to <see cref="TryEnqueue"/> and
/// disposes it once encoded or skipped.
/// </summary>
public sealed class RedisFrameStore : IAsyncDisposable
{
    private readonly RedisSinkOptions _options;
    private readonly SinkMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Channel<Frame> _queue;
    private readonly Channel<Frame> _priority;
    private readonly SemaphoreSlim _inFlight = new(64, 64);
    private readonly Task[] _workers;
    private readonly TimeSpan _ttl;
    private readonly RedisConnection _redis;
    private readonly EventHandler<ConnectionFailedEventArgs> _onFailed;
    private readonly EventHandler<ConnectionFailedEventArgs> _onRestored;

    // StackExchange.Redis tasks have been seen to never complete (a connection closed under them): nothing here waits
    // on Redis without a bound, so a stuck command costs one skipped frame, never a stuck shutdown.
    private readonly TimeSpan _connectWait;
    private readonly TimeSpan _writeWait;
    private volatile Task _connecting = Task.CompletedTask; // the connection's first attempt over and its events followed
    private IConnectionMultiplexer? _subscribed; // whose events the store follows, until it is disposed
    private int _downLogged;
    private readonly TimeProvider _time;
    private long _authLoggedAt = long.MinValue;

    // Redis connected but answering nothing (a stopped server, a network that holds the bytes): set by a write that timed
    // out, cleared by one that got its answer. Meanwhile one write at a time goes out as the probe, and the other frames are
    // skipped as timeout at once, without encoding them or piling them up behind the stalled connection.
    private long _stalledSince; // timestamp of the first timeout; 0 while Redis answers
    private long _lastStored; // timestamp of the last frame Redis acknowledged; 0 before the first
    private int _probing; // 1 while the probe write is out

    private RedisFrameStore(RedisSinkOptions options, RedisConnection redis, SinkMetrics metrics, ILogger logger, TimeProvider time)
    {
        _time = time;
        _redis = redis;
        _onFailed = (_, e) => OnConnectionFailed(e);
        _onRestored = (_, _) => OnConnectionRestored();
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _ttl = TimeSpan.FromSeconds(options.FrameTtlSeconds);
        _connectWait = redis.ConnectTimeout + TimeSpan.FromSeconds(5);
        _writeWait = redis.AnswerTimeout + TimeSpan.FromSeconds(5);
        _queue = Channel.CreateBounded<Frame>(new BoundedChannelOptions(options.EncodeQueue)
        {
            // TryWrite fails when full: the caller skips and counts the frame (never blocks the hot path).
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = options.EncodeWorkers == 1,
            SingleWriter = true,
        });
        _priority = Channel.CreateBounded<Frame>(new BoundedChannelOptions(options.EventFrameQueue)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = options.EncodeWorkers == 1,
            SingleWriter = true,
        });
        _workers = [.. Enumerable.Range(0, options.EncodeWorkers).Select(_ => Task.Run(WorkAsync))];
    }

    /// <summary>
    /// Starts the encode workers over <paramref name="redis"/>, still connecting or not, so the sink takes frames at once:
    /// frames queue (bounded) while its first connection attempt is made, and are skipped and counted whenever Redis is
    /// down after it. The connection reconnects by itself.
    /// </summary>
    public static RedisFrameStore Start(RedisSinkOptions options, RedisConnection redis, SinkMetrics metrics, ILogger<RedisFrameStore> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        var store = new RedisFrameStore(options, redis, metrics, logger, time);
        store._connecting = store.FollowConnectionAsync();
        return store;
    }

    /// <summary>Completes once the first connection attempt is over (connected or not; it keeps retrying by itself).</summary>
    public Task Connecting => _connecting;

    /// <summary>Once the connection's first attempt is over: says how it went, and follows its failures and returns.</summary>
    private async Task FollowConnectionAsync()
    {
        await _redis.Connecting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _logger.RedisConnecting(_redis.Endpoints, _redis.IsConnected);
        if (!_redis.IsConnected && _redis.AuthenticationFailed)
        {
            OnAuthenticationFailed(_redis.Endpoints);
        }

        if (_redis.Multiplexer is { } multiplexer)
        {
            multiplexer.ConnectionFailed += _onFailed;
            multiplexer.ConnectionRestored += _onRestored;
            _subscribed = multiplexer;
        }
    }

    public bool IsConnected => _redis.IsConnected;

    /// <summary>
    /// Why frames are skipped right now (<c>auth_failed</c>, <c>redis_down</c>, <c>timeout</c>: the reasons of
    /// <c>stream.sink.redis_frames_skipped</c>), or null while Redis stores them.
    /// </summary>
    public string? SkippingBecause =>
        _redis.AuthenticationFailed ? SinkMetrics.SkipAuthFailed
        : Volatile.Read(ref _stalledSince) != 0 ? SinkMetrics.SkipTimeout
        : _connecting.IsCompleted && !IsConnected ? SinkMetrics.SkipRedisDown
        : null;

    /// <summary>How long ago Redis acknowledged the last stored frame, or null before the first.</summary>
    public TimeSpan? SinceLastStored => Volatile.Read(ref _lastStored) is var stored and not 0 ? _time.GetElapsedTime(stored) : null;

    /// <summary>How long a write waits for Redis's answer before the frame counts as skipped (timeout).</summary>
    public TimeSpan AnswerTimeout => _redis.AnswerTimeout;

    public string FrameKey(string cameraId, long sequence, long epoch = 0) => EventMessage.FrameKeyFor(_options.KeyPrefix, cameraId, sequence, epoch);

    /// <summary>
    /// Takes ownership of <paramref name="frame"/>: queues it for encoding, or disposes it and counts it skipped.
    /// <paramref name="priority"/> frames (those events refer to, keep-frames) have their own, larger queue and are encoded first.
    /// </summary>
    public void TryEnqueue(Frame frame, bool priority)
    {
        ArgumentNullException.ThrowIfNull(frame);
        _metrics.FrameAttempted(frame.CameraId);
        if (_connecting.IsCompleted && !IsConnected)
        {
            Skip(frame, DownReason);
            return;
        }

        // While the first connection is being made, frames queue (bounded) and the workers wait for it.

        if (!(priority ? _priority : _queue).Writer.TryWrite(frame))
        {
            Skip(frame, SinkMetrics.SkipQueueFull);
        }
    }

    /// <summary>
    /// Encodes and stores what is queued (frames queued while the first connection is being made wait for it), and stops
    /// following the connection; the connection itself is the host's (<see cref="RedisConnection"/>) and stays open.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _priority.Writer.TryComplete();
        await Task.WhenAll(_workers).ConfigureAwait(false);

        // Wait for the Redis writes still in flight.
        for (var i = 0; i < 64; i++)
        {
            await _inFlight.WaitAsync().ConfigureAwait(false);
        }

        await _connecting.WaitAsync(_connectWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (Interlocked.Exchange(ref _subscribed, null) is { } multiplexer)
        {
            multiplexer.ConnectionFailed -= _onFailed;
            multiplexer.ConnectionRestored -= _onRestored;
        }
    }

    private void Skip(Frame frame, string reason)
    {
        _metrics.FrameSkipped(frame.CameraId, reason);
        frame.Dispose();
    }

    private async Task WorkAsync()
    {
        using var encoder = new PooledJpegEncoder(_options.JpegQuality);
        Task<bool>? waitPriority = null;
        Task<bool>? waitPeriodic = null;
        while (true)
        {
            // Frames that events refer to first.
            if (_priority.Reader.TryRead(out var frame) || _queue.Reader.TryRead(out frame))
            {
                // Frames queued while the first connection was being made wait for it (it ends within ConnectTimeout).
                await _connecting.WaitAsync(_connectWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await StoreAsync(frame, encoder).ConfigureAwait(false);
                continue;
            }

            if (_priority.Reader.Completion.IsCompleted && _queue.Reader.Completion.IsCompleted)
            {
                return;
            }

            // Keep one pending wait per queue across iterations (never pile up waiters on an idle queue).
            if (waitPriority is null || waitPriority.IsCompleted)
            {
                waitPriority = _priority.Reader.WaitToReadAsync().AsTask();
            }

            if (waitPeriodic is null || waitPeriodic.IsCompleted)
            {
                waitPeriodic = _queue.Reader.WaitToReadAsync().AsTask();
            }

            await Task.WhenAny(waitPriority, waitPeriodic).ConfigureAwait(false);
        }
    }

    private async Task StoreAsync(Frame frame, PooledJpegEncoder encoder)
    {
        var camera = frame.CameraId;
        var sequence = frame.Sequence;
        var epoch = frame.Epoch;
        (byte[] Buffer, int Length) jpeg;
        var probe = false;
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (!IsConnected)
            {
                Skip(frame, DownReason);
                return;
            }

            if (Volatile.Read(ref _stalledSince) != 0)
            {
                if (Interlocked.CompareExchange(ref _probing, 1, 0) != 0)
                {
                    Skip(frame, SinkMetrics.SkipTimeout);
                    return;
                }

                probe = true;
            }

            // Encode before the frame goes back to the pool; nothing touches its pixels afterwards.
            jpeg = encoder.Encode(frame.Image);
        }
        catch (OpenCVException ex)
        {
            _logger.JpegEncodeFailed(camera, sequence, ex.Message);
            Skip(frame, SinkMetrics.SkipError);
            if (probe)
            {
                Volatile.Write(ref _probing, 0);
            }

            return;
        }
        finally
        {
            frame.Dispose();
        }

        var encodeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var key = FrameKey(camera, sequence, epoch);
        var prefix = _options.KeyPrefix + ":" + camera;
        await _inFlight.WaitAsync().ConfigureAwait(false);
        _ = WriteAsync(camera, sequence, epoch, key, prefix, jpeg, encodeMs, probe);
    }

    /// <summary>
    /// One frame's writes, pipelined with other frames' (at most 64 in flight). The JPEG buffer goes back to the pool
    /// once Redis has answered; after a failure it is left to the GC instead, since a timed-out command may still sit in
    /// the multiplexer's backlog and be written later.
    /// </summary>
    private async Task WriteAsync(string camera, long sequence, long epoch, string key, string prefix, (byte[] Buffer, int Length) jpeg, double encodeMs, bool probe)
    {
        try
        {
            var db = _redis.Multiplexer!.GetDatabase();
            var batch = db.CreateBatch();
            var set = batch.StringSetAsync(key, new ReadOnlyMemory<byte>(jpeg.Buffer, 0, jpeg.Length), _ttl);
            // Scored so that a later run of the camera sorts after an earlier one (epoch x 1000 + seq is exact in a double,
            // and increasing across runs at any frame rate under 1000 fps).
            var add = epoch > 0
                ? batch.SortedSetAddAsync(prefix + ":index", string.Create(CultureInfo.InvariantCulture, $"{epoch}:{sequence}"), (epoch * 1000d) + sequence)
                : batch.SortedSetAddAsync(prefix + ":index", sequence.ToString(CultureInfo.InvariantCulture), sequence);
            var trim = batch.SortedSetRemoveRangeByRankAsync(prefix + ":index", 0, -_options.IndexLength - 1);
            var expireIndex = batch.KeyExpireAsync(prefix + ":index", _ttl);
            var latest = batch.StringSetAsync(prefix + ":latest", key, _ttl);
            batch.Execute();
            await Task.WhenAll(set, add, trim, expireIndex, latest).WaitAsync(_writeWait).ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(jpeg.Buffer);
            _metrics.FrameStored(camera, encodeMs);
            Volatile.Write(ref _lastStored, _time.GetTimestamp());
            var stalledSince = Interlocked.Exchange(ref _stalledSince, 0);
            if (stalledSince != 0)
            {
                _logger.RedisAnswersAgain(_time.GetElapsedTime(stalledSince).TotalSeconds);
            }

            if (Interlocked.Exchange(ref _downLogged, 0) == 1)
            {
                _logger.RedisBack();
            }
        }
        catch (Exception ex) when (ex is TimeoutException) // RedisTimeoutException too: connected, no answer in time
        {
            if (Interlocked.CompareExchange(ref _stalledSince, _time.GetTimestamp(), 0) == 0)
            {
                _logger.RedisStalled(_options.DescribeEndpoints(), AnswerTimeout.TotalSeconds, UrlRedactor.Redact(ex.Message));
            }

            _metrics.FrameSkipped(camera, SinkMetrics.SkipTimeout);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The connection failed or was torn down under the write (StackExchange.Redis then cancels what was pending, or
            // its pipe says "Reading is not allowed after reader was completed"): Redis is away, the frame is skipped. After a
            // timeout that is the client giving up on the stalled connection: the same stall, already said.
            if (Volatile.Read(ref _stalledSince) == 0 && Interlocked.Exchange(ref _downLogged, 1) == 0)
            {
                _logger.RedisStoreFailed(UrlRedactor.Redact(ex.Message));
            }

            _metrics.FrameSkipped(camera, DownReason);
        }
#pragma warning disable CA1031 // Nobody awaits this task: any other failure is logged and counted here, or attempted = stored + skipped breaks.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.RedisStoreFailedUnexpectedly(ex.GetType().Name, UrlRedactor.Redact(ex.Message));
            _metrics.FrameSkipped(camera, SinkMetrics.SkipError);
        }
        finally
        {
            if (probe)
            {
                Volatile.Write(ref _probing, 0);
            }

            _inFlight.Release();
        }
    }

    /// <summary>
    /// Why frames are skipped while there is no connection: the server refused the credentials, or it stalled (a write timed
    /// out and none got an answer since: the connections the client opens again are accepted and never answered either),
    /// or it is away.
    /// </summary>
    private string DownReason => _redis.AuthenticationFailed ? SinkMetrics.SkipAuthFailed : Volatile.Read(ref _stalledSince) != 0 ? SinkMetrics.SkipTimeout : SinkMetrics.SkipRedisDown;

    /// <summary>One warning naming the cause and the fix, repeated at most once a minute while the server keeps refusing.</summary>
    private void OnAuthenticationFailed(string endpoint)
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _authLoggedAt);
        if ((last == long.MinValue || _time.GetElapsedTime(last, now) >= TimeSpan.FromMinutes(1)) &&
            Interlocked.CompareExchange(ref _authLoggedAt, now, last) == last)
        {
            _logger.RedisAuthFailed(endpoint);
        }
    }

    private void OnConnectionFailed(ConnectionFailedEventArgs e)
    {
        // The connection has taken note of a refused AUTH before this runs (its handler was attached first).
        if (RedisConnection.IsAuthenticationFailure(e))
        {
            OnAuthenticationFailed(e.EndPoint?.ToString() ?? _options.DescribeEndpoints());
            return;
        }

        if (_redis.AuthenticationFailed)
        {
            // The connection a refused AUTH leaves behind closes: that is the same problem, already said.
            return;
        }

        if (e.Exception?.ToString().Contains("refused", StringComparison.OrdinalIgnoreCase) == true)
        {
            // Nothing listens any more: Redis is down, no longer stalled.
            Interlocked.Exchange(ref _stalledSince, 0);
        }
        else if (Volatile.Read(ref _stalledSince) != 0)
        {
            // The client gave up on the stalled connection: the same stall, already said.
            return;
        }

        if (Interlocked.Exchange(ref _downLogged, 1) == 0)
        {
            _logger.RedisDown(e.EndPoint?.ToString() ?? "?", e.FailureType.ToString());
        }
    }

    private void OnConnectionRestored()
    {
        if (Interlocked.Exchange(ref _downLogged, 0) == 1)
        {
            _logger.RedisBack();
        }
    }
}
