using System.ComponentModel.DataAnnotations;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>Which decoder reads file sources.</summary>
public enum FileDecoder
{
    /// <summary>
    /// OpenCV VideoCapture (exact container PTS, also for variable-rate files; OpenCvSharp's bundled FFmpeg is built
    /// without SIMD, so it decodes about 2x slower than the system ffmpeg).
    /// </summary>
    OpenCv,

    /// <summary>
    /// An ffmpeg child process piping I420 frames, as network cameras with HwAccel are read (the system ffmpeg,
    /// SIMD-optimised; PTS from frame index and nominal rate). Faster than VideoCapture, but every frame crosses a pipe.
    /// </summary>
    Ffmpeg,

    /// <summary>
    /// The system FFmpeg libraries in-process (libavcodec, SIMD-optimised) through native/libstreamdec.so, which
    /// scripts/setup.sh builds: container PTS, no pipe, the least CPU per frame (docs/ingest.md has the figures). The
    /// default; where the library is missing, files fall back to <see cref="Ffmpeg"/> and the start-up log says why.
    /// </summary>
    Libav,
}

/// <summary>How cameras are read (config section <c>Ingest</c>). Cameras themselves are under <c>Cameras</c>.</summary>
public sealed class IngestOptions
{
    public const string Section = "Ingest";

    /// <summary>First reconnect delay after a failure, in seconds.</summary>
    [Range(0.0, 3600.0, MinimumIsExclusive = true)]
    public double BackoffInitialSeconds { get; set; } = 0.5;

    /// <summary>Longest reconnect delay, in seconds.</summary>
    [Range(0.0, 86400.0, MinimumIsExclusive = true)]
    public double BackoffMaxSeconds { get; set; } = 30;

    /// <summary>A camera that streamed this long without failing starts its backoff from the beginning again.</summary>
    [Range(0.0, 86400.0)]
    public double BackoffResetAfterSeconds { get; set; } = 60;

    /// <summary>Random spread of each delay, as a fraction (0.2: each delay is 80%..120% of the nominal one).</summary>
    [Range(0.0, 1.0, MaximumIsExclusive = true)]
    public double BackoffJitter { get; set; } = 0.2;

    /// <summary>A camera that delivered no frame for this long (while connecting or streaming) is restarted.</summary>
    [Range(0.0, 3600.0, MinimumIsExclusive = true)]
    public double WatchdogSeconds { get; set; } = 10;

    /// <summary>The ffmpeg executable of the pipe decoder (network cameras with HwAccel, and everything where libstreamdec.so is missing).</summary>
    [Required(ErrorMessage = "{0} is empty: set it to \"ffmpeg\" or the full path of the ffmpeg executable")]
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>
    /// RTSP lower transport: "auto" (default: TCP, robust through NAT and loss, and UDP when the camera answers
    /// 461 Unsupported transport, as ffmpeg's and VLC's clients do), "tcp" or "udp". The ffmpeg pipe fallback reads
    /// "auto" as "tcp".
    /// </summary>
    [RegularExpression("^(auto|tcp|udp)$", ErrorMessage = "{0} must be \"auto\", \"tcp\" or \"udp\"")]
    public string RtspTransport { get; set; } = "auto";

    /// <summary>
    /// Network cameras: the longest wait for data on an open connection, in seconds, after which the camera reconnects
    /// (libavformat's <c>timeout</c>/<c>rw_timeout</c>, and a read deadline of the in-process decoder).
    /// </summary>
    [Range(0.0, 3600.0, MinimumIsExclusive = true)]
    public double SocketTimeoutSeconds { get; set; } = 5;

    /// <summary>Longest wait for a network camera to connect and deliver its stream description, in seconds (the whole open: connect, DESCRIBE, SETUP, PLAY, stream info).</summary>
    [Range(0.0, 3600.0, MinimumIsExclusive = true)]
    public double OpenTimeoutSeconds { get; set; } = 10;

    /// <summary>Default ffmpeg hardware decoder for network cameras ("cuda", "vaapi", "auto"); empty: software. A camera's own HwAccel wins.</summary>
    public string? HwAccel { get; set; }

    /// <summary>
    /// Decoder for file sources: <see cref="FileDecoder.Libav"/> (default; the system FFmpeg libraries in-process),
    /// <see cref="FileDecoder.Ffmpeg"/> (the system ffmpeg through a pipe) or <see cref="FileDecoder.OpenCv"/>
    /// (VideoCapture). Devices (/dev/video*) always use OpenCV VideoCapture.
    /// </summary>
    public FileDecoder FileDecoder { get; set; } = FileDecoder.Libav;

    /// <summary>The file decoder actually used: <see cref="FileDecoder"/>, except Libav falls back to Ffmpeg where libstreamdec.so is missing.</summary>
    public FileDecoder EffectiveFileDecoder => FileDecoder == FileDecoder.Libav && !LibavDecoder.IsAvailable ? FileDecoder.Ffmpeg : FileDecoder;

    /// <summary>The whole check of the <c>Ingest</c> section (annotations and cross-field rules), for the host and for code that builds options itself.</summary>
    public static SectionValidator<IngestOptions> Validator { get; } = new(Section, new IngestOptionsValidator(), new IngestOptionsRules());

    /// <summary>Decoder threads per camera (ffmpeg <c>-threads</c>, OpenCV CAP_PROP_N_THREADS); 0: the decoder's own choice.</summary>
    [Range(0, 64)]
    public int DecoderThreads { get; set; }
}
