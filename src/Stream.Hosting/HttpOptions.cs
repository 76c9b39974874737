using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Hosting;

/// <summary>The HTTP endpoint (section <c>Http</c>): /metrics, /healthz, /readyz and the camera API.</summary>
public sealed class HttpOptions
{
    public const string Section = "Http";

    /// <summary>Listen URL(s), ';'-separated. Localhost by default; set http://0.0.0.0:8080 in a container.</summary>
    [Required(ErrorMessage = "{0} is empty: set a listen URL such as http://127.0.0.1:8080, or Http:Enabled=false")]
    public string Urls { get; set; } = "http://127.0.0.1:8080";

    /// <summary>When set, camera-control calls (add/remove) need "Authorization: Bearer {token}".</summary>
    public string? ControlToken { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Cameras added through the API (<c>POST /api/cameras</c>) may read files only under this directory; empty (the
    /// default): API cameras must be network URLs (rtsp, rtsps, http, https). Cameras in the config file are not limited.
    /// </summary>
    public string? CameraMediaRoot { get; set; }

    public static SectionValidator<HttpOptions> Validator { get; } = new(Section, new HttpOptionsValidator());
}

[OptionsValidator]
internal sealed partial class HttpOptionsValidator : IValidateOptions<HttpOptions>;

[OptionsValidator]
internal sealed partial class HostBehaviourOptionsValidator : IValidateOptions<HostBehaviourOptions>;

[OptionsValidator]
internal sealed partial class StatusOptionsValidator : IValidateOptions<StatusOptions>;

/// <summary>Host behaviour (section <c>Host</c>).</summary>
public sealed class HostBehaviourOptions
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

    public static SectionValidator<HostBehaviourOptions> Validator { get; } = new(Section, new HostBehaviourOptionsValidator());
}

/// <summary>The live status output of <c>stream run</c> (section <c>Status</c>).</summary>
public sealed class StatusOptions
{
    public const string Section = "Status";

    /// <summary>auto: a live table on a terminal, plain log lines otherwise; table; plain; off.</summary>
    [RegularExpression("^(auto|table|plain|off)$", ErrorMessage = "{0} must be auto, table, plain or off")]
    public string Mode { get; set; } = "auto";

    [Range(0.1, 3600)]
    public double IntervalSeconds { get; set; } = 1;

    public static SectionValidator<StatusOptions> Validator { get; } = new(Section, new StatusOptionsValidator());
}
