using System.CommandLine;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Track stage.</summary>
internal static class TrackCommands
{
    public static void Register(RootCommand root, Command bench, Command eval)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
        ArgumentNullException.ThrowIfNull(eval);
    }
}
