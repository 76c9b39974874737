using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// A camera's visible state and counters at one moment. <see cref="Url"/> and <see cref="LastError"/> are redacted.
/// A disabled camera (<see cref="Enabled"/> false) keeps its configuration and its last counters, and is
/// <see cref="CameraState.Stopped"/>. <see cref="Clips"/>: the camera keeps a clip buffer (Clips on and an in-process
/// decoder; false for ffmpeg-pipe (HwAccel) and VideoCapture sources).
/// </summary>
public sealed record CameraStatus(
    string Id,
    string Url,
    SourceKind Kind,
    CameraState State,
    DateTimeOffset Since,
    long FramesDecoded,
    long FramesDropped,
    long Reconnects,
    string? LastError,
    double Fps,
    int Width,
    int Height,
    bool Enabled = true,
    long? Epoch = null,
    bool Clips = false);

/// <summary>The cameras ingest runs: their status, and adding/removing them while the pipeline runs.</summary>
public interface ICameraRegistry
{
    /// <summary>Every camera's status now, in the order they were added.</summary>
    IReadOnlyList<CameraStatus> Snapshot();

    /// <summary>One camera's status, or null when there is no camera with that id.</summary>
    CameraStatus? Get(string id);

    /// <summary>
    /// Starts a camera. Throws <see cref="ArgumentException"/> with one line per problem when its configuration is
    /// invalid or its id is taken, and <see cref="InvalidOperationException"/> when ingest is shutting down.
    /// </summary>
    Task AddAsync(CameraOptions camera, CancellationToken cancellationToken = default);

    /// <summary>Stops a camera, completes its feed (queued frames are still delivered) and forgets it. False when unknown.</summary>
    Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Disables a camera (stops it and completes its feed, as <see cref="RemoveAsync"/>, but keeps it listed with its
    /// configuration) or enables it again (starts it as it was added). False when unknown; doing what is already so is
    /// no error. Enabling throws <see cref="InvalidOperationException"/> when ingest is shutting down or the camera's
    /// previous frames are still draining (retry shortly).
    /// </summary>
    Task<bool> SetEnabledAsync(string id, bool enabled, CancellationToken cancellationToken = default);
}
