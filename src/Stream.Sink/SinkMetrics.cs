using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>The Sink's instruments (meter <see cref="Telemetry.SinkMeter"/>).</summary>
public sealed class SinkMetrics
{
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _produced;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _spooled;
    private readonly Counter<long> _framesStored;
    private readonly Counter<long> _framesSkipped;
    private readonly Histogram<double> _ackLatency;
    private readonly Histogram<double> _encodeMs;
    private readonly ConcurrentDictionary<string, bool> _frameCameras = new(StringComparer.Ordinal);
    private long _spoolDepth;
    private long _requestRetries;
    private long _inFlight;
    private long _acceptedTotal;
    private long _producedTotal;
    private long _deliveredTotal;
    private long _failedTotal;
    private long _retriedTotal;
    private long _spooledTotal;
    private long _framesAttemptedTotal;
    private long _framesStoredTotal;
    private long _framesSkippedTotal;
    private long _unaccounted;
    private long _spoolWriteFailures;
    private long _lostTotal;

    public SinkMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(Telemetry.SinkMeter);
        _accepted = meter.CreateCounter<long>("stream.sink.events_accepted", "{event}", "Events accepted by the sink: appended to the write-ahead spool (durable as Sink:Spool:Fsync says), never lost after this.");
        _produced = meter.CreateCounter<long>("stream.sink.events_produced", "{event}", "Events handed to the Kafka producer (replays from the spool included).");
        _delivered = meter.CreateCounter<long>("stream.sink.events_delivered", "{event}", "Events acknowledged by Kafka.");
        _failed = meter.CreateCounter<long>("stream.sink.events_failed", "{event}", "Events Kafka refused for good (written to the dead-letter file).");
        _retried = meter.CreateCounter<long>("stream.sink.events_retried", "{event}", "Events whose delivery failed transiently and went back to the spool.");
        _spooled = meter.CreateCounter<long>("stream.sink.events_spooled", "{event}", "Events that waited in the on-disk spool (every event is written there first) because the producer queue was full or older events were ahead of them.");
        _framesStored = meter.CreateCounter<long>("stream.sink.redis_frames_stored", "{frame}", "Frames JPEG-encoded and stored in Redis.");
        _framesSkipped = meter.CreateCounter<long>("stream.sink.redis_frames_skipped", "{frame}", "Frames meant for Redis but skipped (reason tag: redis_down, timeout, auth_failed, queue_full, error).");
        _ackLatency = meter.CreateHistogram<double>("stream.sink.ack_latency", "ms", "From frame capture to the event's Kafka acknowledgement (tags kind, camera).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000, 30000, 60000] });
        _encodeMs = meter.CreateHistogram<double>("stream.sink.jpeg_encode", "ms", "JPEG encode time per stored frame.");
        meter.CreateObservableGauge("stream.sink.spool_depth", () => Interlocked.Read(ref _spoolDepth), "{event}", "Events waiting in the on-disk spool.");
        meter.CreateObservableCounter("stream.sink.kafka_request_retries", () => Interlocked.Read(ref _requestRetries), "{request}", "Produce requests librdkafka retried (broker down or slow), from its statistics.");
        meter.CreateObservableGauge("stream.sink.events_unaccounted", () => Interlocked.Read(ref _unaccounted), "{event}",
            "Events accepted (this run, plus those found in the spool at the start) minus those delivered, dead-lettered or still in the spool, taken at one instant by the publisher's loop: 0 unless an event went missing.");
        meter.CreateObservableCounter("stream.sink.spool_write_failures", () => Interlocked.Read(ref _spoolWriteFailures), "{write}",
            "Writes to the spool that failed (no space left on the disk, I/O error); the events concerned wait, not accepted, and are written again when the disk takes them.");
        meter.CreateObservableCounter("stream.sink.events_lost", () => Interlocked.Read(ref _lostTotal), "{event}",
            "Events the spool could not write before the process stopped (a full disk): never accepted, logged, lost.");
        meter.CreateObservableGauge("stream.sink.events_in_flight", () => Interlocked.Read(ref _inFlight), "{event}", "Events in the producer queue awaiting acknowledgement.");

        // Every event kind's counters exist from the start, at 0: a dashboard or alert sees "none spooled yet", not a
        // missing series (Prometheus' advice for labels whose values are known).
        foreach (var kind in Enum.GetValues<EventKind>())
        {
            var tag = KindTag(kind);
            _accepted.Add(0, tag);
            _produced.Add(0, tag);
            _delivered.Add(0, tag);
            _failed.Add(0, tag);
            _retried.Add(0, tag);
            _spooled.Add(0, tag);
        }
    }

    /// <summary>The reasons <c>stream.sink.redis_frames_skipped</c> counts under (its <c>reason</c> tag).</summary>
    public static IReadOnlyList<string> FrameSkipReasons { get; } = [SkipRedisDown, SkipTimeout, SkipAuthFailed, SkipQueueFull, SkipError];

    public const string SkipRedisDown = "redis_down";

    /// <summary>Redis is connected but does not answer (stalled, overloaded, a network that holds the bytes).</summary>
    public const string SkipTimeout = "timeout";
    public const string SkipAuthFailed = "auth_failed";
    internal const string SkipQueueFull = "queue_full";
    internal const string SkipError = "error";

    public long Accepted => Interlocked.Read(ref _acceptedTotal);

    public long Produced => Interlocked.Read(ref _producedTotal);

    public long Delivered => Interlocked.Read(ref _deliveredTotal);

    public long Failed => Interlocked.Read(ref _failedTotal);

    public long Retried => Interlocked.Read(ref _retriedTotal);

    public long Spooled => Interlocked.Read(ref _spooledTotal);

    public long SpoolDepth => Interlocked.Read(ref _spoolDepth);

    public long InFlight => Interlocked.Read(ref _inFlight);

    public long FramesAttempted => Interlocked.Read(ref _framesAttemptedTotal);

    public long FramesStored => Interlocked.Read(ref _framesStoredTotal);

    public long FramesSkipped => Interlocked.Read(ref _framesSkippedTotal);

    internal static KeyValuePair<string, object?> KindTag(EventKind kind) => new("kind", EventMessage.KindName(kind));

    internal void EventAccepted(EventKind kind)
    {
        Interlocked.Increment(ref _acceptedTotal);
        _accepted.Add(1, KindTag(kind));
    }

    internal void EventProduced(EventKind kind)
    {
        Interlocked.Increment(ref _producedTotal);
        Interlocked.Increment(ref _inFlight);
        _produced.Add(1, KindTag(kind));
    }

    internal void EventDelivered(EventKind kind, string camera, double? latencyMs)
    {
        Interlocked.Increment(ref _deliveredTotal);
        Interlocked.Decrement(ref _inFlight);
        _delivered.Add(1, KindTag(kind));
        if (latencyMs is { } ms)
        {
            _ackLatency.Record(ms, KindTag(kind), new KeyValuePair<string, object?>(Telemetry.CameraTag, camera));
        }
    }

    /// <param name="produced">Whether the event was in the producer's hands (in flight) when it failed.</param>
    internal void EventFailed(EventKind kind, bool retried, bool produced = true)
    {
        if (produced)
        {
            Interlocked.Decrement(ref _inFlight);
        }

        if (retried)
        {
            Interlocked.Increment(ref _retriedTotal);
            _retried.Add(1, KindTag(kind));
        }
        else
        {
            Interlocked.Increment(ref _failedTotal);
            _failed.Add(1, KindTag(kind));
        }
    }

    internal void EventSpooled(EventKind kind)
    {
        Interlocked.Increment(ref _spooledTotal);
        _spooled.Add(1, KindTag(kind));
    }

    /// <summary>Produce requests librdkafka retried so far (from its statistics, every 5 s).</summary>
    public long RequestRetries => Interlocked.Read(ref _requestRetries);

    internal void SetRequestRetries(long retries) => Interlocked.Exchange(ref _requestRetries, retries);

    internal void SetSpoolDepth(long depth) => Interlocked.Exchange(ref _spoolDepth, depth);

    internal void SetInFlight(long inFlight) => Interlocked.Exchange(ref _inFlight, inFlight);

    internal void SetUnaccounted(long events) => Interlocked.Exchange(ref _unaccounted, events);

    internal void SpoolWriteFailed() => Interlocked.Increment(ref _spoolWriteFailures);

    internal void EventsLost(long events) => Interlocked.Add(ref _lostTotal, events);

    /// <summary>Writes to the spool that failed so far.</summary>
    public long SpoolWriteFailures => Interlocked.Read(ref _spoolWriteFailures);

    internal void FrameAttempted(string camera)
    {
        Interlocked.Increment(ref _framesAttemptedTotal);
        if (!_frameCameras.ContainsKey(camera) && _frameCameras.TryAdd(camera, true))
        {
            // A camera's frame counters exist from its first frame, at 0, for every skip reason.
            var cameraTag = new KeyValuePair<string, object?>(Telemetry.CameraTag, camera);
            _framesStored.Add(0, cameraTag);
            foreach (var reason in FrameSkipReasons)
            {
                _framesSkipped.Add(0, cameraTag, new KeyValuePair<string, object?>("reason", reason));
            }
        }
    }

    internal void FrameStored(string camera, double encodeMs)
    {
        Interlocked.Increment(ref _framesStoredTotal);
        _framesStored.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera));
        _encodeMs.Record(encodeMs);
    }

    internal void FrameSkipped(string camera, string reason)
    {
        Interlocked.Increment(ref _framesSkippedTotal);
        _framesSkipped.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera), new KeyValuePair<string, object?>("reason", reason));
    }
}
