using System.CommandLine;

namespace Streaming.App.Commands;

/// <summary>Whole-pipeline benchmarks: bench e2e, bench tune, bench soak.</summary>
internal static class OpsCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
    }
}
