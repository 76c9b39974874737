using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Streaming.Hosting;

/// <summary>
/// Loads the pipeline configuration: the JSON file (comments allowed), then environment variables prefixed
/// <c>STREAM_</c> (<c>STREAM_Sink__Kafka__SaslPassword</c>: secrets stay out of files), then <c>--set Key=Value</c>
/// overrides from the command line. Problems come back as one-line messages that name the thing and the fix.
/// </summary>
public static class PipelineConfiguration
{
    public const string EnvironmentPrefix = "STREAM_";

    /// <summary>
    /// The top-level sections. Each options section is bound and validated by the stage that owns it (unknown keys
    /// inside it included, see <see cref="Core.ConfigurationChecks"/>); <c>Logging</c> is free-form.
    /// </summary>
    public static readonly IReadOnlyList<string> KnownSections =
        ["Cameras", "Channels", "Ingest", "Detect", "Track", "Sink", "Clips", "Http", "Host", "Status", "Cluster", "Logging"];

    /// <summary>Top-level keys that are no section, one line each (listed with the sections' own problems).</summary>
    public static IReadOnlyList<string> UnknownSections(IConfiguration root) =>
        [.. root.GetChildren()
            .Where(section => !KnownSections.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
            .Select(section => $"config key '{section.Key}' is unknown: the sections are {string.Join(", ", KnownSections)}")];

    /// <summary>
    /// Reads the file, the environment and the overrides. <paramref name="errors"/> holds what stops reading at all (a
    /// missing file, a JSON syntax error with its line, a malformed --set); the keys and values are checked when the
    /// host validates its options, all sections at once.
    /// </summary>
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
