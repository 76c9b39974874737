using System.Text.Json;
using System.Text.Json.Serialization;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// The JSON document published to Kafka for every event (schema version <see cref="CurrentSchemaVersion"/>,
/// documented in docs/events.md and docs/events.schema.json). Fields that do not apply to a kind are omitted.
/// </summary>
public sealed class EventMessage
{
    public const int CurrentSchemaVersion = 1;

    [JsonPropertyName("schema_version")]
    public int SchemaVersion { get; set; } = CurrentSchemaVersion;

    [JsonPropertyName("id")]
    public Guid Id { get; set; }

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = string.Empty;

    [JsonPropertyName("camera_id")]
    public string CameraId { get; set; } = string.Empty;

    [JsonPropertyName("time")]
    public DateTimeOffset Time { get; set; }

    [JsonPropertyName("frame_seq")]
    public long? FrameSequence { get; set; }

    [JsonPropertyName("frame_key")]
    public string? FrameKey { get; set; }

    [JsonPropertyName("track_id")]
    public long? TrackId { get; set; }

    [JsonPropertyName("class_id")]
    public int? ClassId { get; set; }

    [JsonPropertyName("label")]
    public string? Label { get; set; }

    [JsonPropertyName("score")]
    public float? Score { get; set; }

    [JsonPropertyName("box")]
    public EventBox? Box { get; set; }

    [JsonPropertyName("first_seen")]
    public DateTimeOffset? FirstSeen { get; set; }

    [JsonPropertyName("last_seen")]
    public DateTimeOffset? LastSeen { get; set; }

    [JsonPropertyName("zone")]
    public string? Zone { get; set; }

    [JsonPropertyName("line")]
    public string? Line { get; set; }

    [JsonPropertyName("direction")]
    public string? Direction { get; set; }

    [JsonPropertyName("dwell_seconds")]
    public double? DwellSeconds { get; set; }

    /// <summary>camera_status only: online, offline or reconnecting.</summary>
    [JsonPropertyName("status")]
    public string? Status { get; set; }

    /// <summary>camera_status only: the ingest state behind <see cref="Status"/> (connecting, streaming, backoff, stopped, failed).</summary>
    [JsonPropertyName("state")]
    public string? State { get; set; }

    [JsonPropertyName("reason")]
    public string? Reason { get; set; }

    /// <summary>The worker that ran the camera (cluster mode only; docs/cluster.md).</summary>
    [JsonPropertyName("worker")]
    public string? Worker { get; set; }

    /// <summary>The camera run (start time, Unix ms) the event belongs to: frame keys and track ids are unique across runs.</summary>
    [JsonPropertyName("epoch")]
    public long? Epoch { get; set; }

    [JsonPropertyName("counts")]
    public IReadOnlyDictionary<string, int>? Counts { get; set; }

    /// <summary>track_ended, clip_ready: the track's clip, relative to Clips:Directory ({camera}/{epoch}-{track_id}.mp4).</summary>
    [JsonPropertyName("clip_key")]
    public string? ClipKey { get; set; }

    /// <summary>track_ended, clip_ready: the clip's length in seconds (first to last picture).</summary>
    [JsonPropertyName("clip_seconds")]
    public double? ClipSeconds { get; set; }

    public static string KindName(EventKind kind) => kind switch
    {
        EventKind.TrackStarted => "track_started",
        EventKind.TrackEnded => "track_ended",
        EventKind.TrackUpdated => "track_updated",
        EventKind.ZoneEntered => "zone_entered",
        EventKind.ZoneExited => "zone_exited",
        EventKind.LineCrossed => "line_crossed",
        EventKind.CameraStatus => "camera_status",
        EventKind.Counts => "counts",
        EventKind.ClipReady => "clip_ready",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown event kind"),
    };

    /// <summary>online / offline / reconnecting, as consumers see a camera.</summary>
    public static string StatusName(CameraState state) => state switch
    {
        CameraState.Streaming => "online",
        CameraState.Connecting or CameraState.Backoff => "reconnecting",
        CameraState.Stopped or CameraState.Failed => "offline",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "unknown camera state"),
    };

    public static string StateName(CameraState state) => state switch
    {
        CameraState.Connecting => "connecting",
        CameraState.Streaming => "streaming",
        CameraState.Backoff => "backoff",
        CameraState.Stopped => "stopped",
        CameraState.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "unknown camera state"),
    };

    /// <summary>The Redis key of a frame: <c>{prefix}:{camera}:{epoch}:{seq}</c>, or <c>{prefix}:{camera}:{seq}</c> for a frame without an epoch.</summary>
    public static string FrameKeyFor(string prefix, string cameraId, long sequence, long? epoch = null) =>
        epoch is > 0
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prefix}:{cameraId}:{epoch}:{sequence}")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prefix}:{cameraId}:{sequence}");

    /// <summary>Maps a pipeline event; <paramref name="framePrefix"/> names the Redis key of its frame when it has one.</summary>
    public static EventMessage From(PipelineEvent e, string framePrefix, string? worker = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new EventMessage
        {
            Id = e.Id,
            Kind = KindName(e.Kind),
            CameraId = e.CameraId,
            Time = e.Time,
            FrameSequence = e.FrameSequence,
            FrameKey = e.FrameSequence is { } seq ? FrameKeyFor(framePrefix, e.CameraId, seq, e.Epoch) : null,
            TrackId = e.TrackId,
            ClassId = e.ClassId,
            Label = e.Label, // the model's name of the class, set by Track
            Score = e.Score,
            Box = e.Box is { } b ? new EventBox { X1 = b.X1, Y1 = b.Y1, X2 = b.X2, Y2 = b.Y2 } : null,
            FirstSeen = e.FirstSeen,
            LastSeen = e.LastSeen,
            Zone = e.Zone,
            Line = e.Line,
            Direction = e.Direction,
            DwellSeconds = e.DwellSeconds,
            Status = e.CameraState is { } s ? StatusName(s) : null,
            State = e.CameraState is { } s2 ? StateName(s2) : null,
            Reason = RedactedReason(e.Reason),
            Counts = e.Counts,
            Worker = worker,
            Epoch = e.Epoch,
        };
    }

    /// <summary>A camera status change as an event (its id was assigned once, with the change, and travels with it through retries).</summary>
    public static EventMessage From(CameraStatusChange change, string? worker = null)
    {
        ArgumentNullException.ThrowIfNull(change);
        return new EventMessage
        {
            Id = change.Id,
            Kind = KindName(EventKind.CameraStatus),
            CameraId = change.CameraId,
            Time = change.Time,
            Status = StatusName(change.State),
            State = StateName(change.State),
            Reason = RedactedReason(change.Error),
            Worker = worker,
            Epoch = change.Epoch,
        };
    }

    /// <summary>Longest reason kept (before the byte bound of <see cref="ToUtf8(int, out int)"/>): error texts carry URLs, which can be huge.</summary>
    public const int MaxReasonChars = 8192;

    /// <summary>
    /// Credentials masked; a text over <see cref="MaxReasonChars"/> is cut first (masking costs grow with the length), and a
    /// cut inside a URL's authority goes back to its "://", so that it never leaves a half user:password that masking would
    /// no longer recognise.
    /// </summary>
    private static string? RedactedReason(string? text)
    {
        if (text is null || text.Length <= MaxReasonChars)
        {
            return text is null ? null : UrlRedactor.Redact(text);
        }

        var keep = text.AsSpan(0, MaxReasonChars);
        var scheme = keep.LastIndexOf("://");
        if (scheme >= 0 && keep[(scheme + 3)..].IndexOfAny('/', '@') < 0)
        {
            // Cut inside the authority: it may be a user:password whose '@' was cut off.
            keep = keep[..(scheme + 3)];
        }

        return UrlRedactor.Redact(string.Concat(keep, $"...[truncated {text.Length - keep.Length} chars]"));
    }

    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, EventJsonContext.Default.EventMessage);

    /// <summary>
    /// Serialises the event in at most <paramref name="maxBytes"/> bytes where it can: when it is larger, its free-text
    /// fields (reason, zone, line, label, direction, frame_key), longest first, are cut and end in
    /// <c>...[truncated N chars]</c>. The id, kind, camera id (the Kafka key), times, numbers and counts are never cut.
    /// <paramref name="originalBytes"/> is the size before truncation (equal to the result's length when nothing was cut).
    /// </summary>
    public byte[] ToUtf8(int maxBytes, out int originalBytes)
    {
        var bytes = ToUtf8();
        originalBytes = bytes.Length;
        for (var round = 0; bytes.Length > maxBytes && round < 8; round++)
        {
            var longest = TruncatableFields().MaxBy(f => f.Get()?.Length ?? 0);
            var text = longest.Get();
            if (text is null || text.Length <= 64)
            {
                break;
            }

            // Each removed char removes at least one byte; the marker is at most 40.
            var keep = Math.Max(32, text.Length - (bytes.Length - maxBytes) - 40);
            if (char.IsHighSurrogate(text[keep - 1]))
            {
                keep--;
            }

            var cut = text.Length - keep;
            longest.Set(string.Concat(text.AsSpan(0, keep), $"...[truncated {cut} chars]"));
            bytes = ToUtf8();
        }

        return bytes;
    }

    private (Func<string?> Get, Action<string?> Set)[] TruncatableFields() =>
    [
        (() => Reason, v => Reason = v),
        (() => Zone, v => Zone = v),
        (() => Line, v => Line = v),
        (() => Label, v => Label = v),
        (() => Direction, v => Direction = v),
        (() => FrameKey, v => FrameKey = v),
    ];

    public static EventMessage? Parse(ReadOnlySpan<byte> utf8) => JsonSerializer.Deserialize(utf8, EventJsonContext.Default.EventMessage);
}

/// <summary>Box in pixels of the frame: (x1, y1) top-left, (x2, y2) bottom-right.</summary>
public sealed class EventBox
{
    [JsonPropertyName("x1")]
    public float X1 { get; set; }

    [JsonPropertyName("y1")]
    public float Y1 { get; set; }

    [JsonPropertyName("x2")]
    public float X2 { get; set; }

    [JsonPropertyName("y2")]
    public float Y2 { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(EventMessage))]
internal sealed partial class EventJsonContext : JsonSerializerContext;
