using System.ComponentModel.DataAnnotations;

namespace Streaming.Core;

/// <summary>How a file source is read.</summary>
public enum FilePacing
{
    /// <summary>At the file's own frame rate, like a live camera (frames may be dropped when the pipeline lags).</summary>
    Native,

    /// <summary>As fast as decoding allows, waiting when downstream is full (benchmarks; nothing is dropped).</summary>
    Full,
}

/// <summary>Which frames the decoder may skip without decoding them (libavcodec <c>skip_frame</c>).</summary>
public enum SkipFrames
{
    /// <summary>Decode every frame (default).</summary>
    None,

    /// <summary>
    /// Skip frames no other frame refers to (non-reference B-frames; AVDISCARD_NONREF): less decode CPU on streams that
    /// have them, no artefacts; the frame rate drops by their share. No effect on streams without B-frames.
    /// </summary>
    NonRef,

    /// <summary>
    /// Decode keyframes only (AVDISCARD_NONKEY): the camera delivers one frame per GOP (typically 0.5-2 frames/s) at a
    /// fraction of the CPU. Sensible only when MaxFps is at or below the keyframe rate (a warning says otherwise).
    /// </summary>
    NonKey,
}

/// <summary>One camera as configured under <c>Cameras</c>.</summary>
public sealed class CameraOptions
{
    /// <summary>The longest camera URL accepted (config file and API alike).</summary>
    public const int MaxUrlLength = 4096;

    /// <summary>Unique id: used as Kafka key, Redis key part and metric tag. Letters, digits, '-', '_' and '.'.</summary>
    [Required(ErrorMessage = "{0} is empty: give the camera an Id of 1-64 letters, digits, '.', '_' or '-'")]
    [RegularExpression(@"^[A-Za-z0-9._\-]{1,64}$", ErrorMessage = "camera id must be 1-64 letters, digits, '.', '_' or '-'")]
    public string Id { get; set; } = string.Empty;

    /// <summary>rtsp://, rtsps://, http(s):// URL, a file path, or a /dev/video* device.</summary>
    [Required(ErrorMessage = "{0} is empty: set a camera URL (rtsp://host/path), a file path or /dev/videoN")]
    [StringLength(MaxUrlLength, ErrorMessage = "{0} is longer than {1} characters: shorten it (no camera URL needs more)")]
    public string Url { get; set; } = string.Empty;

    /// <summary>Upper bound on frames per second delivered downstream (0: no cap).</summary>
    [Range(0.0, 1000.0)]
    public double MaxFps { get; set; }

    /// <summary>Output width in pixels (0: the source's own). Height follows the aspect unless set too.</summary>
    [Range(0, 8192)]
    public int Width { get; set; }

    [Range(0, 8192)]
    public int Height { get; set; }

    /// <summary>Files only: start again at the end.</summary>
    public bool Loop { get; set; }

    /// <summary>Files only: native (live-like) or full speed.</summary>
    public FilePacing Pacing { get; set; } = FilePacing.Native;

    /// <summary>Network sources only: ffmpeg hardware decode (e.g. "cuda", "vaapi", "auto"); empty for software.</summary>
    public string? HwAccel { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>Frames the decoder skips: <c>none</c> (default), <c>nonref</c> or <c>nonkey</c> (see docs/ingest.md).</summary>
    public SkipFrames SkipFrames { get; set; }
    /// <summary>This camera's detection gate (none | motion); unset: the global <c>Detect:Gate</c>.</summary>
    public GateMode? Gate { get; set; }

    /// <summary>Regions ignored by the motion detector, each "x1,y1,x2,y2,x3,y3,..." (fractions 0-1, or pixels); see <see cref="MotionMask"/>.</summary>
    public List<string> MotionMasks { get; set; } = [];

    /// <summary>The camera's zones (polygons in frame pixels): zone_entered / zone_exited events.</summary>
    public List<ZoneOptions> Zones { get; set; } = [];

    /// <summary>The camera's directed lines: line_crossed events.</summary>
    public List<LineOptions> Lines { get; set; } = [];

    /// <summary>What the camera tracks and alerts on: classes by label name, and per class score and size limits.</summary>
    public ObjectsOptions Objects { get; set; } = new();

    /// <summary>
    /// A copy whose lists are the copy's own (their entries are shared: settings are not changed in place once read).
    /// Every property is copied; a test checks none is forgotten.
    /// </summary>
    public CameraOptions Clone() => new()
    {
        Id = Id,
        Url = Url,
        MaxFps = MaxFps,
        Width = Width,
        Height = Height,
        Loop = Loop,
        Pacing = Pacing,
        HwAccel = HwAccel,
        Enabled = Enabled,
        SkipFrames = SkipFrames,
        Gate = Gate,
        MotionMasks = [.. MotionMasks],
        Zones = [.. Zones],
        Lines = [.. Lines],
        Objects = new ObjectsOptions
        {
            Track = [.. Objects.Track],
            Filters = new Dictionary<string, ObjectFilterOptions>(Objects.Filters, StringComparer.OrdinalIgnoreCase),
        },
    };

    /// <summary>The zones and lines as one object (the same lists, not a copy).</summary>
    public CameraGeometryOptions Geometry() => new() { Zones = Zones, Lines = Lines };
}
