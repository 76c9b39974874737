using System.Collections.Concurrent;

namespace Streaming.Track;

/// <summary>
/// Zones and lines of cameras given while the process runs (a cluster worker takes them from the camera registry
/// record of each camera it runs), in place of <see cref="TrackOptions.Cameras"/> for those cameras. Track reads them
/// when it builds a camera run's tracker (its first frame of a new epoch), so a camera started after
/// <see cref="Set"/> runs with them; a run already going keeps the geometry it started with.
/// </summary>
public sealed class CameraGeometryOverrides
{
    private readonly ConcurrentDictionary<string, CameraGeometryOptions> _cameras = new(StringComparer.Ordinal);

    /// <summary>Gives camera <paramref name="cameraId"/> these zones and lines; null: back to <c>Track:Cameras</c> (if any).</summary>
    public void Set(string cameraId, CameraGeometryOptions? geometry)
    {
        ArgumentNullException.ThrowIfNull(cameraId);
        if (geometry is null)
        {
            _cameras.TryRemove(cameraId, out _);
        }
        else
        {
            _cameras[cameraId] = geometry;
        }
    }

    /// <summary>The zones and lines set for <paramref name="cameraId"/>, or null when none were.</summary>
    public CameraGeometryOptions? Get(string cameraId) => _cameras.GetValueOrDefault(cameraId);
}
