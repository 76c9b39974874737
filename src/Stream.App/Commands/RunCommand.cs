using System.CommandLine;

namespace Streaming.App.Commands;

/// <summary><c>stream run --config FILE</c>: the whole pipeline.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "Pipeline configuration (JSON).",
            DefaultValueFactory = _ => new FileInfo(Path.Combine("config", "demo.json")),
        };
        var command = new Command("run", "Run the pipeline until Ctrl+C or SIGTERM.") { config };
        command.SetAction((parse, ct) => Task.FromResult(0));
        return command;
    }
}
