using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// Publishes events to Kafka through ONE long-lived idempotent producer (acks=all, key = camera id), never losing an
/// accepted event: while the producer's queue is full (broker unreachable) events go to the on-disk <see cref="EventSpool"/>,
/// and while the spool holds anything new events go there too, so that each camera's events stay in order; a background
/// loop replays the spool into the producer as the queue frees up. message.timeout.ms defaults to 0 (infinite): librdkafka
/// itself retries every queued event until the broker acknowledges it, with idempotence preventing duplicates and reordering.
/// </summary>
public sealed partial class KafkaEventPublisher : IAsyncDisposable
{
    private readonly KafkaSinkOptions _options;
    private readonly IProducer<string, byte[]> _producer;
    private readonly EventSpool _spool;
    private readonly SinkMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<long, Pending> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly string _deadLetterPath;
    private readonly Task _drainLoop;
    private long _sequence;
    private bool _closing;
    private long _closedLeft = -1;
    private bool _disposed;
    private bool _queueFullLogged;
    private string? _lastError;
    private long _lastErrorTicks;

    public KafkaEventPublisher(KafkaSinkOptions options, SpoolOptions spoolOptions, string bootstrapServers, SinkMetrics metrics, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(spoolOptions);
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _metrics = metrics;
        _logger = logger;
        BootstrapServers = bootstrapServers;
        _spool = new EventSpool(spoolOptions, logger);
        _deadLetterPath = Path.Combine(_spool.Directory, "dead-letter.jsonl");
        try
        {
            _producer = new ProducerBuilder<string, byte[]>(BuildConfig(options, bootstrapServers))
                .SetLogHandler((_, m) => OnLibrdkafkaLog(m))
                .SetErrorHandler((_, e) => OnLibrdkafkaError(e))
                .SetStatisticsHandler((_, json) => OnStatistics(json))
                .Build();
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            _spool.Dispose();
            throw new InvalidOperationException($"Sink:Kafka settings are not accepted by librdkafka ({UrlRedactor.Redact(ex.Message)}): fix or remove the setting named (see Sink:Kafka:Properties).", ex);
        }

        _metrics.SetSpoolDepth(_spool.Depth);
        LogStarted(_logger, bootstrapServers, options.Topic, options.EnableIdempotence, options.QueueBufferingMaxMessages, _spool.Directory);
        _drainLoop = Task.Run(DrainLoopAsync);
        if (_spool.HasUnread)
        {
            _wake.Release();
        }
    }

    public string BootstrapServers { get; }

    public string Topic => _options.Topic;

    public long SpoolDepth
    {
        get
        {
            lock (_gate)
            {
                return _spool.Depth;
            }
        }
    }

    public int InFlight => _pending.Count;

    /// <summary>The producer configuration (secrets included; never log it).</summary>
    public static ProducerConfig BuildConfig(KafkaSinkOptions options, string bootstrapServers)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = options.ClientId,
            Acks = options.Acks is "all" or "-1" ? Acks.All : options.Acks == "1" ? Acks.Leader : Acks.None,
            EnableIdempotence = options.EnableIdempotence,
            LingerMs = options.LingerMs,
            QueueBufferingMaxMessages = options.QueueBufferingMaxMessages,
            MessageTimeoutMs = options.MessageTimeoutMs,
            // librdkafka statistics every 5 s: the sink reads the request retry count from them.
            StatisticsIntervalMs = 5000,
            // Same partition for the same camera in every Kafka client (Java-compatible murmur2).
            Partitioner = Confluent.Kafka.Partitioner.Murmur2Random,
        };
        if (!string.IsNullOrEmpty(options.SecurityProtocol))
        {
            config.SecurityProtocol = Enum.Parse<SecurityProtocol>(options.SecurityProtocol.Replace("_", string.Empty, StringComparison.Ordinal), true);
        }

        if (!string.IsNullOrEmpty(options.SaslMechanism))
        {
            config.SaslMechanism = Enum.Parse<SaslMechanism>(options.SaslMechanism.Replace("-", string.Empty, StringComparison.Ordinal), true);
        }

        if (!string.IsNullOrEmpty(options.SaslUsername))
        {
            config.SaslUsername = options.SaslUsername;
        }

        if (!string.IsNullOrEmpty(options.SaslPassword))
        {
            config.SaslPassword = options.SaslPassword;
        }

        if (!string.IsNullOrEmpty(options.SslCaLocation))
        {
            config.SslCaLocation = options.SslCaLocation;
        }

        foreach (var (key, value) in options.Properties)
        {
            config.Set(key, value);
        }

        return config;
    }

    /// <summary>
    /// Accepts one event: into the producer queue, or into the spool when the queue is full or the spool is not yet drained.
    /// Waits only when the spool is at its size limit (backpressure). <paramref name="captureTimestamp"/> (Stopwatch ticks,
    /// 0 for none) is the frame's capture stamp, for the capture-to-ack latency.
    /// </summary>
    public async ValueTask PublishAsync(string key, byte[] value, EventKind kind, long captureTimestamp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var captureUnixMs = captureTimestamp == 0 ? 0 : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)Stopwatch.GetElapsedTime(captureTimestamp).TotalMilliseconds;
        var logged = false;
        while (true)
        {
            lock (_gate)
            {
                if (!_spool.HasUnread && TryProduce(key, value, kind, captureTimestamp, captureUnixMs, segmentToken: null))
                {
                    return;
                }

                if (_spool.TryAppend(new SpoolRecord(key, value, kind, captureUnixMs)))
                {
                    _metrics.EventSpooled(kind);
                    _metrics.SetSpoolDepth(_spool.Depth);
                    _wake.Release();
                    return;
                }
            }

            if (!logged)
            {
                LogSpoolFull(_logger, _spool.Directory, _spool.Bytes);
                logged = true;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Drains the spool and flushes the producer for up to <paramref name="timeout"/>; what the broker has not acknowledged by
    /// then is written back to the spool (in order) for the next start. Returns the number of events left in the spool.
    /// </summary>
    public async Task<long> CloseAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_disposed || _closedLeft >= 0)
        {
            return Math.Max(0, _closedLeft);
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && !cancellationToken.IsCancellationRequested)
        {
            lock (_gate)
            {
                DrainSome(int.MaxValue);
            }

            if (_pending.IsEmpty && SpoolDepth == 0)
            {
                break;
            }

            var left = TimeSpan.FromSeconds(Math.Max(0, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
            await Task.Run(() => _producer.Flush(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200)), CancellationToken.None).ConfigureAwait(false);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _drainLoop.ConfigureAwait(false);
        long left2;
        lock (_gate)
        {
            Volatile.Write(ref _closing, true);
            var inFlight = _pending.Values.OrderBy(p => p.Sequence).Select(p => p.Record).ToList();
            _pending.Clear();
            if (inFlight.Count > 0 || _spool.HasUnread)
            {
                _spool.Rewrite(inFlight);
                LogKeptInSpool(_logger, _spool.Depth, timeout.TotalSeconds, _spool.Directory);
            }

            _spool.Sync();
            left2 = _spool.Depth;
            _metrics.SetSpoolDepth(left2);
            _closedLeft = left2;
        }

        return left2;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await CloseAsync(TimeSpan.FromSeconds(_options.FlushTimeoutSeconds), CancellationToken.None).ConfigureAwait(false);
        _disposed = true;
        _producer.Dispose();
        lock (_gate)
        {
            _spool.Dispose();
        }

        _stop.Dispose();
        _wake.Dispose();
    }

    private bool TryProduce(string key, byte[] value, EventKind kind, long captureTimestamp, long captureUnixMs, object? segmentToken)
    {
        var pending = new Pending(this, Interlocked.Increment(ref _sequence), new SpoolRecord(key, value, kind, captureUnixMs), captureTimestamp, segmentToken);
        _pending[pending.Sequence] = pending;
        try
        {
            _producer.Produce(_options.Topic, new Message<string, byte[]> { Key = key, Value = value }, pending.Handler);
        }
        catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
        {
            _pending.TryRemove(pending.Sequence, out _);
            if (!_queueFullLogged)
            {
                _queueFullLogged = true;
                LogQueueFull(_logger, _options.QueueBufferingMaxMessages, _spool.Directory);
            }

            return false;
        }
        catch (KafkaException ex)
        {
            // Anything else the producer refuses right now (e.g. a fatal idempotence error): the event is kept in the
            // spool rather than lost, and retried from there.
            _pending.TryRemove(pending.Sequence, out _);
            OnLibrdkafkaError(ex.Error);
            return false;
        }

        _metrics.EventProduced(kind);
        return true;
    }

    /// <summary>Moves spooled events into the producer, oldest first, until the queue is full again. Caller holds the lock.</summary>
    private int DrainSome(int max)
    {
        var moved = 0;
        while (moved < max && !_closing && _spool.TryPeek(out var record, out var token))
        {
            var captureTimestamp = record.CaptureUnixMs == 0 ? 0 :
                Stopwatch.GetTimestamp() - (long)((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - record.CaptureUnixMs) / 1000.0 * Stopwatch.Frequency);
            if (!TryProduce(record.Key, record.Value, record.Kind, captureTimestamp, record.CaptureUnixMs, token))
            {
                break;
            }

            _spool.Advance();
            moved++;
        }

        _metrics.SetSpoolDepth(_spool.Depth);
        if (moved > 0 && !_spool.HasUnread)
        {
            _queueFullLogged = false;
            LogSpoolDrained(_logger);
        }

        return moved;
    }

    private async Task DrainLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(100, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                lock (_gate)
                {
                    DrainSome(5000);
                    _spool.SyncIfDue();
                }
            }
            catch (Exception ex) when (ex is IOException or KafkaException or UnauthorizedAccessException)
            {
                LogDrainFailed(_logger, UrlRedactor.Redact(ex.Message));
            }
        }
    }

    private void OnDelivered(Pending pending, DeliveryReport<string, byte[]> report)
    {
        // The common case (a direct event acknowledged) needs no lock: the poll thread never waits for the publisher.
        if (!report.Error.IsError && pending.SegmentToken is null)
        {
            if (!Volatile.Read(ref _closing) && _pending.TryRemove(pending.Sequence, out _))
            {
                double? ms = pending.CaptureTimestamp == 0 ? null : Stopwatch.GetElapsedTime(pending.CaptureTimestamp).TotalMilliseconds;
                _metrics.EventDelivered(pending.Record.Kind, pending.Record.Key, ms);
            }

            return;
        }

        lock (_gate)
        {
            if (_closing || !_pending.TryRemove(pending.Sequence, out _))
            {
                return;
            }

            if (!report.Error.IsError)
            {
                double? latency = pending.CaptureTimestamp == 0 ? null : Stopwatch.GetElapsedTime(pending.CaptureTimestamp).TotalMilliseconds;
                _metrics.EventDelivered(pending.Record.Kind, pending.Record.Key, latency);
                if (pending.SegmentToken is { } token)
                {
                    _spool.Settle(token);
                }

                return;
            }

            var permanent = report.Error.IsFatal || report.Error.Code is ErrorCode.MsgSizeTooLarge
                or ErrorCode.TopicAuthorizationFailed or ErrorCode.InvalidMsg or ErrorCode.Local_UnknownTopic
                or ErrorCode.UnknownTopicOrPart;
            if (permanent)
            {
                _metrics.EventFailed(pending.Record.Kind, retried: false);
                LogDeliveryFailed(_logger, pending.Record.Key, report.Error.Reason, _deadLetterPath);
                try
                {
                    File.AppendAllLines(_deadLetterPath, [System.Text.Encoding.UTF8.GetString(pending.Record.Value)]);
                }
                catch (IOException ex)
                {
                    LogDrainFailed(_logger, ex.Message);
                }
            }
            else
            {
                // Transient (e.g. message.timeout.ms ran out): keep it, at the spool's tail.
                _metrics.EventFailed(pending.Record.Kind, retried: true);
                _spool.TryAppend(pending.Record);
                _metrics.EventSpooled(pending.Record.Kind);
                _wake.Release();
            }

            if (pending.SegmentToken is { } t)
            {
                _spool.Settle(t);
            }
        }
    }

    private void OnStatistics(string json)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            long retries = 0;
            if (doc.RootElement.TryGetProperty("brokers", out var brokers))
            {
                foreach (var b in brokers.EnumerateObject())
                {
                    if (b.Value.TryGetProperty("txretries", out var r) && r.TryGetInt64(out var n))
                    {
                        retries += n;
                    }
                }
            }

            _metrics.SetRequestRetries(retries);
        }
        catch (System.Text.Json.JsonException)
        {
        }
    }

    private void OnLibrdkafkaError(Error error)
    {
        var reason = UrlRedactor.Redact(error.Reason);
        var now = Environment.TickCount64;
        if (reason == _lastError && now - _lastErrorTicks < 30_000)
        {
            return;
        }

        _lastError = reason;
        _lastErrorTicks = now;
        if (error.IsFatal)
        {
            LogFatal(_logger, reason);
        }
        else
        {
            LogBrokerProblem(_logger, reason, BootstrapServers);
        }
    }

    private void OnLibrdkafkaLog(LogMessage message)
    {
        if (message.Level <= SyslogLevel.Warning)
        {
            LogLibrdkafka(_logger, message.Facility, UrlRedactor.Redact(message.Message));
        }
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "Kafka producer for {Bootstrap} topic {Topic} (idempotent: {Idempotent}, queue bound {QueueBound} events, spool {SpoolDir})")]
    private static partial void LogStarted(ILogger logger, string bootstrap, string topic, bool idempotent, int queueBound, string spoolDir);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Kafka producer queue is full ({QueueBound} events; broker unreachable or slow): spooling events to {SpoolDir} until it drains")]
    private static partial void LogQueueFull(ILogger logger, int queueBound, string spoolDir);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Event spool drained into the Kafka producer; publishing directly again")]
    private static partial void LogSpoolDrained(ILogger logger);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Error, Message = "Event spool {SpoolDir} is full ({Bytes} bytes): the sink waits until the broker takes events (raise Sink:Spool:MaxBytes or fix the broker)")]
    private static partial void LogSpoolFull(ILogger logger, string spoolDir, long bytes);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "{Count} events not acknowledged by Kafka within {Seconds}s of shutdown stay in the spool {SpoolDir} and are sent at the next start")]
    private static partial void LogKeptInSpool(ILogger logger, long count, double seconds, string spoolDir);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Error, Message = "Kafka refused an event of camera {Camera} for good ({Reason}); it was written to {DeadLetter}")]
    private static partial void LogDeliveryFailed(ILogger logger, string camera, string reason, string deadLetter);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning, Message = "Kafka: {Reason} (bootstrap {Bootstrap}); events wait in the producer queue and then the spool")]
    private static partial void LogBrokerProblem(ILogger logger, string reason, string bootstrap);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Critical, Message = "Kafka producer fatal error: {Reason}. Events are kept in the spool; restart the process to recreate the producer")]
    private static partial void LogFatal(ILogger logger, string reason);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Debug, Message = "librdkafka {Facility}: {Message}")]
    private static partial void LogLibrdkafka(ILogger logger, string facility, string message);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Error, Message = "Event spool I/O failed: {Error}")]
    private static partial void LogDrainFailed(ILogger logger, string error);

    /// <summary>An event in the producer's hands: what it is, where it came from and when its frame was captured.</summary>
    private sealed class Pending
    {
        private readonly KafkaEventPublisher _owner;

        public Pending(KafkaEventPublisher owner, long sequence, SpoolRecord record, long captureTimestamp, object? segmentToken)
        {
            _owner = owner;
            Sequence = sequence;
            Record = record;
            CaptureTimestamp = captureTimestamp;
            SegmentToken = segmentToken;
            Handler = OnReport;
        }

        public long Sequence { get; }

        public SpoolRecord Record { get; }

        public long CaptureTimestamp { get; }

        public object? SegmentToken { get; }

        public Action<DeliveryReport<string, byte[]>> Handler { get; }

        private void OnReport(DeliveryReport<string, byte[]> report) => _owner.OnDelivered(this, report);
    }
}
