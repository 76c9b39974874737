using System.Text.Json;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// Publishes events to Kafka through ONE long-lived idempotent producer (acks=all, key = camera id), never losing an
/// accepted event. The on-disk <see cref="EventSpool"/> is a write-ahead log: an event counts as accepted once it is
/// appended there (with the spool's fsync policy); the producer is fed from the spool, oldest first, and a record is
/// settled (its segment deleted once all of its records are) only when the broker has acknowledged it, or when it went
/// to the dead-letter file. A crash at any moment therefore loses nothing that was accepted; the next start replays
/// what was not settled (at-least-once, consumers dedupe by id).
/// <para>
/// All state is owned by one loop (<see cref="RunAsync"/>) fed by one bounded channel of commands: <see cref="Publish"/>
/// from the sink, <see cref="Close"/>, and the ticks <see cref="Tick"/> (delivery reports waiting, queued by librdkafka's
/// poll thread with one tick per batch; the Interval fsync, a produce retry, the close deadline). The loop takes every
/// command waiting at once: their appends reach the spool file in one write, and the delivery reports settle in one
/// pass before the producer is fed again. Its states, in one place:
/// running (feed the producer while its queue has room), queue full (wait for a delivery report), backing off (a
/// produce failed transiently; a timer retries), fatal (the producer is unusable; events stay in the spool), closing
/// (feed and wait until everything is acknowledged or the deadline passes), closed.
/// </para>
/// message.timeout.ms defaults to 0 (infinite): librdkafka itself retries every queued event until the broker
/// acknowledges it, with idempotence preventing duplicates and reordering.
/// </summary>
public sealed class KafkaEventPublisher : IAsyncDisposable
{
    private const int CommandCapacity = 1024;
    private static readonly TimeSpan RetryBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SpoolRetryInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SameErrorQuietPeriod = TimeSpan.FromSeconds(30);

    private readonly KafkaSinkOptions _options;
    private readonly IProducer<string, byte[]> _producer;
    private readonly EventSpool _spool;
    private readonly SinkMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Command> _commands;
    private readonly string _deadLetterPath;
    private readonly ITimer _fsyncTimer;
    private readonly ITimer _retryTimer;
    private readonly ITimer _spoolRetryTimer;
    private readonly SpoolDiskState _disk;
    private readonly Task _loop;
    private readonly Lock _errorGate = new();
    private TaskCompletionSource<long>? _closed;
    private readonly Dictionary<string, long> _recentErrors = new(StringComparer.Ordinal); // text -> when last said, under _errorGate
    private bool _disposed;

    // Owned by the loop only.
    private readonly Dictionary<long, Delivery> _inFlight = [];

    // Delivery reports from librdkafka's poll thread wait here (bounded by the events in flight, so by the producer's queue);
    // the loop is nudged by one Tick.Delivered per batch of reports rather than one command (a lock and a wake-up) each.
    private readonly System.Collections.Concurrent.ConcurrentQueue<Delivery> _reports = new();
    private int _reportTickPending;
    private readonly Queue<Delivery> _retry = new();
    private readonly Queue<Publish> _waitingForSpace = new();
    private readonly List<Publish> _appended = [];
    private long _sequence;
    private bool _queueFull;
    private bool _backlogLogged;
    private bool _backingOff;
    private bool _fatal;
    private bool _fsyncArmed;
    private int _headFailures;

    // The loop's own ledger: accepted (plus found in the spool at the start) = delivered + dead-lettered + in the spool.
    private long _ledgerIn;
    private long _delivered;
    private long _deadLettered;
    private readonly List<Delivery> _stranded = []; // failed with a fatal producer: unsettled, kept for the next process
    private ITimer? _closeTimer;
    private double _closeSeconds;

    // Written by the loop, read by other threads.
    private bool _spoolFull;
    private long _inFlightCount;
    private long _spoolDepth;

    /// <param name="producers">Where the producer comes from; null: librdkafka (<see cref="KafkaProducerFactory"/>).</param>
    public KafkaEventPublisher(KafkaSinkOptions options, SpoolOptions spoolOptions, string bootstrapServers, SinkMetrics metrics, ILoggerFactory loggerFactory,
        TimeProvider? time = null, IKafkaProducerFactory? producers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(spoolOptions);
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options;
        _metrics = metrics;
        _logger = loggerFactory.CreateLogger<KafkaEventPublisher>();
        _time = time ?? TimeProvider.System;
        BootstrapServers = bootstrapServers;
        _spool = new EventSpool(spoolOptions, loggerFactory.CreateLogger<EventSpool>(), _time);
        _deadLetterPath = Path.Combine(_spool.Directory, "dead-letter.jsonl");
        try
        {
            _producer = (producers ?? KafkaProducerFactory.Instance).Create(BuildConfig(options, bootstrapServers),
                new KafkaProducerHandlers(OnLibrdkafkaLog, OnLibrdkafkaError, OnStatistics));
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            _spool.Dispose();
            throw new InvalidOperationException($"Sink:Kafka settings are not accepted by librdkafka ({UrlRedactor.Redact(ex.Message)}): fix or remove the setting named (see Sink:Kafka:Properties).", ex);
        }

        // Bounds the events handed over but not yet in the spool (lost on a crash, never counted as accepted). A delivery
        // report that finds it full waits as a pending write, so librdkafka's poll thread never blocks on the loop.
        _commands = Channel.CreateBounded<Command>(new BoundedChannelOptions(CommandCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _fsyncTimer = _time.CreateTimer(_ => _commands.Writer.TryWrite(Tick.Fsync), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _retryTimer = _time.CreateTimer(_ => _commands.Writer.TryWrite(Tick.Retry), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _spoolRetryTimer = _time.CreateTimer(_ => _commands.Writer.TryWrite(Tick.SpoolRetry), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _disk = new SpoolDiskState(_spool.Directory, _time, _logger);
        _ledgerIn = _spool.Depth;
        Volatile.Write(ref _spoolDepth, _spool.Depth);
        _metrics.SetSpoolDepth(_spool.Depth);
        _logger.PublisherStarted(bootstrapServers, options.Topic, options.EnableIdempotence, options.QueueBufferingMaxMessages, _spool.Directory, spoolOptions.Fsync);
        _loop = Task.Run(RunAsync);
        _commands.Writer.TryWrite(Tick.Retry); // replay what an earlier run left in the spool
    }

    public string BootstrapServers { get; }

    public string Topic => _options.Topic;

    /// <summary>Events in the spool not yet handed to the producer.</summary>
    public long SpoolDepth => Volatile.Read(ref _spoolDepth);

    /// <summary>Why the spool cannot write events now (the disk and the path), or null while it can.</summary>
    public string? SpoolProblem => _disk.Problem;

    /// <summary>Events handed to the producer and not yet acknowledged (also still in the spool until they are).</summary>
    public int InFlight => (int)Volatile.Read(ref _inFlightCount);

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
    /// Hands one event to the publisher's loop, which appends it to the spool (durable as the fsync policy says; only then
    /// is it counted as accepted, <c>stream.sink.events_accepted</c>) and produces it from there, in the order given.
    /// Returns once the loop has it queued (the command channel is bounded), and while the spool is at its size limit
    /// only once the event is in the spool (backpressure). <paramref name="captureTimestamp"/>
    /// (<see cref="TimeProvider.GetTimestamp"/> ticks, 0 for none) is the frame's capture stamp, for the capture-to-ack latency.
    /// </summary>
    public async ValueTask PublishAsync(string key, byte[] value, EventKind kind, long captureTimestamp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var captureUnixMs = captureTimestamp == 0 ? 0 : _time.GetUtcNow().ToUnixTimeMilliseconds() - (long)_time.GetElapsedTime(captureTimestamp).TotalMilliseconds;
        var publish = new Publish(new SpoolRecord(key, value, kind, captureUnixMs) { CaptureTimestamp = captureTimestamp });
        try
        {
            await _commands.Writer.WriteAsync(publish, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            throw new ObjectDisposedException("The Kafka publisher is closed.", ex);
        }

        if (Volatile.Read(ref _spoolFull))
        {
            await publish.WhenAccepted().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Drains the spool into the producer and waits for the broker's acknowledgements for up to <paramref name="timeout"/>
    /// (measured on the injected <see cref="TimeProvider"/>; <paramref name="cancellationToken"/> cuts it short). What is
    /// not acknowledged by then stays in the spool, rewritten in order, for the next start. Returns the number of events left.
    /// </summary>
    public async Task<long> CloseAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_closed is null)
        {
            var close = new Close(timeout);
            if (Interlocked.CompareExchange(ref _closed, close.Done, null) is null && !_commands.Writer.TryWrite(close))
            {
                await _commands.Writer.WriteAsync(close, CancellationToken.None).ConfigureAwait(false);
            }
        }

        using (cancellationToken.Register(() => _commands.Writer.TryWrite(Tick.CloseDeadline)))
        {
            // A loop that died (a bug) must not leave the caller waiting forever: its exception surfaces here.
            await Task.WhenAny(_closed.Task, _loop).ConfigureAwait(false);
            if (_loop.IsFaulted)
            {
                await _loop.ConfigureAwait(false);
            }

            return await _closed.Task.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await CloseAsync(TimeSpan.FromSeconds(_options.FlushTimeoutSeconds), CancellationToken.None).ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _disposed = true;
        await _fsyncTimer.DisposeAsync().ConfigureAwait(false);
        await _retryTimer.DisposeAsync().ConfigureAwait(false);
        await _spoolRetryTimer.DisposeAsync().ConfigureAwait(false);
        _producer.Dispose();
        _spool.Dispose();
    }

    /// <summary>The owner loop: every state change of the publisher happens here, one command at a time.</summary>
    private async Task RunAsync()
    {
        var reader = _commands.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var command))
            {
                try
                {
                    Handle(command);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The disk failed under the spool: the events concerned stay unsettled (replayed at the next start).
                    _logger.SpoolIoFailed(ex.Message);
                    if (command is Publish p)
                    {
                        p.Fail(ex);
                    }
                }

            }

            // One write to the OS for the batch, then the batch counts as accepted and is produced.
            EndBatch();
            if (_closeTimer is not null && IsDrained())
            {
                FinishClose();
            }
        }
    }

    private void Handle(Command command)
    {
        if (_closed?.Task.IsCompleted == true)
        {
            // After the close only stragglers arrive: late delivery reports (their events stay in the spool) and publishes.
            (command as Publish)?.Fail(new ObjectDisposedException("The Kafka publisher is closed."));
            return;
        }

        switch (command)
        {
            case Publish publish:
                Accept(publish);
                break;
            case Tick { Kind: TickKind.Delivered }:
                OnDelivered();
                break;
            case Close close:
                _closeSeconds = close.Timeout.TotalSeconds;
                _closeTimer = _time.CreateTimer(_ => _commands.Writer.TryWrite(Tick.CloseDeadline), null, close.Timeout, Timeout.InfiniteTimeSpan);
                FeedProducer();
                break;
            case Tick { Kind: TickKind.Fsync }:
                _fsyncArmed = false;
                _spool.SyncIfDue();
                ArmFsync();
                break;
            case Tick { Kind: TickKind.Retry }:
                _backingOff = false;
                FeedProducer();
                break;
            case Tick { Kind: TickKind.SpoolRetry }:
                // The disk refused a write: try the waiting events again (appended here; EndBatch writes them).
                TakeWaiting();
                FeedProducer();
                if (_disk.Failing && _appended.Count == 0 && _waitingForSpace.Count > 0)
                {
                    _spoolRetryTimer.Change(SpoolRetryInterval, Timeout.InfiniteTimeSpan);
                }

                break;
            case Tick { Kind: TickKind.CloseDeadline }:
                if (_closeTimer is not null)
                {
                    FinishClose();
                }

                break;
        }
    }

    /// <summary>Write-ahead: the event is appended to the spool here, accepted once the batch reached the OS (<see cref="EndBatch"/>).</summary>
    private void Accept(Publish publish)
    {
        if (_waitingForSpace.Count > 0 || _disk.Failing || !TryAppend(publish))
        {
            if (_waitingForSpace.Count == 0 && !_disk.Failing)
            {
                _logger.SpoolFull(_spool.Directory, _spool.Bytes);
            }

            _waitingForSpace.Enqueue(publish);
            Volatile.Write(ref _spoolFull, true);
        }
    }

    private bool TryAppend(Publish publish)
    {
        try
        {
            if (!_spool.TryAppend(publish.Record))
            {
                return false;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            OnSpoolWriteFailed(ex);
            return false;
        }

        _appended.Add(publish);
        ArmFsync();
        return true;
    }

    /// <summary>
    /// The disk refused a write (full, or failing): the spool took back the events it could not write, the newest of
    /// <see cref="_appended"/>. They are not accepted: they go back in front of the events waiting for room, in order, the
    /// sink holds further events (as when the spool is at MaxBytes: backpressure, live cameras drop their oldest frames),
    /// and a write is tried again every second, or sooner when deliveries free space.
    /// </summary>
    private void OnSpoolWriteFailed(Exception error)
    {
        var back = Math.Min(_spool.RolledBack, _appended.Count);
        var requeue = _appended.GetRange(_appended.Count - back, back);
        _appended.RemoveRange(_appended.Count - back, back);
        var behind = _waitingForSpace.ToArray();
        _waitingForSpace.Clear();
        foreach (var p in requeue.Concat(behind))
        {
            _waitingForSpace.Enqueue(p);
        }

        Volatile.Write(ref _spoolFull, true);
        _metrics.SpoolWriteFailed();
        _disk.Failed(error, _waitingForSpace.Count + 1);
        _spoolRetryTimer.Change(SpoolRetryInterval, Timeout.InfiniteTimeSpan);
    }

    private void EndBatch()
    {
        // Rounds: feeding the producer may take events that waited for room into the spool (appended, not yet written):
        // they are written and accepted in the next round. A failed write puts them back to wait and ends the rounds.
        while (_appended.Count > 0 && _closed?.Task.IsCompleted != true)
        {
            try
            {
                _spool.Flush();
                _disk.Succeeded();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Those the spool could not write wait again (OnSpoolWriteFailed); those written before are accepted.
                OnSpoolWriteFailed(ex);
            }

            var batch = _appended.ToArray();
            _appended.Clear();
            foreach (var publish in batch)
            {
                publish.Accept();
                _metrics.EventAccepted(publish.Record.Kind);
            }

            _ledgerIn += batch.Length;
            FeedProducer();

            // Those not handed to the producer at once (its queue is full, or older events are ahead of them) wait in the spool.
            var unread = (int)Math.Min(Math.Max(0, _spool.Depth - _appended.Count), batch.Length);
            for (var i = batch.Length - unread; i < batch.Length; i++)
            {
                _metrics.EventSpooled(batch[i].Record.Kind);
            }
        }

        PublishDepth();
    }

    /// <summary>Moves events into the producer, retries first, then the spool oldest first, while its queue has room.</summary>
    private void FeedProducer()
    {
        while (!_queueFull && !_backingOff && !_fatal && _closed?.Task.IsCompleted != true)
        {
            if (_retry.TryPeek(out var retry))
            {
                var outcome = TryProduce(retry, out var refusal);
                if (outcome == Outcome.Wait)
                {
                    break;
                }

                _retry.Dequeue();
                if (outcome == Outcome.Refused)
                {
                    DeadLetter(retry, refusal!, produced: false);
                }

                continue;
            }

            if (!_spool.TryPeek(out var record, out var token))
            {
                break;
            }

            var delivery = new Delivery(this, ++_sequence, record, token);
            string? reason = null;
            var result = record.Value.Length > _options.MaxEventBytes

                // Bounded before it is produced: the sink truncates long fields, so only an event that cannot be cut
                // down (a huge camera id, say) gets here.
                ? Outcome.Refused
                : TryProduce(delivery, out reason);
            if (result == Outcome.Wait)
            {
                break;
            }

            _spool.Advance();
            if (result == Outcome.Refused)
            {
                reason = record.Value.Length > _options.MaxEventBytes
                    ? $"event of {record.Value.Length} bytes is over Sink:Kafka:MaxEventBytes ({_options.MaxEventBytes})"
                    : reason;
                DeadLetter(delivery, reason!, produced: false);
            }
        }

        // While the disk refuses writes only the retry tick tries again (TakeWaiting), once a second.
        if (!_disk.Failing)
        {
            TakeWaiting();
        }

        PublishDepth();
    }

    /// <summary>Appends the events that wait for room in the spool, oldest first, while it takes them.</summary>
    private void TakeWaiting()
    {
        while (_waitingForSpace.TryPeek(out var waiting) && TryAppend(waiting))
        {
            _waitingForSpace.Dequeue();
            if (_waitingForSpace.Count == 0)
            {
                Volatile.Write(ref _spoolFull, false);
            }
        }
    }

    /// <summary>
    /// Hands one event to the producer. <see cref="Outcome.Wait"/>: not now (queue full, backing off after a transient
    /// refusal, producer fatal); <see cref="Outcome.Refused"/>: never (a permanent refusal, or one that kept failing
    /// <see cref="KafkaSinkOptions.MaxDeliveryAttempts"/> times): the caller dead-letters it so the events behind it move on.
    /// </summary>
    private Outcome TryProduce(Delivery delivery, out string? refusal)
    {
        refusal = null;
        try
        {
            _producer.Produce(_options.Topic, new Message<string, byte[]> { Key = delivery.Record.Key, Value = delivery.Record.Value }, delivery.Handler);
        }
        catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
        {
            _queueFull = true;
            if (!_backlogLogged)
            {
                _backlogLogged = true;
                _logger.ProducerQueueFull(_options.QueueBufferingMaxMessages, _spool.Directory);
            }

            return Outcome.Wait;
        }
        catch (KafkaException ex) when (IsPermanent(ex.Error))
        {
            // Refused before it was even queued (e.g. larger than message.max.bytes): it can never succeed.
            refusal = UrlRedactor.Redact(ex.Error.Reason);
            return Outcome.Refused;
        }
        catch (KafkaException ex)
        {
            OnLibrdkafkaError(ex.Error);
            if (ex.Error.IsFatal)
            {
                _fatal = true;
                return Outcome.Wait;
            }

            if (++_headFailures >= _options.MaxDeliveryAttempts)
            {
                refusal = $"failed {_headFailures} times (Sink:Kafka:MaxDeliveryAttempts), last: {UrlRedactor.Redact(ex.Error.Reason)}";
                return Outcome.Refused;
            }

            _backingOff = true;
            _retryTimer.Change(RetryBackoff, Timeout.InfiniteTimeSpan);
            return Outcome.Wait;
        }

        _headFailures = 0;
        _inFlight[delivery.Sequence] = delivery;
        Volatile.Write(ref _inFlightCount, _inFlight.Count);
        _metrics.EventProduced(delivery.Record.Kind);
        return Outcome.Produced;
    }

    /// <summary>Settles every delivery report that has come in, then feeds the producer once for the lot.</summary>
    private void OnDelivered()
    {
        // Cleared before draining: a report queued after this point sends a new tick, so none is left behind.
        Volatile.Write(ref _reportTickPending, 0);
        while (_reports.TryDequeue(out var delivery))
        {
            OnDelivered(delivery);
        }

        FeedProducer();
        if (_backlogLogged && !_queueFull && !_spool.HasUnread)
        {
            _backlogLogged = false;
            _logger.SpoolCaughtUp();
        }
    }

    private void OnDelivered(Delivery delivery)
    {
        if (!_inFlight.Remove(delivery.Sequence))
        {
            return;
        }

        Volatile.Write(ref _inFlightCount, _inFlight.Count);
        _queueFull = false;
        var error = delivery.Report!.Error;
        if (!error.IsError)
        {
            var capture = delivery.Record.CaptureTimestamp;
            double? latency = capture != 0 ? _time.GetElapsedTime(capture).TotalMilliseconds
                : delivery.Record.CaptureUnixMs != 0 ? _time.GetUtcNow().ToUnixTimeMilliseconds() - delivery.Record.CaptureUnixMs : null;
            _metrics.EventDelivered(delivery.Record.Kind, delivery.Record.Key, latency);
            _delivered++;
            _spool.Settle(delivery.Token);
        }
        else if (IsPermanent(error))
        {
            DeadLetter(delivery, UrlRedactor.Redact(error.Reason), produced: true);
        }
        else if (error.IsFatal)
        {
            // The producer is unusable: the event stays unsettled in the spool and is sent by the next process.
            _metrics.EventFailed(delivery.Record.Kind, retried: true);
            _stranded.Add(delivery);
            _fatal = true;
            OnLibrdkafkaError(error);
        }
        else if (++delivery.Attempts >= _options.MaxDeliveryAttempts)
        {
            DeadLetter(delivery, $"failed {delivery.Attempts} times (Sink:Kafka:MaxDeliveryAttempts), last: {UrlRedactor.Redact(error.Reason)}", produced: true);
        }
        else
        {
            // Transient (e.g. message.timeout.ms ran out): produced again before newer events. It is still in the spool,
            // unsettled, so a crash meanwhile loses nothing; this camera's order may break (see docs/events.md).
            _metrics.EventFailed(delivery.Record.Kind, retried: true);
            delivery.Report = null;
            _retry.Enqueue(delivery);
        }
    }

    /// <summary>
    /// Writes the event and why it was refused to dead-letter.jsonl (one JSON object a line) and settles it, so delivery
    /// moves on. If the file cannot be written the event stays unsettled in the spool for the next start.
    /// </summary>
    private void DeadLetter(Delivery delivery, string reason, bool produced)
    {
        _headFailures = 0;
        _deadLettered++;
        _metrics.EventFailed(delivery.Record.Kind, retried: false, produced);
        _logger.DeadLettered(delivery.Record.Key, reason, _deadLetterPath);

        try
        {
            using (var file = new FileStream(_deadLetterPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
            using (var json = new Utf8JsonWriter(file))
            {
                json.WriteStartObject();
                json.WriteString("dead_letter_time", _time.GetUtcNow());
                json.WriteString("reason", reason);
                json.WriteString("camera_id", delivery.Record.Key);
                json.WriteString("kind", EventMessage.KindName(delivery.Record.Kind));
                json.WritePropertyName("event");
                try
                {
                    json.WriteRawValue(delivery.Record.Value);
                }
                catch (JsonException)
                {
                    json.WriteBase64StringValue(delivery.Record.Value);
                }

                json.WriteEndObject();
                json.Flush();
                file.WriteByte((byte)'\n');
                file.Flush(flushToDisk: true);
            }

            _spool.Settle(delivery.Token);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.DeadLetterWriteFailed(_deadLetterPath, ex.Message);
        }
    }

    private static bool IsPermanent(Error error) => !error.IsFatal && error.Code is ErrorCode.MsgSizeTooLarge
        or ErrorCode.InvalidMsgSize or ErrorCode.InvalidMsg or ErrorCode.TopicAuthorizationFailed or ErrorCode.Local_UnknownTopic
        or ErrorCode.UnknownTopicOrPart or ErrorCode.InvalidRecord or ErrorCode.Local_BadMsg or ErrorCode.TopicException;

    private bool IsDrained() => _inFlight.Count == 0 && _retry.Count == 0 && _stranded.Count == 0 && !_spool.HasUnread && _waitingForSpace.Count == 0;

    /// <summary>
    /// Ends the loop: what was not acknowledged (in flight, in the order produced, then the unread spool) is rewritten
    /// into one fresh segment, made durable, and the older segments removed, so the next start sends each once, in order.
    /// </summary>
    private void FinishClose()
    {
        _closeTimer?.Dispose();
        _closeTimer = null;
        _commands.Writer.TryComplete();
        long left;
        try
        {
            // Those a fatal producer failed are kept too: the rewrite replaces every older segment.
            var inFlight = _inFlight.Values.Concat(_retry).Concat(_stranded).OrderBy(d => d.Sequence).Select(d => d.Record).ToList();
            _inFlight.Clear();
            _retry.Clear();
            _stranded.Clear();
            foreach (var waiting in _waitingForSpace)
            {
                waiting.Fail(new ObjectDisposedException("The Kafka publisher closed before the spool had room for this event."));
            }

            if (_disk.Problem is { } problem && _waitingForSpace.Count > 0)
            {
                // Never accepted, never counted as delivered: said and counted, not dropped in silence.
                _metrics.EventsLost(_waitingForSpace.Count);
                _logger.EventsLostAtClose(_waitingForSpace.Count, _spool.Directory, problem);
            }

            _waitingForSpace.Clear();
            if (inFlight.Count > 0 || _spool.HasUnread)
            {
                _spool.Rewrite(inFlight);
                _logger.KeptInSpool(_spool.Depth, _closeSeconds, _spool.Directory);
            }

            _spool.Sync();
            left = _spool.Depth;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.SpoolIoFailed(ex.Message);
            left = _spool.Depth;
        }

        Volatile.Write(ref _inFlightCount, 0);
        Volatile.Write(ref _spoolDepth, left);
        _metrics.SetSpoolDepth(left);
        _metrics.SetInFlight(0);
        _closed!.TrySetResult(left);
    }

    private void ArmFsync()
    {
        if (!_fsyncArmed && _spool.NeedsFsync)
        {
            _fsyncArmed = true;
            _fsyncTimer.Change(TimeSpan.FromMilliseconds(Math.Max(1, _spool.FsyncIntervalMs)), Timeout.InfiniteTimeSpan);
        }
    }

    private void PublishDepth()
    {
        Volatile.Write(ref _spoolDepth, _spool.Depth);
        _metrics.SetSpoolDepth(_spool.Depth);

        // In the spool: unread, in the producer's hands (or waiting to be produced again), or stranded by a fatal producer;
        // all of them are still in the spool's files until settled.
        // Appended in this batch and not yet accepted (EndBatch accepts them once written) are in the spool's depth already.
        _metrics.SetUnaccounted(_ledgerIn + _appended.Count - _delivered - _deadLettered - (_spool.Depth + _inFlight.Count + _retry.Count + _stranded.Count));
    }

    private void OnStatistics(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
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
        catch (JsonException)
        {
        }
    }

    /// <summary>True when the same text was said less than 30 s ago (a broker that is down repeats itself every second).</summary>
    private bool Repeated(string text)
    {
        var now = _time.GetTimestamp();
        lock (_errorGate)
        {
            if (_recentErrors.TryGetValue(text, out var at) && _time.GetElapsedTime(at, now) < SameErrorQuietPeriod)
            {
                return true;
            }

            if (_recentErrors.Count >= 64)
            {
                _recentErrors.Clear();
            }

            _recentErrors[text] = now;
            return false;
        }
    }

    private void OnLibrdkafkaError(Error error)
    {
        var reason = UrlRedactor.Redact(error.Reason);
        if (Repeated(reason))
        {
            return;
        }

        if (error.IsFatal)
        {
            _logger.ProducerFatal(reason);
        }
        else
        {
            _logger.BrokerProblem(reason, BootstrapServers);
        }
    }

    /// <summary>librdkafka's syslog levels mapped to ours: its warnings and errors reach an operator; notices are information.</summary>
    internal static LogLevel ToLogLevel(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
        SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    private void OnLibrdkafkaLog(LogMessage message)
    {
        var level = ToLogLevel(message.Level);
        if (!_logger.IsEnabled(level))
        {
            return;
        }

        // Credentials never reach a log: librdkafka's text has URLs and user:password@ masked like every other line.
        var text = UrlRedactor.Redact(message.Message);
        if (level >= LogLevel.Warning && Repeated(message.Facility + text))
        {
            return;
        }

        _logger.Librdkafka(level, message.Facility, text);
    }

    private abstract class Command;

    private enum Outcome
    {
        Produced,
        Wait,
        Refused,
    }

    private enum TickKind
    {
        Fsync,
        Retry,
        SpoolRetry,
        CloseDeadline,
        Delivered,
    }

    /// <summary>A timer's or the caller's nudge; carries nothing, so one instance of each kind is shared.</summary>
    private sealed class Tick : Command
    {
        public static readonly Tick Fsync = new(TickKind.Fsync);
        public static readonly Tick Retry = new(TickKind.Retry);
        public static readonly Tick SpoolRetry = new(TickKind.SpoolRetry);
        public static readonly Tick CloseDeadline = new(TickKind.CloseDeadline);
        public static readonly Tick Delivered = new(TickKind.Delivered);

        private Tick(TickKind kind) => Kind = kind;

        public TickKind Kind { get; }
    }

    /// <summary>
    /// An event to accept. Its outcome (accepted once in the spool, or failed) is kept without a task unless the caller
    /// waits for it (<see cref="WhenAccepted"/>, only while the spool is full), which saves two allocations per event.
    /// </summary>
    private sealed class Publish(SpoolRecord record) : Command
    {
        private static readonly object AcceptedMark = new();
        private object? _outcome; // null: pending; AcceptedMark; an Exception; or the TaskCompletionSource of a caller waiting

        public SpoolRecord Record { get; } = record;

        public void Accept() => Complete(AcceptedMark);

        public void Fail(Exception error) => Complete(error);

        public Task WhenAccepted()
        {
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return Interlocked.CompareExchange(ref _outcome, waiter, null) switch
            {
                null => waiter.Task,
                Exception error => Task.FromException(error),
                TaskCompletionSource other => other.Task,
                _ => Task.CompletedTask,
            };
        }

        private void Complete(object outcome)
        {
            var previous = Interlocked.CompareExchange(ref _outcome, outcome, null);
            if (previous is TaskCompletionSource waiter && Interlocked.CompareExchange(ref _outcome, outcome, waiter) == waiter)
            {
                if (outcome is Exception error)
                {
                    waiter.TrySetException(error);
                }
                else
                {
                    waiter.TrySetResult();
                }
            }
        }
    }

    private sealed class Close(TimeSpan timeout) : Command
    {
        public TimeSpan Timeout { get; } = timeout;

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>An event in the producer's hands; librdkafka's delivery report comes back to the loop through <see cref="_reports"/>.</summary>
    private sealed class Delivery
    {
        private readonly KafkaEventPublisher _owner;

        public Delivery(KafkaEventPublisher owner, long sequence, SpoolRecord record, object token)
        {
            _owner = owner;
            Sequence = sequence;
            Record = record;
            Token = token;
            Handler = OnReport;
        }

        public long Sequence { get; }

        public SpoolRecord Record { get; }

        public object Token { get; }

        public int Attempts { get; set; }

        public DeliveryReport<string, byte[]>? Report { get; set; }

        public Action<DeliveryReport<string, byte[]>> Handler { get; }

        private void OnReport(DeliveryReport<string, byte[]> report)
        {
            Report = report;
            _owner._reports.Enqueue(this);
            if (Interlocked.Exchange(ref _owner._reportTickPending, 1) == 0)
            {
                var writer = _owner._commands.Writer;
                if (!writer.TryWrite(Tick.Delivered))
                {
                    // Full: wait in line without blocking the poll thread. Closed: the event stays unsettled in the spool.
                    _ = writer.WriteAsync(Tick.Delivered).AsTask().ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
            }
        }
    }
}
