using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>A camera's visible state and counters at one moment. <see cref="Url"/> and <see cref="LastError"/> are redacted.</summary>
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
    int Height);

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
}
