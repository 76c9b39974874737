namespace Streaming.Ingest;

/// <summary>How cameras are read (config section <c>Ingest</c>). Cameras themselves are under <c>Cameras</c>.</summary>
public sealed class IngestOptions
{
    public const string Section = "Ingest";

    /// <summary>First reconnect delay after a failure, in seconds.</summary>
    public double BackoffInitialSeconds { get; set; } = 0.5;

    /// <summary>Longest reconnect delay, in seconds.</summary>
    public double BackoffMaxSeconds { get; set; } = 30;

    /// <summary>A camera that streamed this long without failing starts its backoff from the beginning again.</summary>
    public double BackoffResetAfterSeconds { get; set; } = 60;

    /// <summary>Random spread of each delay, as a fraction (0.2: each delay is 80%..120% of the nominal one).</summary>
    public double BackoffJitter { get; set; } = 0.2;

    /// <summary>A camera that delivered no frame for this long (while connecting or streaming) is restarted.</summary>
    public double WatchdogSeconds { get; set; } = 10;

    /// <summary>The ffmpeg executable that decodes network cameras (a name on PATH or a full path).</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>RTSP lower transport: "tcp" (default, robust through NAT and loss) or "udp".</summary>
    public string RtspTransport { get; set; } = "tcp";

    /// <summary>Socket I/O timeout for network cameras, in seconds (ffmpeg <c>-timeout</c>).</summary>
    public double SocketTimeoutSeconds { get; set; } = 5;

    /// <summary>Longest wait for a network camera to deliver its stream description and first frame, in seconds.</summary>
    public double OpenTimeoutSeconds { get; set; } = 10;

    /// <summary>Default ffmpeg hardware decoder for network cameras ("cuda", "vaapi", "auto"); empty: software. A camera's own HwAccel wins.</summary>
    public string? HwAccel { get; set; }

    /// <summary>Decoder threads per network camera (ffmpeg <c>-threads</c>); 0: ffmpeg's choice.</summary>
    public int DecoderThreads { get; set; }
}
