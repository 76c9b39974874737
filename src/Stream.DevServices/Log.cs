using Microsoft.Extensions.Logging;

namespace Streaming.DevServices;

/// <summary>The log lines of Stream.DevServices (event ids 54xx, as they were while the alert consumer lived in the Sink).</summary>
internal static partial class Log
{
    // AlertConsumer
    [LoggerMessage(EventId = 5400, Level = LogLevel.Warning, Message = "Kafka: {Reason}")]
    public static partial void AlertKafkaError(this ILogger logger, string reason);

    [LoggerMessage(EventId = 5401, Level = LogLevel.Warning, Message = "Event at partition {Partition} offset {Offset} is not valid JSON ({Error}); skipped")]
    public static partial void AlertBadEvent(this ILogger logger, int partition, long offset, string error);

    [LoggerMessage(EventId = 5402, Level = LogLevel.Warning, Message = "Redis: {Error}")]
    public static partial void AlertRedisError(this ILogger logger, string error);

    [LoggerMessage(EventId = 5403, Level = LogLevel.Information, Message = "Frame {Key} is not in Redis (expired, or skipped while Redis was down)")]
    public static partial void AlertFrameMissing(this ILogger logger, string key);
}
