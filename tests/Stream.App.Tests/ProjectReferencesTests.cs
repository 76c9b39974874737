using System.Xml.Linq;
using Streaming.Testing;

namespace Streaming.App.Tests;

/// <summary>
/// Which project may reference which (README, "How it works"), read from the project files themselves: the stages know
/// only Core, tools sit beside them, only the app puts everything together, and a test project references what it tests.
/// </summary>
public sealed class ProjectReferencesTests
{
    /// <summary>Each project and the projects it may reference (compiled against); "*" any in src.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Stream.Core"] = [],
        ["Stream.Ingest"] = ["Stream.Core"],
        ["Stream.Detect"] = ["Stream.Core"],
        ["Stream.Track"] = ["Stream.Core"],
        ["Stream.Sink"] = ["Stream.Core"],
        ["Stream.DevServices"] = ["Stream.Core", "Stream.Sink"],
        ["Stream.Eval"] = ["Stream.Core", "Stream.Ingest", "Stream.Detect", "Stream.Track"],
        ["Stream.Bench"] = ["Stream.Core", "Stream.Ingest", "Stream.Detect", "Stream.Sink", "Stream.Hosting", "Stream.Cluster", "Stream.DevServices"],
        ["Stream.Cluster"] = ["Stream.Core", "Stream.Ingest", "Stream.Sink"],
        ["Stream.Hosting"] = ["Stream.Core", "Stream.Ingest", "Stream.Detect", "Stream.Track", "Stream.Sink", "Stream.Cluster", "Stream.DevServices"],
        ["Stream.App"] = ["*"],
        ["Stream.Testing"] = ["Stream.Core", "Stream.Sink", "Stream.DevServices"],
        ["Stream.Core.Tests"] = ["Stream.Core", "Stream.Testing"],
        ["Stream.Ingest.Tests"] = ["Stream.Ingest", "Stream.Testing"],
        ["Stream.Detect.Tests"] = ["Stream.Detect", "Stream.Bench", "Stream.Testing"],
        ["Stream.Track.Tests"] = ["Stream.Track", "Stream.Testing"],
        ["Stream.Sink.Tests"] = ["Stream.Sink", "Stream.Testing"],
        ["Stream.Eval.Tests"] = ["Stream.Eval", "Stream.Testing"],
        ["Stream.App.Tests"] = ["Stream.Hosting", "Stream.Cluster", "Stream.Bench", "Stream.Testing"],
        ["Stream.Integration.Tests"] = ["Stream.Hosting", "Stream.Cluster", "Stream.Testing"],
    };

    [Fact]
    public void Every_project_references_only_what_the_architecture_allows_and_no_test_helper_compiles_the_app()
    {
        var projects = Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "src"), "*.csproj", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "tests"), "*.csproj", SearchOption.AllDirectories))
            .ToList();
        var problems = new List<string>();
        foreach (var file in projects)
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (!Allowed.TryGetValue(name, out var allowed))
            {
                problems.Add($"{name}: a project the architecture does not list; add it to README's table and to this test");
                continue;
            }

            foreach (var reference in XDocument.Load(file).Descendants("ProjectReference"))
            {
                // Built but not compiled against (a test that starts the `stream` process): no dependency of the code.
                if (string.Equals((string?)reference.Attribute("ReferenceOutputAssembly"), "false", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var target = Path.GetFileNameWithoutExtension((string)reference.Attribute("Include")!);
                if (!allowed.Contains("*") && !allowed.Contains(target))
                {
                    problems.Add($"{name} references {target}; it may reference only {(allowed.Length == 0 ? "no project of ours" : string.Join(", ", allowed))}");
                }
            }
        }

        Assert.True(projects.Count >= Allowed.Count, $"only {projects.Count} project files found");
        Assert.Empty(problems);
    }
}
