using System.ComponentModel.DataAnnotations;

namespace Streaming.App.Hosting;

/// <summary>The HTTP endpoint (section <c>Http</c>): /metrics, /healthz, /readyz and the camera API.</summary>
internal sealed class HttpOptions
{
    public const string Section = "Http";

    /// <summary>Listen URL(s), ';'-separated. Localhost by default; set http://0.0.0.0:8080 in a container.</summary>
    [Required]
    public string Urls { get; set; } = "http://127.0.0.1:8080";

    /// <summary>When set, camera-control calls (add/remove) need "Authorization: Bearer {token}".</summary>
    public string? ControlToken { get; set; }

    public bool Enabled { get; set; } = true;
}

/// <summary>Host behaviour (section <c>Host</c>).</summary>
internal sealed class HostBehaviourOptions
{
    public const string Section = "Host";

    /// <summary>How long shutdown may take to drain the channels and flush Kafka before stages are cancelled.</summary>
    [Range(1, 3600)]
    public int ShutdownTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Every this many seconds, give native heap pages that are free back to the OS (glibc <c>malloc_trim</c>); 0: never.
    /// OpenCV, libjpeg, ONNX Runtime and librdkafka free memory from many threads, and glibc keeps those pages.
    /// </summary>
    [Range(0, 86400)]
    public int NativeMemoryTrimSeconds { get; set; } = 60;
}

/// <summary>The live status output of <c>stream run</c> (section <c>Status</c>).</summary>
internal sealed class StatusOptions
{
    public const string Section = "Status";

    /// <summary>auto: a live table on a terminal, plain log lines otherwise; table; plain; off.</summary>
    public string Mode { get; set; } = "auto";

    [Range(0.1, 3600)]
    public double IntervalSeconds { get; set; } = 1;
}
