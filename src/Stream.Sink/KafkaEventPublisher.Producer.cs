using Confluent.Kafka;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// The producer side of the publisher's loop: feeding the producer from the spool (retries first), the outcome of a
/// produce call, settling delivery reports, and the dead-letter file for events Kafka refuses for good. Runs on the loop only.
/// </summary>
public sealed partial class KafkaEventPublisher
{
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
            _librdkafka.OnError(ex.Error);
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
            _librdkafka.OnError(error);
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
        _logger.DeadLettered(delivery.Record.Key, reason, _deadLetters.Path);
        try
        {
            _deadLetters.Write(delivery.Record, reason);
            _spool.Settle(delivery.Token);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.DeadLetterWriteFailed(_deadLetters.Path, ex.Message);
        }
    }

    private static bool IsPermanent(Error error) => !error.IsFatal && error.Code is ErrorCode.MsgSizeTooLarge
        or ErrorCode.InvalidMsgSize or ErrorCode.InvalidMsg or ErrorCode.TopicAuthorizationFailed or ErrorCode.Local_UnknownTopic
        or ErrorCode.UnknownTopicOrPart or ErrorCode.InvalidRecord or ErrorCode.Local_BadMsg or ErrorCode.TopicException;

    private enum Outcome
    {
        Produced,
        Wait,
        Refused,
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
