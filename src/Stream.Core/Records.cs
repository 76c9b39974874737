namespace Streaming.Core;

/// <summary>One detected object in one frame.</summary>
public readonly record struct Detection(BoxF Box, float Score, int ClassId);

/// <summary>Detect's output contract: a frame and what was found in it. Owns the frame.</summary>
/// <param name="inferred">False for a frame the motion gate let pass without running the model: it has no detections,
/// and Track coasts its tracks on their prediction instead of counting them as missed.</param>
public sealed class DetectedFrame(Frame frame, Detection[] detections, bool inferred = true) : IDisposable
{
    public Frame Frame { get; } = frame;

    public IReadOnlyList<Detection> Detections { get; } = detections;

    /// <summary>True when the model ran on this frame; false when the motion gate skipped it (no detections, not a miss).</summary>
    public bool Inferred { get; } = inferred;

    public void Dispose() => Frame.Dispose();
}

public enum TrackState
{
    Tentative,
    Confirmed,
    Lost,
    Removed,
}

/// <summary>A track as it stands after this frame.</summary>
public readonly record struct TrackedObject(long TrackId, int ClassId, float Score, BoxF Box, TrackState State);

/// <summary>Track's output contract: the frame, its tracks and the events this frame caused. Owns the frame.</summary>
public sealed class TrackedFrame(Frame frame, IReadOnlyList<TrackedObject> tracks, IReadOnlyList<PipelineEvent> events, bool keepFrame) : IDisposable
{
    public Frame Frame { get; } = frame;

    public IReadOnlyList<TrackedObject> Tracks { get; } = tracks;

    public IReadOnlyList<PipelineEvent> Events { get; } = events;

    /// <summary>True when an event may later refer to this frame (e.g. it is a track's best picture so far): the sink stores it.</summary>
    public bool KeepFrame { get; } = keepFrame;

    public void Dispose() => Frame.Dispose();
}

public enum CameraState
{
    Connecting,
    Streaming,
    Backoff,
    Stopped,
    Failed,
}

/// <summary>Ingest tells the sink when a camera's state changes (a separate one-way feed, not through Detect and Track).</summary>
public sealed record CameraStatusChange(string CameraId, CameraState State, DateTimeOffset Time, string? Error)
{
    /// <summary>The camera_status event's id, assigned once when the change happens: Kafka and the web feed show the same event.</summary>
    public Guid Id { get; init; } = Guid.CreateVersion7();

    /// <summary>The camera run the change belongs to (its start time, Unix ms; the <c>Epoch</c> of its frames); null before the camera first ran.</summary>
    public long? Epoch { get; init; }
}

public enum EventKind
{
    TrackStarted,
    TrackEnded,
    TrackUpdated,
    ZoneEntered,
    ZoneExited,
    LineCrossed,
    CameraStatus,
    Counts,

    /// <summary>The sink finished a track's clip after its track_ended had gone out (docs/events.md, "Clips").</summary>
    ClipReady,
}

/// <summary>
/// An event produced by the pipeline. Fields that do not apply to a kind are null. <see cref="Id"/> is assigned once,
/// when the event is created, so it stays the same across producer retries and spool replays.
/// </summary>
public sealed record PipelineEvent
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public required EventKind Kind { get; init; }

    public required string CameraId { get; init; }

    public required DateTimeOffset Time { get; init; }

    /// <summary>The frame the event's picture comes from (sink stores it under frame:{camera}:{epoch}:{seq}, frame:{camera}:{seq} without an epoch).</summary>
    public long? FrameSequence { get; init; }

    public long? TrackId { get; init; }

    /// <summary>The camera run (start time, Unix ms) the event's frame and track belong to; null when not known.</summary>
    public long? Epoch { get; init; }

    public int? ClassId { get; init; }

    public string? Label { get; init; }

    public float? Score { get; init; }

    public BoxF? Box { get; init; }

    public DateTimeOffset? FirstSeen { get; init; }

    public DateTimeOffset? LastSeen { get; init; }

    public string? Zone { get; init; }

    public string? Line { get; init; }

    /// <summary>For line crossings: "in" or "out" relative to the line's direction.</summary>
    public string? Direction { get; init; }

    public double? DwellSeconds { get; init; }

    public CameraState? CameraState { get; init; }

    public string? Reason { get; init; }

    public IReadOnlyDictionary<string, int>? Counts { get; init; }
}

/// <summary>The worker this process is in a cluster of workers (registered only then): events and the camera API name it.</summary>
public sealed record WorkerIdentity(string Id);

/// <summary>
/// Why a camera was stopped, when another part of the process knows better than Track (e.g. "moved": the cluster gave it
/// to another worker). Track ends the camera's open tracks with this reason instead of "idle" or "restarted".
/// </summary>
public sealed class CameraStopReasons
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _reasons = new(StringComparer.Ordinal);

    public void Set(string cameraId, string reason) => _reasons[cameraId] = reason;

    /// <summary>The reason noted for <paramref name="cameraId"/>, once; null when none was.</summary>
    public string? Take(string cameraId) => _reasons.TryRemove(cameraId, out var reason) ? reason : null;
}

/// <summary>How a track id is shown to a person.</summary>
public static class TrackIds
{
    /// <summary>
    /// The short form of a track id: its number within the camera run (Track numbers a run's tracks from its epoch x 1000
    /// + 1), e.g. 3 for 1796492560122003; the id itself when it is not of that form. Events and the API keep the full id,
    /// which is unique across runs; the overlay and the page show this one, with the full id on hover.
    /// </summary>
    public static long Short(long trackId, long? epoch) =>
        epoch is > 0 and < long.MaxValue / 1000 && trackId > epoch.Value * 1000 ? trackId - (epoch.Value * 1000) : trackId;
}
