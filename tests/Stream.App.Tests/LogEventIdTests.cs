using System.Text.RegularExpressions;
using Streaming.Testing;

namespace Streaming.App.Tests;

/// <summary>
/// Every [LoggerMessage] event id names one message in the whole product, inside its project's range
/// (App, Hosting and Cluster 1xxx, Ingest 2xxx, Detect 3xxx, Track 4xxx, Sink 5xxx), so that an operator can filter logs by id.
/// LoggerMessageAttribute is not kept in the compiled assemblies, so the sources are read.
/// </summary>
public sealed partial class LogEventIdTests
{
    private static readonly Dictionary<string, int> Ranges = new(StringComparer.Ordinal)
    {
        ["Stream.App"] = 1000, ["Stream.Hosting"] = 1000, ["Stream.Cluster"] = 1000, ["Stream.Ingest"] = 2000, ["Stream.Detect"] = 3000, ["Stream.Track"] = 4000, ["Stream.Sink"] = 5000,
    };

    [Fact]
    public void Every_log_event_id_is_used_once_and_lies_in_its_projects_range()
    {
        var seen = new Dictionary<int, string>();
        var problems = new List<string>();
        var src = Path.Combine(RepoPaths.Root, "src");
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                                 && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            var project = Path.GetRelativePath(src, file).Split(Path.DirectorySeparatorChar)[0];
            foreach (Match m in EventId().Matches(File.ReadAllText(file)))
            {
                var id = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var where = Path.GetRelativePath(RepoPaths.Root, file);
                if (seen.TryGetValue(id, out var first))
                {
                    problems.Add($"event id {id} in {where} is already used in {first}");
                }
                else
                {
                    seen[id] = where;
                }

                if (Ranges.TryGetValue(project, out var start) && (id < start || id >= start + 1000))
                {
                    problems.Add($"event id {id} in {where} lies outside {project}'s range {start}-{start + 999}");
                }
            }
        }

        Assert.True(seen.Count > 50, $"only {seen.Count} [LoggerMessage] event ids found under {src}");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [GeneratedRegex(@"\[LoggerMessage\(\s*EventId\s*=\s*(\d+)")]
    private static partial Regex EventId();
}
