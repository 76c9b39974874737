using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Streaming.Core;

/// <summary>
/// Event clips (section <c>Clips</c>): each camera keeps its last <see cref="BufferSeconds"/> of compressed video in
/// memory (Ingest), and the sink cuts a clip around every track that ends into <see cref="Directory"/>, by stream copy
/// (no decoding, no encoding). docs/events.md, "Clips".
/// </summary>
public sealed class ClipOptions
{
    public const string Section = "Clips";

    /// <summary>
    /// On by default: an operator wants to see what happened, and the cost is small (memory: BufferSeconds x the camera's
    /// bitrate, about 15 MB for a 4 Mbit/s camera at 30 s; CPU: a reference per packet, and a remux per track_ended).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Compressed video each camera keeps (whole GOPs: it holds up to one keyframe interval less).</summary>
    [Range(2, 600)]
    public double BufferSeconds { get; set; } = 30;

    /// <summary>Seconds before the track's first_seen the clip starts (from the keyframe at or before that).</summary>
    [Range(0, 60)]
    public double PreSeconds { get; set; } = 2;

    /// <summary>
    /// Seconds after the track's last_seen the clip ends. Default 1.5, as Track:LostBufferSeconds: a lost track ends that
    /// long after it was last seen, so the packets are already buffered when track_ended comes.
    /// </summary>
    [Range(0, 60)]
    public double PostSeconds { get; set; } = 1.5;

    /// <summary>Longest clip: a longer track gets its last MaxSeconds. At most BufferSeconds.</summary>
    [Range(1, 600)]
    public double MaxSeconds { get; set; } = 30;

    /// <summary>Where clips are written: {Directory}/{camera}/{epoch}-{track_id}.mp4.</summary>
    [Required(ErrorMessage = "{0} is empty: set the directory clips are written to (e.g. \"data/clips\")")]
    public string Directory { get; set; } = "data/clips";

    /// <summary>Clips kept in all, in bytes; the oldest go first.</summary>
    [Range(1L << 20, long.MaxValue)]
    public long MaxBytes { get; set; } = 2L << 30;

    /// <summary>Clips older than this are deleted.</summary>
    [Range(0.01, 24 * 365)]
    public double MaxAgeHours { get; set; } = 72;

    /// <summary>
    /// How long the sink holds a track_ended event for its clip (ms). A clip finished later goes out as a clip_ready event.
    /// </summary>
    [Range(0, 5000)]
    public int WaitMs { get; set; } = 300;

    /// <summary>The whole check of the <c>Clips</c> section.</summary>
    public static SectionValidator<ClipOptions> Validator { get; } = new(Section, new ClipOptionsValidator(), new ClipOptionsRules());
}

/// <summary>DataAnnotations of <see cref="ClipOptions"/>, written by the options source generator.</summary>
[OptionsValidator]
public sealed partial class ClipOptionsValidator : IValidateOptions<ClipOptions>;

/// <summary>Cross-field rules of <see cref="ClipOptions"/>.</summary>
public sealed class ClipOptionsRules : IValidateOptions<ClipOptions>
{
    public ValidateOptionsResult Validate(string? name, ClipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.MaxSeconds > options.BufferSeconds
            ? ValidateOptionsResult.Fail($"Clips:MaxSeconds ({options.MaxSeconds}) is longer than Clips:BufferSeconds ({options.BufferSeconds}): a clip can only hold what is buffered; lower MaxSeconds or raise BufferSeconds")
            : ValidateOptionsResult.Success;
    }
}

/// <summary>A clip written: the media times of its first and last picture, its packets and bytes.</summary>
public sealed record ClipResult(DateTimeOffset First, DateTimeOffset Last, int Packets, long Bytes)
{
    public TimeSpan Duration => Last - First;
}

/// <summary>Why a clip could not be cut; <see cref="Reason"/> is the metric tag.</summary>
public sealed class ClipException : Exception
{
    public ClipException()
    {
    }

    public ClipException(string message)
        : base(message)
    {
    }

    public ClipException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ClipException(string reason, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>window (not in the buffer), io (the file), error (the remux).</summary>
    public string Reason { get; } = "error";
}

/// <summary>
/// The cameras' clip buffers (Ingest implements it): cuts a window of a running camera's compressed video into an MP4.
/// </summary>
public interface ICameraClips
{
    /// <summary>
    /// The media time of the newest packet buffered for run <paramref name="epoch"/> of the camera; null when that run is
    /// not running here or has no clip buffer; <see cref="DateTimeOffset.MaxValue"/> when its connection has ended and
    /// its packets are kept for the last tracks' clips (nothing more will come: cut now).
    /// </summary>
    DateTimeOffset? BufferedUntil(string cameraId, long epoch);

    /// <summary>
    /// Writes the window [from, to] (the frames' <c>MediaTime</c>s) of run <paramref name="epoch"/> to
    /// <paramref name="path"/>: from the keyframe at or before <paramref name="from"/> (the buffer's first when it is
    /// older) to the last packet at or before <paramref name="to"/>. Null when the camera's run is not running here (nor
    /// ended a moment ago) or has no clip buffer (clips off, an ffmpeg-pipe or VideoCapture source); throws <see cref="ClipException"/> when
    /// the cut fails. Blocks for the remux (milliseconds); call it off latency-sensitive loops.
    /// </summary>
    ValueTask<ClipResult?> CutAsync(string cameraId, long epoch, DateTimeOffset from, DateTimeOffset to, string path, CancellationToken cancellationToken);
}
