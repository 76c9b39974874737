using Microsoft.Extensions.Logging;

namespace Streaming.Track;

/// <summary>Every log message of the Track stage, with its event id (4000-4999), in one place.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Track: camera {Camera} has its own tracker now")]
    public static partial void CameraStarted(ILogger logger, string camera);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Track: camera {Camera} drained")]
    public static partial void CameraDrained(ILogger logger, string camera);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Error, Message = "Track: the tracker of camera {Camera} failed on a frame; the frame is dropped and the camera's tracks start afresh")]
    public static partial void WorkerFailed(ILogger logger, string camera, Exception exception);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Track: camera {Camera}: {Count} end-of-run events could not be delivered (output closed or hard stop)")]
    public static partial void EndEventsLost(ILogger logger, string camera, int count);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Track: hard stop at the shutdown timeout; frames still queued are released")]
    public static partial void HardStop(ILogger logger);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Track:Cameras:{Camera} is the old place of a camera's zones and lines: move its Zones and Lines into the camera's own entry under Cameras (it still works for now)")]
    public static partial void OldGeometryPlace(ILogger logger, string camera);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Error, Message = "Track: camera {Camera}: {Problem}")]
    public static partial void ObjectsProblem(ILogger logger, string camera, string problem);
}
