using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Cluster;

/// <summary>
/// One camera as JSON in the shape of a config file's <c>Cameras</c> entry, read through the same binding and checks
/// as the config file (any case, enums by name, unknown keys and values that do not convert rejected, then the camera's
/// own rules). The camera API and the cluster's camera registry both read and write it.
/// </summary>
public static class CameraJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The camera, or the problems (one line each) that make <paramref name="json"/> no camera.</summary>
    /// <param name="extraCheck">A rule the caller adds (e.g. the API's allowed sources), run once the keys and values bind.</param>
    public static (CameraOptions? Camera, IReadOnlyList<string> Problems) Parse(Stream json, Func<CameraOptions, string?>? extraCheck = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonStream(json).Build();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidDataException)
        {
            return (null, [$"not a camera as in config ({ex.Message.Split('\n')[0]})"]);
        }

        var problems = ConfigurationChecks.Problems(root, typeof(CameraOptions)).ToList();
        var camera = new CameraOptions();
        ConfigurationChecks.Bind(root, camera);
        if (problems.Count == 0 && extraCheck?.Invoke(camera) is { } notAllowed)
        {
            problems.Add(notAllowed);
        }

        if (problems.Count == 0)
        {
            problems.AddRange(CameraChecks.Problems(camera));
        }

        return problems.Count == 0 ? (camera, []) : (null, problems);
    }

    public static (CameraOptions? Camera, IReadOnlyList<string> Problems) Parse(ReadOnlySpan<byte> json)
    {
        using var stream = new MemoryStream(json.ToArray(), writable: false);
        return Parse(stream);
    }

    public static byte[] Serialize(CameraOptions camera) => JsonSerializer.SerializeToUtf8Bytes(camera, Options);

    /// <summary>Two cameras with the same fingerprint run the same way.</summary>
    public static string Fingerprint(CameraOptions camera) => JsonSerializer.Serialize(camera, Options);
}
