using Microsoft.Extensions.Logging;

namespace Streaming.Sink;

/// <summary>
/// Every log message of the Sink project, in one place (as StackExchange.Redis keeps its LoggerExtensions.cs), each with
/// its own event id: 50xx the Kafka publisher, 51xx the event spool, 52xx the Redis frame store, 53xx the Sink service,
/// 55xx the clip writer (54xx, the alert consumer's, are Stream.DevServices' now). Each component logs under its own category (<c>ILoggerFactory.CreateLogger&lt;T&gt;()</c>).
/// </summary>
internal static partial class Log
{
    // KafkaEventPublisher
    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "Kafka producer for {Bootstrap} topic {Topic} (idempotent: {Idempotent}, queue bound {QueueBound} events, write-ahead spool {SpoolDir}, fsync {Fsync})")]
    public static partial void PublisherStarted(this ILogger logger, string bootstrap, string topic, bool idempotent, int queueBound, string spoolDir, SpoolFsync fsync);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Kafka producer queue is full ({QueueBound} events; broker unreachable or slow): events wait in the spool {SpoolDir} until it drains")]
    public static partial void ProducerQueueFull(this ILogger logger, int queueBound, string spoolDir);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "The Kafka producer caught up with the spool: events go to the broker as they come again")]
    public static partial void SpoolCaughtUp(this ILogger logger);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Error, Message = "Event spool {SpoolDir} is full ({Bytes} bytes): the sink waits until the broker takes events (raise Sink:Spool:MaxBytes or fix the broker)")]
    public static partial void SpoolFull(this ILogger logger, string spoolDir, long bytes);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "{Count} events not acknowledged by Kafka within {Seconds}s of shutdown stay in the spool {SpoolDir} and are sent at the next start")]
    public static partial void KeptInSpool(this ILogger logger, long count, double seconds, string spoolDir);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Error, Message = "Kafka refused an event of camera {Camera} for good ({Reason}); it was written to {DeadLetter} and delivery moves on")]
    public static partial void DeadLettered(this ILogger logger, string camera, string reason, string deadLetter);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning, Message = "Kafka: {Reason} (bootstrap {Bootstrap}); events wait in the producer queue and the spool")]
    public static partial void BrokerProblem(this ILogger logger, string reason, string bootstrap);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Critical, Message = "Kafka producer fatal error: {Reason}. Events are kept in the spool; restart the process to recreate the producer")]
    public static partial void ProducerFatal(this ILogger logger, string reason);

    /// <summary>librdkafka's own log lines, at the level librdkafka gave them (warnings and errors are never hidden at Debug).</summary>
    [LoggerMessage(EventId = 5008, Message = "librdkafka {Facility}: {Message}")]
    public static partial void Librdkafka(this ILogger logger, LogLevel level, string facility, string message);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Error, Message = "Event spool I/O failed: {Error}")]
    public static partial void SpoolIoFailed(this ILogger logger, string error);


    [LoggerMessage(EventId = 5011, Level = LogLevel.Error, Message = "Could not write the dead-letter file {DeadLetter} ({Error}): the event stays in the spool and is tried again at the next start")]
    public static partial void DeadLetterWriteFailed(this ILogger logger, string deadLetter, string error);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Error, Message = "Event spool {SpoolDir} cannot be written: {Error} ({Disk}). {Waiting} events wait, not accepted: the sink holds further events (live cameras drop their oldest frames) and writes them when the disk takes them again (said every 30 s while it lasts)")]
    public static partial void SpoolWriteFailed(this ILogger logger, string spoolDir, string error, string disk, int waiting);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Information, Message = "Event spool {SpoolDir} takes events again after {Seconds:0.0} s")]
    public static partial void SpoolWritableAgain(this ILogger logger, string spoolDir, double seconds);

    [LoggerMessage(EventId = 5014, Level = LogLevel.Error, Message = "{Count} events could not be written to the spool {SpoolDir} before shutdown ({Error}): they were never accepted and are lost (stream.sink.events_lost)")]
    public static partial void EventsLostAtClose(this ILogger logger, int count, string spoolDir, string error);

    // EventSpool
    [LoggerMessage(EventId = 5100, Level = LogLevel.Warning, Message = "Spool {Directory} holds {Records} undelivered events in {Segments} segment(s) from an earlier run; replaying them before new events")]
    public static partial void SpoolRecovered(this ILogger logger, long records, int segments, string directory);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Error, Message = "Spool segment {Path} has a corrupt record at offset {Offset} ({Problem}), probably torn by a crash: skipping the rest of that segment")]
    public static partial void SpoolCorrupt(this ILogger logger, string path, long offset, string problem);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Could not delete spool segment {Path}: {Error}")]
    public static partial void SpoolDeleteFailed(this ILogger logger, string path, string error);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Error, Message = "fsync of spool segment {Path} failed: {Error}; events accepted since the last fsync may not survive a power cut")]
    public static partial void SpoolFsyncFailed(this ILogger logger, string path, string error);

    // RedisFrameStore
    [LoggerMessage(EventId = 5200, Level = LogLevel.Information, Message = "Redis frame cache at {Endpoints} (connected now: {Connected}; reconnects by itself)")]
    public static partial void RedisConnecting(this ILogger logger, string endpoints, bool connected);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Redis {Endpoint} is unreachable ({Failure}): frames are skipped and counted until it is back")]
    public static partial void RedisDown(this ILogger logger, string endpoint, string failure);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "Redis is back: storing frames again")]
    public static partial void RedisBack(this ILogger logger);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Warning, Message = "Storing a frame in Redis failed ({Error}): frames are skipped and counted until Redis answers")]
    public static partial void RedisStoreFailed(this ILogger logger, string error);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Error, Message = "JPEG encoding of frame {Sequence} of camera {Camera} failed: {Error}")]
    public static partial void JpegEncodeFailed(this ILogger logger, string camera, long sequence, string error);

    [LoggerMessage(EventId = 5205, Level = LogLevel.Error, Message = "Storing a frame in Redis failed unexpectedly ({Type}: {Error}); the frame is skipped and counted")]
    public static partial void RedisStoreFailedUnexpectedly(this ILogger logger, string type, string error);

    [LoggerMessage(EventId = 5206, Level = LogLevel.Warning, Message = "Redis {Endpoint} refused the credentials (authentication failed: wrong password or user): frames are skipped and counted as auth_failed. Fix Sink:Redis:Password (or STREAM_Sink__Redis__Password) and Sink:Redis:User to match the server's requirepass/ACL")]
    public static partial void RedisAuthFailed(this ILogger logger, string endpoint);

    [LoggerMessage(EventId = 5207, Level = LogLevel.Warning, Message = "Redis {Endpoint} is connected but did not answer within {Seconds} s ({Error}): frames are skipped and counted as timeout, one write at a time tries again")]
    public static partial void RedisStalled(this ILogger logger, string endpoint, double seconds, string error);

    [LoggerMessage(EventId = 5208, Level = LogLevel.Information, Message = "Redis answers again after {Seconds:0.0} s: storing frames again")]
    public static partial void RedisAnswersAgain(this ILogger logger, double seconds);

    // SinkService
    [LoggerMessage(EventId = 5300, Level = LogLevel.Warning, Message = "Sink:Kafka:BootstrapServers is embedded: started librdkafka's in-process mock Kafka cluster at {Bootstrap} (development only; events are not persisted). Consume with: stream alerts --bootstrap {Bootstrap}")]
    public static partial void DevCluster(this ILogger logger, string bootstrap);

    [LoggerMessage(EventId = 5303, Level = LogLevel.Error, Message = "In-process Kafka mock cluster: {Message}")]
    public static partial void DevClusterProblem(this ILogger logger, string message);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Sink finished: {Delivered} events acknowledged by Kafka, {Failed} refused, {Left} left in the spool for the next start")]
    public static partial void SinkClosed(this ILogger logger, long delivered, long failed, long left);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Warning, Message = "A {Kind} event of camera {Camera} was {Bytes} bytes, over Sink:Kafka:MaxEventBytes ({Limit}): its long fields were truncated (said at most once a minute)")]
    public static partial void EventTruncated(this ILogger logger, string kind, string camera, int bytes, int limit);

    // ClipWriter
    [LoggerMessage(EventId = 5500, Level = LogLevel.Information, Message = "Event clips: {Directory} (buffer {BufferSeconds} s per camera, {PreSeconds} s before and {PostSeconds} s after each track, at most {MaxSeconds} s; kept up to {MaxBytes} bytes and {MaxAgeHours} h)")]
    public static partial void ClipsStarted(this ILogger logger, string directory, double bufferSeconds, double preSeconds, double postSeconds, double maxSeconds, long maxBytes, double maxAgeHours);

    [LoggerMessage(EventId = 5501, Level = LogLevel.Warning, Message = "No clip for track {TrackId} of camera {Camera} ({Reason}): {Error}; its event goes out without clip_key")]
    public static partial void ClipFailed(this ILogger logger, long trackId, string camera, string reason, string error);

    [LoggerMessage(EventId = 5502, Level = LogLevel.Debug, Message = "Clip {Key}: {Seconds:0.0} s, {Packets} packets, {Bytes} bytes, cut in {Ms:0.0} ms")]
    public static partial void ClipWritten(this ILogger logger, string key, double seconds, int packets, long bytes, double ms);

    [LoggerMessage(EventId = 5503, Level = LogLevel.Information, Message = "Clips: deleted {Count} old clips ({Bytes} bytes) for Clips:MaxAgeHours / Clips:MaxBytes")]
    public static partial void ClipsDeleted(this ILogger logger, int count, long bytes);
}
