using System.CommandLine;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Ingest stage.</summary>
internal static class IngestCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
    }
}
