using System.CommandLine;
using System.CommandLine.Invocation;
using Streaming.App.Commands;
using Streaming.Bench;
using Streaming.Hosting;

namespace Streaming.App;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        NativeLogLevels.Quieten();
        NativeAllocator.Tune();
        var root = new RootCommand("Stream: multi-camera video analytics (ingest -> detect -> track -> Kafka events and Redis frames).");
        var bench = new Command("bench", "Benchmarks that print their figures and a ratio as the last line.");
        var eval = new Command("eval", "Evaluation: tracking in MOTChallenge format (synth, mot, score, compare) and detector accuracy with speed (detect).");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(AnalyzeCommand.Create());
        root.Subcommands.Add(bench);
        root.Subcommands.Add(eval);

        // Each stage contributes its own commands (detect, eval, bench <stage>, dev-kafka, alerts).
        IngestCommands.Register(root, bench);
        DetectCommands.Register(root, bench);
        TrackCommands.Register(root, bench, eval);
        EvalDetectCommand.Register(eval);
        SinkCommands.Register(root, bench);
        OpsCommands.Register(root, bench);
        ClusterCommands.Register(root, bench);
        foreach (var command in bench.Subcommands)
        {
            PrintMachineFirst(command);
        }

        // The host owns SIGINT/SIGTERM for `run` (drain, flush, exit 0); the parser must not kill the process first.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
        return await root.Parse(args).InvokeAsync(invocation).ConfigureAwait(false);
    }

    /// <summary>A benchmark's first line says the machine (CPU model, cores, load averages): its figures mean little without it.</summary>
    private static void PrintMachineFirst(Command command)
    {
        var inner = command.Action;
        command.SetAction(async (parse, ct) =>
        {
            await Console.Out.WriteLineAsync(MachineInfo.Line()).ConfigureAwait(false);
            return inner switch
            {
                AsynchronousCommandLineAction run => await run.InvokeAsync(parse, ct).ConfigureAwait(false),
                SynchronousCommandLineAction run => run.Invoke(parse),
                _ => 0,
            };
        });
    }
}
