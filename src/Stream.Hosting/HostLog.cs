using Microsoft.Extensions.Logging;

namespace Streaming.Hosting;

/// <summary>
/// Every log message of the host, with its event id (10xx; the executable's own are in AppLog, the cluster's 11xx in
/// ClusterLog; Ingest 2xxx, Detect 3xxx, Sink 5xxx). Each component logs under its own category
/// (<c>ILogger&lt;CameraConfigWatcher&gt;</c>, ...), so that <c>Logging:LogLevel</c> can tune it alone.
/// </summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "config change: camera {CameraId} added")]
    public static partial void ConfigCameraAdded(ILogger logger, string cameraId);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "config change: camera {CameraId} removed")]
    public static partial void ConfigCameraRemoved(ILogger logger, string cameraId);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "config change ignored: {Error}")]
    public static partial void ConfigChangeIgnored(ILogger logger, string error);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Giving free native heap pages back to the OS every {Seconds} s (Host:NativeMemoryTrimSeconds).")]
    public static partial void NativeTrimEnabled(ILogger logger, int seconds);
}
