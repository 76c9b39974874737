using Streaming.Core;

namespace Streaming.Cluster;

/// <summary>
/// One camera registry value: a camera in the shape of a config file's <c>Cameras</c> entry (<see cref="CameraJson"/>),
/// its <c>Zones</c>, <c>Lines</c> and <c>Objects</c> included, so that they go wherever the camera goes: the worker that
/// runs it hands the whole entry to ingest, and Track takes them from the camera's frames.
/// </summary>
public sealed record RegistryCamera(CameraOptions Camera)
{
    public string Id => Camera.Id;

    /// <summary>The record's zones and lines.</summary>
    public CameraGeometryOptions Geometry => Camera.Geometry();

    /// <summary>True when the record gives the camera any zone or line.</summary>
    public bool HasGeometry => Geometry.Any;

    /// <summary>
    /// A record of <paramref name="camera"/>; zones and lines written in the older place (<c>Track:Cameras:{id}</c>) are
    /// taken into the record when the camera has none of its own.
    /// </summary>
    public static RegistryCamera Of(CameraOptions camera, CameraGeometryOptions? oldPlace)
    {
        ArgumentNullException.ThrowIfNull(camera);
        if (oldPlace is { Any: true } && !camera.Geometry().Any)
        {
            camera.Zones = oldPlace.Zones;
            camera.Lines = oldPlace.Lines;
        }

        return new RegistryCamera(camera);
    }

    /// <summary>The camera, or the problems (one line each) that make <paramref name="json"/> no camera; checked like the config file.</summary>
    /// <param name="extraCheck">A rule the caller adds on the camera (e.g. the API's allowed sources).</param>
    public static (RegistryCamera? Camera, IReadOnlyList<string> Problems) Parse(ReadOnlySpan<byte> json, Func<CameraOptions, string?>? extraCheck = null)
    {
        using var stream = new MemoryStream(json.ToArray(), writable: false);
        var (camera, problems) = CameraJson.Parse(stream, extraCheck);
        return camera is null ? (null, problems) : (new RegistryCamera(camera), []);
    }

    /// <summary>The registry value: the camera as <see cref="CameraJson"/> writes it.</summary>
    public byte[] Serialize() => CameraJson.Serialize(Camera);

    /// <summary>Two records with the same fingerprint run the same way (camera, zones, lines and objects).</summary>
    public string Fingerprint() => CameraJson.Fingerprint(Camera);
}
