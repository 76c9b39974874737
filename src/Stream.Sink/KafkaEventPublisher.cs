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
/// <para>
/// This file holds the loop and the spool side (accept, write, wait for room, close); the producer side (feed, produce,
/// delivery reports, dead letters) is in <c>KafkaEventPublisher.Producer.cs</c> and the commands in
/// <c>KafkaEventPublisher.Commands.cs</c>. Its collaborators, each its own type: <see cref="KafkaProducerConfigBuilder"/>,
/// <see cref="LibrdkafkaLogBridge"/>, <see cref="DeadLetterFile"/>, the spool from <see cref="EventSpoolFactory"/> and the
/// producer from <see cref="IKafkaProducerFactory"/>.
/// </para>
/// </summary>
public sealed partial class KafkaEventPublisher : IAsyncDisposable
{
    private const int CommandCapacity = 1024;
    private static readonly TimeSpan RetryBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SpoolRetryInterval = TimeSpan.FromSeconds(1);

    private readonly KafkaSinkOptions _options;
    private readonly IProducer<string, byte[]> _producer;
    private readonly EventSpool _spool;
    private readonly SinkMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Command> _commands;
    private readonly DeadLetterFile _deadLetters;
    private readonly LibrdkafkaLogBridge _librdkafka;
    private readonly ITimer _fsyncTimer;
    private readonly ITimer _retryTimer;
    private readonly ITimer _spoolRetryTimer;
    private readonly SpoolDiskState _disk;
    private readonly Task _loop;
    private TaskCompletionSource<long>? _closed;
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

    /// <summary>
    /// Starts the publisher over <paramref name="spool"/> (opened by <see cref="EventSpoolFactory"/>; the publisher owns it from
    /// here on and closes it, also when this constructor throws) with the producer <paramref name="producers"/> makes
    /// (<see cref="KafkaProducerFactory"/>: librdkafka), and sends first what the spool holds from an earlier run.
    /// </summary>
    public KafkaEventPublisher(KafkaSinkOptions options, EventSpool spool, string bootstrapServers, IKafkaProducerFactory producers,
        SinkMetrics metrics, ILoggerFactory loggerFactory, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(spool);
        try
        {
            ArgumentNullException.ThrowIfNull(options);
            ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
            ArgumentNullException.ThrowIfNull(producers);
            ArgumentNullException.ThrowIfNull(metrics);
            ArgumentNullException.ThrowIfNull(loggerFactory);
            ArgumentNullException.ThrowIfNull(time);
            _options = options;
            _metrics = metrics;
            _logger = loggerFactory.CreateLogger<KafkaEventPublisher>();
            _time = time;
            BootstrapServers = bootstrapServers;
            _spool = spool;
            _deadLetters = new DeadLetterFile(_spool.Directory, _time);
            _librdkafka = new LibrdkafkaLogBridge(_logger, metrics, _time, bootstrapServers);
            _producer = CreateProducer(producers, options, bootstrapServers, _librdkafka);
        }
        catch
        {
            spool.Dispose();
            throw;
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
        _logger.PublisherStarted(bootstrapServers, options.Topic, options.EnableIdempotence, options.QueueBufferingMaxMessages, _spool.Directory, _spool.Fsync);
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

    private static IProducer<string, byte[]> CreateProducer(IKafkaProducerFactory producers, KafkaSinkOptions options, string bootstrapServers, LibrdkafkaLogBridge librdkafka)
    {
        try
        {
            return producers.Create(KafkaProducerConfigBuilder.Build(options, bootstrapServers), librdkafka.Handlers);
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidOperationException($"Sink:Kafka settings are not accepted by librdkafka ({UrlRedactor.Redact(ex.Message)}): fix or remove the setting named (see Sink:Kafka:Properties).", ex);
        }
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
}
