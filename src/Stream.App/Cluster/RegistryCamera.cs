using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Streaming.App.Hosting;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.App.Cluster;

/// <summary>
/// One camera registry value: a camera in the shape of a config file's <c>Cameras</c> entry (<see cref="CameraJson"/>),
/// plus, optionally, its <c>Zones</c> and <c>Lines</c> in the shape of <c>Track:Cameras:{id}</c> (Track's
/// <see cref="ZoneOptions"/> and <see cref="LineOptions"/>). The worker that runs the camera gives Track those zones and
/// lines (<see cref="CameraGeometryOverrides"/>), so they go wherever the camera goes.
/// </summary>
internal sealed record RegistryCamera(CameraOptions Camera, CameraGeometryOptions? Geometry)
{
    private static readonly string[] GeometryKeys = ["Zones", "Lines"];

    private static readonly JsonSerializerOptions GeometryJson = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public string Id => Camera.Id;

    /// <summary>True when the record gives the camera any zone or line.</summary>
    public bool HasGeometry => Geometry is { } g && (g.Zones.Count > 0 || g.Lines.Count > 0);

    /// <summary>The camera, or the problems (one line each) that make <paramref name="json"/> no camera; checked like the config file.</summary>
    /// <param name="extraCheck">A rule the caller adds on the camera (e.g. the API's allowed sources).</param>
    public static (RegistryCamera? Camera, IReadOnlyList<string> Problems) Parse(ReadOnlySpan<byte> json, Func<CameraOptions, string?>? extraCheck = null)
    {
        JsonObject? root;
        var geometry = new JsonObject();
        try
        {
            root = JsonNode.Parse(json, new JsonNodeOptions { PropertyNameCaseInsensitive = true },
                new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject;

            // Zones and Lines (any case, as config keys) are Track's; the rest is the camera.
            foreach (var property in root?.Select(p => p.Key).Where(k => GeometryKeys.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList() ?? [])
            {
                var value = root![property];
                root.Remove(property);
                geometry[property] = value;
            }
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
        {
            // Not JSON, or a key twice (in any case): the camera parser says what is wrong, as for the config file.
            root = null;
        }

        if (root is null)
        {
            // Not a JSON object: the camera parser says why, in the words it uses for the config file and the API.
            using var raw = new MemoryStream(json.ToArray(), writable: false);
            var (camera, problems) = CameraJson.Parse(raw, extraCheck);
            return camera is null ? (null, problems) : (new RegistryCamera(camera, null), []);
        }

        using var cameraJson = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(root), writable: false);
        var (parsed, cameraProblems) = CameraJson.Parse(cameraJson, extraCheck);
        var all = cameraProblems.ToList();
        CameraGeometryOptions? zonesAndLines = null;
        if (geometry.Count > 0)
        {
            var (g, geometryProblems) = ParseGeometry(geometry, parsed?.Id ?? "camera");
            zonesAndLines = g;
            all.AddRange(geometryProblems);
        }

        return parsed is not null && all.Count == 0 ? (new RegistryCamera(parsed, zonesAndLines), []) : (null, all);
    }

    private static (CameraGeometryOptions? Geometry, IReadOnlyList<string> Problems) ParseGeometry(JsonObject json, string id)
    {
        IConfigurationRoot section;
        try
        {
            using var stream = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(json), writable: false);
            section = new ConfigurationBuilder().AddJsonStream(stream).Build();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidDataException)
        {
            return (null, [$"Zones/Lines are not zones and lines as in Track:Cameras ({ex.Message.Split('\n')[0]})"]);
        }

        var problems = ConfigurationChecks.Problems(section, typeof(CameraGeometryOptions)).ToList();
        var geometry = new CameraGeometryOptions();
        ConfigurationChecks.Bind(section, geometry);
        if (problems.Count == 0)
        {
            problems.AddRange(TrackOptionsRules.GeometryProblems(id, geometry));
        }

        return problems.Count == 0 ? (geometry, []) : (null, problems);
    }

    /// <summary>The registry value: the camera as <see cref="CameraJson"/> writes it, with its zones and lines when it has any.</summary>
    public byte[] Serialize()
    {
        var camera = CameraJson.Serialize(Camera);
        if (!HasGeometry)
        {
            return camera;
        }

        var json = JsonNode.Parse(camera)!.AsObject();
        json["Zones"] = JsonSerializer.SerializeToNode(Geometry!.Zones, GeometryJson);
        json["Lines"] = JsonSerializer.SerializeToNode(Geometry.Lines, GeometryJson);
        return JsonSerializer.SerializeToUtf8Bytes(json);
    }

    /// <summary>Two records with the same fingerprint run the same way (camera, zones and lines).</summary>
    public string Fingerprint() => System.Text.Encoding.UTF8.GetString(Serialize());
}
