using System.CommandLine;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Sink stage.</summary>
internal static class SinkCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
    }
}
