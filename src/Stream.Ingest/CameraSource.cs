using Microsoft.Extensions.Logging;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>What kind of source a camera URL names, which decides the reader.</summary>
public enum SourceKind
{
    /// <summary>Not a source this build can read.</summary>
    Unknown,

    /// <summary>rtsp://, rtsps://, http://, https://: decoded in-process by libav (an ffmpeg child process with HwAccel or without libstreamdec.so).</summary>
    Network,

    /// <summary>A video file path (or file:// URL): an ffmpeg child process (default) or OpenCV VideoCapture (<see cref="IngestOptions.FileDecoder"/>).</summary>
    File,

    /// <summary>A V4L2 device (/dev/videoN): OpenCV VideoCapture.</summary>
    Device,
}

public static class CameraSource
{
    private static readonly string[] NetworkSchemes = ["rtsp", "rtsps", "http", "https"];

    /// <summary>Classifies a camera URL or path.</summary>
    public static SourceKind Classify(string? url) => Classify(url, out _);

    /// <summary>Classifies a camera URL or path; <paramref name="scheme"/> is the URL scheme when there is one.</summary>
    public static SourceKind Classify(string? url, out string? scheme)
    {
        scheme = null;
        if (string.IsNullOrWhiteSpace(url))
        {
            return SourceKind.Unknown;
        }

        var sep = url.IndexOf("://", StringComparison.Ordinal);
        if (sep > 0)
        {
            scheme = url[..sep].ToLowerInvariant();
            if (NetworkSchemes.Contains(scheme))
            {
                return SourceKind.Network;
            }

            return scheme == "file" ? SourceKind.File : SourceKind.Unknown;
        }

        return url.StartsWith("/dev/video", StringComparison.Ordinal) ? SourceKind.Device : SourceKind.File;
    }

    /// <summary>The local path of a file source (strips a file:// prefix).</summary>
    public static string FilePath(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return url.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? Uri.UnescapeDataString(url["file://".Length..]) : url;
    }

    /// <summary>True when frames of this camera may be dropped when downstream is full (live sources and paced files).</summary>
    public static bool IsLive(CameraOptions camera)
    {
        ArgumentNullException.ThrowIfNull(camera);
        return Classify(camera.Url) switch
        {
            SourceKind.File => camera.Pacing == FilePacing.Native,
            _ => true,
        };
    }
}

/// <summary>
/// Picks the source for a camera: the one place that maps a URL kind and <see cref="IngestOptions.FileDecoder"/> to a
/// decoder. Public so that tools (benchmarks) decode through exactly the sources the pipeline uses.
/// </summary>
public static class FrameSources
{
    /// <summary>Why the in-process libav file decoder cannot be used here (library missing), or null when it can.</summary>
    public static string? LibavUnavailableReason => LibavDecoder.UnavailableReason;

    /// <summary>
    /// The source <c>Ingest</c> opens for <paramref name="camera"/>; the caller owns and disposes it. Its frames take
    /// their pixels from <paramref name="pool"/> (default: the shared pool) and their capture time from
    /// <paramref name="time"/>. <paramref name="clipBuffer"/> (zero: none) is the compressed video an in-process decoder
    /// keeps for event clips; the ffmpeg pipe and VideoCapture keep none.
    /// </summary>
    public static IFrameSource Create(CameraOptions camera, IngestOptions options, FrameBufferPool? pool = null, TimeProvider? time = null,
        ILogger? logger = null, TimeSpan clipBuffer = default) =>
        CameraSource.Classify(camera.Url) switch
    {
        SourceKind.Network when NetworkUsesPipe(camera, options) => new FfmpegFrameSource(camera, options, PipeFormat.I420, pool, time, logger),
        SourceKind.Network => new CaptureFrameSource(camera, options.DecoderThreads, FileDecoder.Libav, pool, time, options, logger, clipBuffer),
        SourceKind.File when options.EffectiveFileDecoder == FileDecoder.Ffmpeg => new FfmpegFrameSource(camera, options, PipeFormat.I420, pool, time, logger),
        SourceKind.File => new CaptureFrameSource(camera, options.DecoderThreads, options.EffectiveFileDecoder, pool, time, logger: logger, clipBuffer: clipBuffer),
        SourceKind.Device => new CaptureFrameSource(camera, options.DecoderThreads, FileDecoder.OpenCv, pool, time),
        _ => throw new SourceException("unknown URL scheme; use rtsp://, rtsps://, http://, https://, a file path or /dev/videoN", recoverable: false),
    };

    /// <summary>
    /// Network cameras decode in-process (libav) unless they ask for a hardware decoder (HwAccel, the camera's or
    /// Ingest's: ffmpeg's -hwaccel lives in the pipe) or libstreamdec.so is missing: then an ffmpeg child process.
    /// </summary>
    public static bool NetworkUsesPipe(CameraOptions camera, IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(camera);
        ArgumentNullException.ThrowIfNull(options);
        return !LibavDecoder.IsAvailable || !string.IsNullOrWhiteSpace(camera.HwAccel) || !string.IsNullOrWhiteSpace(options.HwAccel);
    }

    /// <summary>True when <paramref name="camera"/>'s source keeps a clip buffer: the in-process decoder (network cameras without HwAccel, files with FileDecoder Libav).</summary>
    public static bool HasClips(CameraOptions camera, IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(camera);
        ArgumentNullException.ThrowIfNull(options);
        return CameraSource.Classify(camera.Url) switch
        {
            SourceKind.Network => !NetworkUsesPipe(camera, options),
            SourceKind.File => options.EffectiveFileDecoder == FileDecoder.Libav,
            _ => false,
        };
    }

    /// <summary>An ffmpeg-pipe source whatever the URL kind, with the pipe carrying <paramref name="format"/>.</summary>
    public static IFrameSource CreateFfmpegPipe(CameraOptions camera, IngestOptions options, PipeFormat format) =>
        new FfmpegFrameSource(camera, options, format);

    /// <summary>The ffmpeg command line (without the program) an ffmpeg-pipe source runs for <paramref name="camera"/>.</summary>
    public static IReadOnlyList<string> FfmpegArguments(CameraOptions camera, IngestOptions options) =>
        FfmpegFrameSource.BuildArguments(camera, options);

    /// <summary>One line for the start-up log: which decoder reads files and network cameras, and why when it is not the one configured.</summary>
    public static string DescribeFileDecoder(IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var effective = options.EffectiveFileDecoder;
        var network = LibavDecoder.IsAvailable
            ? $"; network cameras by {Name(FileDecoder.Libav)} (RTSP transport {options.RtspTransport}), by ffmpeg child processes where HwAccel is set"
            : $"; network cameras by {Name(FileDecoder.Ffmpeg)}";
        return effective == options.FileDecoder
            ? $"files are decoded by {Name(effective)}{network}"
            : $"files are decoded by {Name(effective)}, not {Name(options.FileDecoder)}: {LibavDecoder.UnavailableReason}{network}";
    }

    private static string Name(FileDecoder decoder) => decoder switch
    {
        FileDecoder.Libav => "the system FFmpeg libraries in-process (libstreamdec.so)",
        FileDecoder.Ffmpeg => "an ffmpeg child process per camera (pipe)",
        _ => "OpenCV VideoCapture",
    };
}
