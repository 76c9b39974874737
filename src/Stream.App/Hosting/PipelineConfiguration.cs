using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Streaming.App.Hosting;

/// <summary>
/// Loads the pipeline configuration: the JSON file (comments allowed), then environment variables prefixed
/// <c>STREAM_</c> (<c>STREAM_Sink__Kafka__SaslPassword</c>: secrets stay out of files), then <c>--set Key=Value</c>
/// overrides from the command line. Problems come back as one-line messages that name the thing and the fix.
/// </summary>
internal static class PipelineConfiguration
{
    public const string EnvironmentPrefix = "STREAM_";

        /// <summary>Top-level sections and the options type each binds to (null: free-form, e.g. Logging).</summary>
    public static readonly IReadOnlyDictionary<string, Type?> KnownSections = new Dictionary<string, Type?>(StringComparer.OrdinalIgnoreCase)
    {
        ["Cameras"] = typeof(List<Core.CameraOptions>),
        ["Channels"] = typeof(Core.ChannelOptions),
        ["Ingest"] = typeof(Ingest.IngestOptions),
        ["Detect"] = typeof(Detect.DetectOptions),
        ["Track"] = typeof(Track.TrackOptions),
        ["Sink"] = typeof(Sink.SinkOptions),
        ["Http"] = typeof(HttpOptions),
        ["Host"] = typeof(HostBehaviourOptions),
        ["Status"] = typeof(StatusOptions),
        ["Logging"] = null,
    };

    public static IConfigurationRoot Load(FileInfo? file, IEnumerable<string> overrides, out IReadOnlyList<string> errors)
    {
        var problems = new List<string>();
        var builder = new ConfigurationBuilder();
        if (file is not null)
        {
            if (!file.Exists)
            {
                problems.Add($"config file '{file.FullName}' not found: pass --config with an existing file (config/pipeline.json documents every key)");
            }
            else
            {
                var jsonError = CheckJson(file);
                if (jsonError is not null)
                {
                    problems.Add(jsonError);
                }
                else
                {
                    builder.AddJsonFile(file.FullName, optional: false, reloadOnChange: true);
                }
            }
        }

        builder.AddEnvironmentVariables(EnvironmentPrefix);
        var pairs = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in overrides)
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                problems.Add($"--set '{item}' is not Key=Value: write e.g. --set Detect:MaxBatch=8");
                continue;
            }

            pairs[item[..eq].Trim().Replace("__", ":", StringComparison.Ordinal)] = item[(eq + 1)..];
        }

        builder.AddInMemoryCollection(pairs);
        var root = builder.Build();
        foreach (var section in root.GetChildren())
        {
            if (!KnownSections.TryGetValue(section.Key, out var type))
            {
                problems.Add($"config key '{section.Key}' is unknown: the sections are {string.Join(", ", KnownSections.Keys)}");
            }
            else if (type is not null)
            {
                problems.AddRange(ConfigKeyChecker.UnknownKeys(section, type)
                    .Select(key => $"config key '{key}' is unknown: check its spelling against config/pipeline.json"));
            }
        }

        errors = problems;
        return root;
    }

    /// <summary>Parses the file the way the configuration provider will, to report a syntax error with its line.</summary>
    private static string? CheckJson(FileInfo file)
    {
        try
        {
            using var stream = file.OpenRead();
            using var doc = JsonDocument.Parse(stream, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? null
                : $"config file '{file.Name}' must hold a JSON object at the top: wrap the settings in {{ }}";
        }
        catch (JsonException ex)
        {
            return $"config file '{file.Name}' is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}): fix the syntax there";
        }
    }
}
