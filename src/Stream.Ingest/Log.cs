using Microsoft.Extensions.Logging;

namespace Streaming.Ingest;

/// <summary>Ingest's log messages. URLs and errors passed here are always redacted first.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Camera {CameraId}: connecting to {Url} ({Kind})")]
    public static partial void Connecting(ILogger logger, string cameraId, string url, SourceKind kind);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Camera {CameraId}: streaming {Width}x{Height} at {Fps:0.##} fps nominal")]
    public static partial void Streaming(ILogger logger, string cameraId, int width, int height, double fps);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "{Error}; retry {Attempt} in {DelaySeconds:0.0} s")]
    public static partial void Backoff(ILogger logger, string error, int attempt, double delaySeconds);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Error, Message = "{Error}")]
    public static partial void Failed(ILogger logger, string error);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Camera {CameraId}: stopped ({Reason}) after {Frames} frames")]
    public static partial void Stopped(ILogger logger, string cameraId, string reason, long frames);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Camera {CameraId}: no frame for {Seconds:0.#} s; the watchdog restarts it")]
    public static partial void Watchdog(ILogger logger, string cameraId, double seconds);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Error, Message = "Camera {CameraId} could not be started: {Error}")]
    public static partial void StartFailed(ILogger logger, string cameraId, string error);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Warning, Message = "Ingest: some cameras did not stop within {Seconds} s; their threads are abandoned")]
    public static partial void StopTimedOut(ILogger logger, double seconds);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Ingest: {Decoder}")]
    public static partial void FileDecoder(ILogger logger, string decoder);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "Ingest: {Decoder}")]
    public static partial void FileDecoderFallback(ILogger logger, string decoder);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Warning, Message = "Ingest: no camera to read ({Configured} configured, none enabled): the pipeline idles; add cameras under Cameras in the config file (it is watched) or with POST /api/cameras")]
    public static partial void NoCameras(ILogger logger, int configured);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Warning, Message = "Camera {CameraId}: SkipFrames=NonKey decodes keyframes only, {KeyframesPerSecond:0.##} frames/s here, fewer than MaxFps {MaxFps} (0: no cap) asks for; set MaxFps at or below the keyframe rate, use SkipFrames=NonRef, or shorten the camera's GOP")]
    public static partial void NonKeyBelowMaxFps(ILogger logger, string cameraId, double keyframesPerSecond, double maxFps);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Information, Message = "Camera {CameraId}: the camera refused RTSP over TCP (461 Unsupported transport); streaming over UDP (Ingest:RtspTransport = auto)")]
    public static partial void RtspFellBackToUdp(ILogger logger, string cameraId);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Information, Message = "Ingest stopped: {Cameras} cameras closed")]
    public static partial void IngestStopped(ILogger logger, int cameras);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Warning, Message = "Camera {CameraId}: hardware decode ({HwAccel}) failed ({Reason}); decoding in software from now on")]
    public static partial void HardwareDecodeFailed(ILogger logger, string cameraId, string hwAccel, string reason);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Information, Message = "Camera {CameraId} disabled: stopped, kept with its configuration until enabled or removed")]
    public static partial void CameraDisabled(ILogger logger, string cameraId);

    [LoggerMessage(EventId = 2017, Level = LogLevel.Information, Message = "Camera {CameraId} enabled: starting")]
    public static partial void CameraEnabled(ILogger logger, string cameraId);
}
