using System.CommandLine;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Detect stage.</summary>
internal static class DetectCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
    }
}
