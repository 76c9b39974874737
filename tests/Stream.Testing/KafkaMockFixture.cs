using System.Diagnostics;
using Streaming.DevServices;
using Xunit;

namespace Streaming.Testing;

/// <summary>
/// librdkafka's mock Kafka cluster in its OWN process (<c>dotnet stream.dll dev-kafka</c>), reached through a
/// <see cref="FaultProxy"/> per broker: the brokers name the proxies in their metadata (<c>dev-kafka --advertise</c>), so
/// every client connection goes through them, and a test makes the brokers unreachable by the network (pause: bytes held,
/// blackhole, reset) while their process runs on. Freezing the process with SIGSTOP (<see cref="FreezeProcessAsync"/>)
/// is kept for what needs it: in about half the CI runs the mock broker did not serve again after SIGCONT (issue 24).
/// The test project must reference src/Stream.App so that the <c>stream</c> CLI is built. The process is
/// <see cref="DevKafkaProcess"/>, as the cluster benchmark starts it.
/// </summary>
public sealed class KafkaMockFixture : IAsyncLifetime
{
    private DevKafkaProcess? _process;
    private readonly List<FaultProxy> _proxies = [];

    /// <summary>Number of mock brokers (set before <see cref="InitializeAsync"/>).</summary>
    public int Brokers { get; init; } = 1;

    /// <summary>Topics to create (NAME, or NAME:PARTITIONS; set before <see cref="InitializeAsync"/>); default: dev-kafka's own.</summary>
    public IReadOnlyList<string> Topics { get; init; } = [];

    /// <summary>The proxies' endpoints (what clients use).</summary>
    public string BootstrapServers { get; private set; } = string.Empty;

    /// <summary>The brokers' own listeners, behind the proxies.</summary>
    public string BrokerListeners { get; private set; } = string.Empty;

    /// <summary>One proxy per broker, broker 1 first: set any fault on them.</summary>
    public IReadOnlyList<FaultProxy> Proxies => _proxies;

    public int ProcessId => _process?.ProcessId ?? throw new InvalidOperationException("The mock cluster is not running.");

    /// <summary>Where the built CLI is: next to the tests, or in src/Stream.App's output of the same configuration.</summary>
    public static string StreamDll
    {
        get
        {
            var local = Path.Combine(AppContext.BaseDirectory, "stream.dll");
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            string[] candidates =
            [
                Path.Combine(RepoPaths.Root, "src", "Stream.App", "bin", configuration, "net10.0", "stream.dll"),
                local,
            ];
            return candidates.FirstOrDefault(File.Exists)
                ?? throw new FileNotFoundException($"stream.dll not found ({string.Join(", ", candidates)}): build src/Stream.App first (dotnet build -c {configuration}).");
        }
    }

    public async Task InitializeAsync()
    {
        // The proxies' ports first: the brokers are told to advertise them when they start.
        for (var i = 0; i < Brokers; i++)
        {
            _proxies.Add(new FaultProxy());
        }

        _process = await DevKafkaProcess.StartAsync(StreamDll, Brokers, Topics, advertise: [.. _proxies.Select(p => p.Endpoint)]).ConfigureAwait(false);
        BrokerListeners = _process.BootstrapServers;
        var listeners = BrokerListeners.Split(',');
        for (var i = 0; i < _proxies.Count; i++)
        {
            var colon = listeners[i].LastIndexOf(':');
            _proxies[i].SetUpstream(listeners[i][..colon], int.Parse(listeners[i][(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }

        BootstrapServers = string.Join(',', _proxies.Select(p => p.Endpoint));
    }

    /// <summary>What the broker process is doing, for a failing test's message: alive or its exit code, and its last stderr lines.</summary>
    public string Describe()
    {
        var state = _process is null ? "not started" : _process.HasExited ? $"exited with {_process.ExitCode}" : "running";
        return $"mock cluster process {state}, {Sockets()}; {string.Join("; ", _proxies.Select(p => p.Describe()))}; its last stderr lines:\n{string.Join('\n', _process?.StderrTail ?? [])}";
    }

    /// <summary>The broker ports' TCP sockets by state, from ss (LISTEN with its accept queue, ESTAB, SYN-RECV, ...).</summary>
    private string Sockets()
    {
        try
        {
            var ports = BrokerListeners.Split(',').Select(b => b[(b.LastIndexOf(':') + 1)..]).ToHashSet(StringComparer.Ordinal);
            using var ss = Process.Start(new ProcessStartInfo("ss", "-tanH") { RedirectStandardOutput = true })!;
            var lines = ss.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 4 && ports.Contains(f[3][(f[3].LastIndexOf(':') + 1)..]))
                .GroupBy(f => f[0] == "LISTEN" ? $"LISTEN(queue {f[1]}/{f[2]})" : f[0])
                .Select(g => $"{g.Key} x{g.Count()}");
            return "broker sockets: " + string.Join(", ", lines.DefaultIfEmpty("none"));
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "broker sockets unknown (" + ex.Message + ")";
        }
    }

    /// <summary>The brokers stop answering: their proxies hold every byte both ways (connections stay open, the process runs on).</summary>
    public Task PauseAsync()
    {
        _proxies.ForEach(p => p.Pause());
        return Task.CompletedTask;
    }

    /// <summary>The brokers answer again: the proxies pass the held bytes on and everything after them.</summary>
    public Task ResumeAsync()
    {
        _proxies.ForEach(p => p.Heal());
        return Task.CompletedTask;
    }

    /// <summary>Freezes the broker process itself (SIGSTOP). Only for what a network fault cannot show: see the class summary.</summary>
    public Task FreezeProcessAsync() => Broker.SignalAsync("STOP");

    /// <summary>Resumes a frozen broker process (SIGCONT).</summary>
    public Task ThawProcessAsync() => Broker.SignalAsync("CONT");

    /// <summary>Stops the cluster the polite way (SIGTERM) and returns the process's exit code.</summary>
    public Task<int> TerminateAsync(TimeSpan timeout) => Broker.TerminateAsync(timeout);

    public async Task DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }

        // Resumed (were it paused) and killed.
        await _process.DisposeAsync().ConfigureAwait(false);
        _process = null;
        foreach (var proxy in _proxies)
        {
            await proxy.DisposeAsync().ConfigureAwait(false);
        }

        _proxies.Clear();
    }

    private DevKafkaProcess Broker => _process ?? throw new InvalidOperationException("The mock cluster is not running.");
}
