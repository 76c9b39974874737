using Microsoft.Extensions.Logging;

namespace Streaming.Cluster;

/// <summary>
/// Every log message of cluster mode, with its event id (11xx of the app's 1xxx range; the host's are in HostLog).
/// </summary>
internal static partial class ClusterLog
{
    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "cluster: worker {Worker} joining group {Group} on registry topic {Topic} ({Partitions} partitions)")]
    public static partial void ClusterJoining(ILogger logger, string worker, string group, string topic, int partitions);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "cluster: partitions assigned: {Partitions}")]
    public static partial void ClusterAssigned(ILogger logger, string partitions);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "cluster: partitions revoked: {Partitions}; stopping their cameras")]
    public static partial void ClusterRevoked(ILogger logger, string partitions);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "cluster: partitions lost (the group moved on without this worker): {Partitions}; stopping their cameras at once")]
    public static partial void ClusterLost(ILogger logger, string partitions);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "cluster: camera {CameraId} started on worker {Worker} (partition {Partition})")]
    public static partial void ClusterCameraStarted(ILogger logger, string cameraId, string worker, int partition);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "cluster: camera {CameraId} stopped on worker {Worker} ({Reason})")]
    public static partial void ClusterCameraStopped(ILogger logger, string cameraId, string worker, string reason);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "cluster: registry record {Key} (partition {Partition}, offset {Offset}) skipped: {Reason}")]
    public static partial void ClusterBadRecord(ILogger logger, string key, int partition, long offset, string reason);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "cluster: camera {CameraId} could not start yet: {Error} (retrying)")]
    public static partial void ClusterStartFailed(ILogger logger, string cameraId, string error);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Warning, Message = "cluster: {Warning}")]
    public static partial void ClusterWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "cluster: Kafka consumer error: {Reason}")]
    public static partial void ClusterConsumerError(ILogger logger, string reason);
}
