using System.Diagnostics;
using Streaming.Core;

namespace Streaming.Bench;

/// <summary>What a command-line tool (ffmpeg, ffprobe) printed, how it ended and how long it ran.</summary>
public sealed record ToolResult(int ExitCode, string Stdout, string Stderr, TimeSpan Wall);

/// <summary>
/// Runs a command-line tool the benchmarks need (ffmpeg, ffprobe) to its end: arguments passed one by one (no shell),
/// both outputs read, killed with its children when the run is cancelled, and reaped before it returns, so that its CPU
/// time is in <see cref="CpuClock.Children"/> afterwards. One runner for every benchmark.
/// </summary>
public static class ToolProcess
{
    /// <summary>Runs <paramref name="program"/>; throws with its last error line (redacted) when it exits non-zero.</summary>
    public static async Task<ToolResult> RunAsync(string program, IEnumerable<string> args, CancellationToken ct)
    {
        var result = await TryRunAsync(program, args, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            var last = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
            throw new InvalidOperationException($"{Path.GetFileName(program)} failed (exit {result.ExitCode}): {UrlRedactor.Redact(last)}");
        }

        return result;
    }

    /// <summary>Runs <paramref name="program"/> and returns how it ended, whatever its exit code.</summary>
    public static async Task<ToolResult> TryRunAsync(string program, IEnumerable<string> args, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}; install ffmpeg (scripts/setup.sh).");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        var wall = clock.Elapsed;
        var (output, error) = (await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        process.WaitForExit(); // reaped: its CPU time is in the children's figure now
        return new ToolResult(process.ExitCode, output, error, wall);
    }
}
