using System.Diagnostics;
using System.Globalization;

namespace Streaming.DevServices;

/// <summary>
/// <c>stream dev-kafka</c> (librdkafka's mock Kafka cluster) in its own child process, so that it can be paused
/// (SIGSTOP), resumed (SIGCONT), stopped politely (SIGTERM) or killed like a real broker. Ready once it printed its
/// <c>bootstrap=</c> line; its last stderr lines are kept for failure messages. A tool, not part of the pipeline: the
/// cluster benchmark starts one, and so does the test fixture (tests/Stream.Testing's KafkaMockFixture).
/// </summary>
public sealed class DevKafkaProcess : IAsyncDisposable
{
    private const int StderrLinesKept = 20;
    private readonly Process _process;
    private readonly Queue<string> _stderr = new();

    private readonly TimeSpan? _stopGrace;

    private DevKafkaProcess(Process process, TimeSpan? stopGrace)
    {
        _process = process;
        _stopGrace = stopGrace;
    }

    public string BootstrapServers { get; private set; } = string.Empty;

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The process's last stderr lines (at most 20).</summary>
    public IReadOnlyList<string> StderrTail
    {
        get
        {
            lock (_stderr)
            {
                return [.. _stderr];
            }
        }
    }

    /// <summary>
    /// Starts <c>dotnet <paramref name="streamDll"/> dev-kafka</c> with <paramref name="brokers"/> brokers and the
    /// <paramref name="topics"/> (NAME or NAME:PARTITIONS; none: dev-kafka's own) and waits for its bootstrap line.
    /// </summary>
    /// <param name="stopGrace">On dispose: SIGTERM and this long to exit before SIGKILL; null: SIGKILL at once.</param>
    /// <param name="advertise">HOST:PORT per broker that the brokers name in their metadata (dev-kafka --advertise); null: their own.</param>
    public static async Task<DevKafkaProcess> StartAsync(string streamDll, int brokers = 1, IEnumerable<string>? topics = null,
        TimeSpan? stopGrace = null, CancellationToken cancellationToken = default, IReadOnlyList<string>? advertise = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(streamDll);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(streamDll);
        psi.ArgumentList.Add("dev-kafka");
        psi.ArgumentList.Add("--brokers");
        psi.ArgumentList.Add(brokers.ToString(CultureInfo.InvariantCulture));
        foreach (var topic in topics ?? [])
        {
            psi.ArgumentList.Add("--topic");
            psi.ArgumentList.Add(topic);
        }

        if (advertise is { Count: > 0 })
        {
            psi.ArgumentList.Add("--advertise");
            psi.ArgumentList.Add(string.Join(',', advertise));
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException($"dotnet {streamDll} dev-kafka did not start");
        var broker = new DevKafkaProcess(process, stopGrace);
        process.ErrorDataReceived += (_, e) => broker.OnStderr(e.Data);
        process.BeginErrorReadLine();
        // The bootstrap line comes first; anything else before it (a blank line was seen once in a loaded CI run) is kept
        // for the message and skipped.
        string? first;
        var before = new List<string>();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(60));
            while ((first = await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false)) is not null &&
                !first.StartsWith("bootstrap=", StringComparison.Ordinal) && before.Count < 20)
            {
                before.Add(first);
            }
        }
        catch
        {
            await broker.KillAsync().ConfigureAwait(false);
            throw;
        }

        if (first is null || !first.StartsWith("bootstrap=", StringComparison.Ordinal))
        {
            await broker.KillAsync().ConfigureAwait(false);
            throw new InvalidOperationException(
                $"stream dev-kafka printed no bootstrap=... line (stdout: '{string.Join("' '", before)}', {(first is null ? "then closed" : "and more")}; " +
                $"{(process.HasExited ? $"exit code {process.ExitCode}" : "still running")}; stderr: {string.Join(" | ", broker.StderrTail)})");
        }

        broker.BootstrapServers = first["bootstrap=".Length..].Trim();
        _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        return broker;
    }

    private void OnStderr(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_stderr)
        {
            _stderr.Enqueue(line);
            while (_stderr.Count > StderrLinesKept)
            {
                _stderr.Dequeue();
            }
        }
    }

    /// <summary>Sends a signal (STOP, CONT, TERM, KILL) to the process; throws when kill fails.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, ProcessId.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().ConfigureAwait(false);
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {ProcessId} failed with {kill.ExitCode}.");
        }
    }

    /// <summary>SIGTERM, and waits up to <paramref name="timeout"/> for the exit; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        await SignalAsync("TERM").ConfigureAwait(false);
        await _process.WaitForExitAsync().WaitAsync(timeout).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM; SIGKILL when it has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        await SignalAsync("CONT").ConfigureAwait(false);
        try
        {
            await TerminateAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await KillAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Kills the process (resumed first, were it paused) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        try
        {
            await SignalAsync("CONT").ConfigureAwait(false);
        }
        catch (InvalidOperationException) when (_process.HasExited)
        {
        }

        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the process: politely within the stop grace given at start, else killed at once (see <see cref="KillAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopGrace is { } grace)
        {
            await StopAsync(grace).ConfigureAwait(false);
        }
        else
        {
            await KillAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }
}
