using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Streaming.DevServices;
using Streaming.Cluster;
using Streaming.Core;
using Streaming.Sink;

namespace Streaming.Bench;

/// <summary>Settings of one <c>stream bench cluster</c> run.</summary>
public sealed record ClusterBenchSettings
{
    public int Workers { get; init; } = 3;

    public int Cameras { get; init; } = 12;

    public int Kills { get; init; } = 5;

    public int SessionTimeoutMs { get; init; } = 6000;

    public int HeartbeatIntervalMs { get; init; } = 1000;

    public double Fps { get; init; } = 2;

    public string Source { get; init; } = "samples/test_360p.mp4";

    public string Model { get; init; } = "models/yolox_nano.onnx";
}

/// <summary>One SIGKILL and the replacement's join.</summary>
public sealed record ClusterKill(string Victim, int Cameras, double AssignedSeconds, double StreamingSeconds, int OthersRestarted,
    string Joiner, int MovedOnJoin, int RestartedOnJoin, string SpreadAfterJoin);

/// <summary>Figures of one <c>stream bench cluster</c> run.</summary>
public sealed record ClusterBenchResult(ClusterBenchSettings Settings, string LoadBefore, string LoadAfter, string InitialSpread, IReadOnlyList<ClusterKill> Kills)
{
    public double? RecoveryP50 => Percentiles.Of([.. Kills.Select(k => k.StreamingSeconds)], 0.5);

    public double? RecoveryMax => Kills.Count > 0 ? Kills.Max(k => k.StreamingSeconds) : null;
}

/// <summary>
/// <c>stream bench cluster</c>: every process on this machine, as in a fleet. A <c>stream dev-kafka</c> process with the
/// registry topic created with one partition per camera, N <c>stream run</c> workers with a <c>Cluster</c> section, file
/// cameras paced like live ones at a low fps. Then, K times: SIGKILL the busiest worker, time until a survivor is assigned
/// its partitions (the broker's part) and until all its cameras stream again on the others (p50 and max), check no other
/// camera restarted; then start a replacement, wait until the spread is balanced again and count the cameras that
/// restarted on that join (cooperative-sticky: only those that move to the new worker).
/// </summary>
public static class ClusterBenchmark
{
    private const string RegistryTopic = "stream.cameras";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task<ClusterBenchResult> RunAsync(ClusterBenchSettings settings, TextWriter progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(progress);
        var source = Path.GetFullPath(settings.Source);
        var model = Path.GetFullPath(settings.Model);
        foreach (var (path, fix) in new[] { (source, "--source"), (model, "--model") })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path} not found: pass {fix} with an existing file (scripts/setup.sh puts samples/ and models/ in place).", path);
            }
        }

        var loadBefore = MachineInfo.LoadAverage();
        // The registry with one partition per camera, and the events topic.
        await using var broker = await DevKafkaProcess.StartAsync(StreamDll, 1, ["stream.events", $"{RegistryTopic}:{settings.Cameras}"], stopGrace: TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        progress.WriteLine($"dev-kafka at {broker.BootstrapServers}; registry {RegistryTopic} with {settings.Cameras} partitions");
        using (var registry = new CameraRegistryTopic(CameraRegistryTopic.ClientSettings(new KafkaSinkOptions { BootstrapServers = broker.BootstrapServers }), RegistryTopic))
        {
            var cameras = Enumerable.Range(0, settings.Cameras).Select(i => new CameraOptions
            {
                Id = $"cam-{i:00}", Url = source, Loop = true, Pacing = FilePacing.Native, MaxFps = settings.Fps, Width = 320,
            }).ToList();
            await registry.PutAsync(cameras, ct).ConfigureAwait(false);
        }

        var fleet = new List<WorkerProcess>();
        var next = 1;
        try
        {
            for (; next <= settings.Workers; next++)
            {
                fleet.Add(WorkerProcess.Start($"w{next}", broker.BootstrapServers, settings, model, Path.GetDirectoryName(source)!));
            }

            var spread = await WaitForSpreadAsync(fleet, settings.Cameras, balanced: true, TimeSpan.FromSeconds(180), ct).ConfigureAwait(false);
            var initial = Describe(spread);
            progress.WriteLine($"spread: {initial}");
            var kills = new List<ClusterKill>();
            for (var k = 1; k <= settings.Kills; k++)
            {
                var victim = fleet.OrderByDescending(w => spread[w].Count).First();
                var moved = spread[victim].Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
                var survivors = fleet.Where(w => w != victim).ToList();
                var before = survivors.SelectMany(w => spread[w]).ToDictionary(c => c.Id, c => c.Since, StringComparer.Ordinal);
                var clock = Stopwatch.StartNew();
                foreach (var s in survivors)
                {
                    s.WatchAssignments(clock);
                }

                victim.Kill();
                fleet.Remove(victim);
                var recovered = await WaitForSpreadAsync(survivors, settings.Cameras, balanced: false, TimeSpan.FromSeconds(120), ct).ConfigureAwait(false);
                var streaming = clock.Elapsed.TotalSeconds;
                var assigned = survivors.Select(s => s.FirstAssignedSeconds).Where(s => s is not null).DefaultIfEmpty(null).Min() ?? double.NaN;
                foreach (var line in survivors.SelectMany(w => w.Watched()))
                {
                    progress.WriteLine("  " + line);
                }

                var others = recovered.Values.SelectMany(c => c).Count(c => before.TryGetValue(c.Id, out var since) && since != c.Since);
                await victim.DisposeAsync().ConfigureAwait(false);

                // The replacement joins: only the cameras that move to it should restart.
                var joiner = WorkerProcess.Start($"w{next++}", broker.BootstrapServers, settings, model, Path.GetDirectoryName(source)!);
                fleet.Add(joiner);
                var running = recovered.Values.SelectMany(c => c).ToDictionary(c => c.Id, c => c.Since, StringComparer.Ordinal);
                spread = await WaitForSpreadAsync(fleet, settings.Cameras, balanced: true, TimeSpan.FromSeconds(180), ct).ConfigureAwait(false);
                var restarted = spread.Values.SelectMany(c => c).Count(c => running[c.Id] != c.Since);
                var kill = new ClusterKill(victim.Id, moved.Count, assigned, streaming, others, joiner.Id, spread[joiner].Count, restarted, Describe(spread));
                kills.Add(kill);
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"kill {k}: {kill.Victim} ({kill.Cameras} cameras) -> partitions assigned to a survivor after {kill.AssignedSeconds:F1} s, all streaming after {kill.StreamingSeconds:F1} s, other cameras restarted: {kill.OthersRestarted}; {kill.Joiner} joined: {kill.MovedOnJoin} cameras moved, {kill.RestartedOnJoin} restarted; {kill.SpreadAfterJoin}"));
            }

            return new ClusterBenchResult(settings, loadBefore, MachineInfo.LoadAverage(), initial, kills);
        }
        finally
        {
            foreach (var w in fleet)
            {
                await w.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public static void Print(TextWriter writer, ClusterBenchResult r)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(r);
        var (inv, s) = (CultureInfo.InvariantCulture, r.Settings);
        string[] header =
        [
            $"load average: {r.LoadBefore} before, {r.LoadAfter} after (all processes on this machine)",
            string.Create(inv, $"fleet: {s.Workers} workers, {s.Cameras} cameras ({Path.GetFileName(s.Source)} at {s.Fps} fps, 320 px wide), one registry partition per camera; session timeout {s.SessionTimeoutMs / 1000.0:F1} s, heartbeat {s.HeartbeatIntervalMs / 1000.0:F1} s; broker: stream dev-kafka (librdkafka mock)"),
            $"initial spread: {r.InitialSpread}",
        ];
        writer.WriteLine(string.Join(Environment.NewLine, header));
        foreach (var (k, i) in r.Kills.Select((k, i) => (k, i + 1)))
        {
            writer.WriteLine(string.Create(inv,
                $"kill {i}: {k.Victim} ({k.Cameras} cameras): assigned {k.AssignedSeconds:F1} s, streaming {k.StreamingSeconds:F1} s, other cameras restarted {k.OthersRestarted}; join of {k.Joiner}: {k.MovedOnJoin} moved, {k.RestartedOnJoin} restarted"));
        }

        var assigned = r.Kills.Select(k => k.AssignedSeconds).Where(double.IsFinite).ToList();
        writer.WriteLine(string.Create(inv,
            $"kill -> partitions assigned: p50 {Percentiles.Of(assigned, 0.5):F1} s, max {(assigned.Count > 0 ? assigned.Max() : double.NaN):F1} s (the broker's session timeout and rebalance)"));
        writer.WriteLine(string.Create(inv,
            $"kill -> all its cameras streaming again: p50 {r.RecoveryP50:F1} s, max {r.RecoveryMax:F1} s over {r.Kills.Count} kills; goal <= session timeout + 5 s = {(s.SessionTimeoutMs + 5000) / 1000.0:F1} s"));
        writer.WriteLine(string.Create(inv,
            $"cameras restarted per join: {string.Join(", ", r.Kills.Select(k => k.RestartedOnJoin))} (moved to the new worker: {string.Join(", ", r.Kills.Select(k => k.MovedOnJoin))}); other cameras restarted by a kill: {r.Kills.Sum(k => k.OthersRestarted)}"));
        writer.WriteLine(string.Create(inv, $"recovery after worker loss: {r.RecoveryP50:F1} s"));
    }

    /// <summary>
    /// Waits until the workers run <paramref name="count"/> cameras between them, each on exactly one and streaming (and,
    /// when <paramref name="balanced"/>, within one camera of each other); returns who runs what.
    /// </summary>
    private static async Task<Dictionary<WorkerProcess, List<WorkerCamera>>> WaitForSpreadAsync(IReadOnlyList<WorkerProcess> workers, int count, bool balanced, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        var spread = new Dictionary<WorkerProcess, List<WorkerCamera>>();
        while (deadline.Elapsed < timeout)
        {
            ct.ThrowIfCancellationRequested();
            spread = [];
            foreach (var w in workers)
            {
                spread[w] = await w.CamerasAsync(ct).ConfigureAwait(false) ?? [];
            }

            var all = spread.Values.SelectMany(c => c).ToList();
            if (all.Count == count && all.Select(c => c.Id).Distinct().Count() == count && all.All(c => c.State == "Streaming")
                && (!balanced || spread.Values.Max(c => c.Count) - spread.Values.Min(c => c.Count) <= 1))
            {
                return spread;
            }

            await Task.Delay(100, ct).ConfigureAwait(false);
        }

        throw new TimeoutException($"the workers did not run {count} cameras{(balanced ? ", balanced" : string.Empty)} within {timeout.TotalSeconds:F0} s: {Describe(spread)}; last worker lines:\n"
            + string.Join('\n', workers.Select(w => w.Tail())));
    }

    private static string Describe(Dictionary<WorkerProcess, List<WorkerCamera>> spread) =>
        string.Join(", ", spread.Select(kv => $"{kv.Key.Id}={kv.Value.Count}"));

    /// <summary>The running `stream` executable's assembly (stream.dll): the broker and the workers are more of it.</summary>
    private static string StreamDll => System.Reflection.Assembly.GetEntryAssembly()?.Location is { Length: > 0 } entry
        ? entry
        : throw new InvalidOperationException("bench cluster runs inside the `stream` executable: it starts more of it as the broker and the workers");

    private static ProcessStartInfo Dotnet(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(StreamDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    private sealed record WorkerCamera(string Id, string State, DateTimeOffset Since, string? Worker);

    /// <summary>One <c>stream run</c> worker with a Cluster section; its output is kept (last lines) and watched for assignments.</summary>
    private sealed class WorkerProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _http;
        private readonly string _dir;
        private readonly ConcurrentQueue<string> _tail = new();
        private readonly ConcurrentQueue<string> _watched = new();
        private Stopwatch? _clock;
        private long _assignedTicks = -1;

        private WorkerProcess(string id, Process process, int port, string dir)
        {
            Id = id;
            _process = process;
            _dir = dir;
            _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        }

        public string Id { get; }

        /// <summary>Seconds on the watch clock when this worker was first assigned partitions after <see cref="WatchAssignments"/>.</summary>
        public double? FirstAssignedSeconds => Interlocked.Read(ref _assignedTicks) is var t and >= 0 ? TimeSpan.FromTicks(t).TotalSeconds : null;

        public static WorkerProcess Start(string id, string bootstrap, ClusterBenchSettings settings, string model, string mediaRoot)
        {
            var dir = Path.Combine(Path.GetTempPath(), "stream-bench-cluster-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(dir);
            var config = Path.Combine(dir, "cluster.json");
            File.WriteAllText(config, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["Detect"] = new Dictionary<string, object> { ["ModelPath"] = model, ["Provider"] = "cpu" },
                ["Cluster"] = new Dictionary<string, object>
                {
                    ["Enabled"] = true, ["WorkerId"] = id, ["RegistryTopic"] = RegistryTopic,
                    ["SessionTimeoutMs"] = settings.SessionTimeoutMs, ["HeartbeatIntervalMs"] = settings.HeartbeatIntervalMs,
                },
                ["Http"] = new Dictionary<string, object> { ["CameraMediaRoot"] = mediaRoot },
            }));
            var port = FreePort();
            string[] sets =
            [
                "Sink:Kafka:BootstrapServers=" + bootstrap,
                $"Http:Urls=http://127.0.0.1:{port}",
                "Status:Mode=plain",
                "Sink:Spool:Directory=" + Path.Combine(dir, "spool"),
                "Sink:Redis:Configuration=127.0.0.1:1,connectTimeout=500", // no Redis: frames are skipped and counted
            ];
            var psi = Dotnet(["run", "--config", config, .. sets.SelectMany(s => new[] { "--set", s })]);
            foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("STREAM_", StringComparison.Ordinal)).ToList())
            {
                psi.Environment.Remove(key);
            }

            var process = new Process { StartInfo = psi };
            var worker = new WorkerProcess(id, process, port, dir);
            process.OutputDataReceived += (_, e) => worker.OnLine(e.Data);
            process.ErrorDataReceived += (_, e) => worker.OnLine(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return worker;
        }

        public void WatchAssignments(Stopwatch clock)
        {
            Interlocked.Exchange(ref _assignedTicks, -1);
            _watched.Clear();
            _clock = clock;
        }

        /// <summary>This worker's cluster log lines since <see cref="WatchAssignments"/>, each with its arrival time on the watch clock.</summary>
        public IEnumerable<string> Watched() => _watched.Select(l => $"[{Id}] {l}");

        public async Task<List<WorkerCamera>?> CamerasAsync(CancellationToken ct)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"worker {Id} exited with {_process.ExitCode}:\n{Tail()}");
            }

            try
            {
                return await _http.GetFromJsonAsync<List<WorkerCamera>>("/api/cameras", Json, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                return null; // not listening yet
            }
        }

        public void Kill() => _process.Kill(); // SIGKILL on Linux

        public string Tail() => $"[{Id}] " + string.Join($"\n[{Id}] ", _tail.TakeLast(15));

        private void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            _tail.Enqueue(line);
            while (_tail.Count > 200 && _tail.TryDequeue(out _))
            {
            }

            if (_clock is { } watch && line.Contains("cluster:", StringComparison.Ordinal))
            {
                _watched.Enqueue(string.Create(CultureInfo.InvariantCulture, $"+{watch.Elapsed.TotalSeconds:F1} s {line.Trim()}"));
            }

            if (_clock is { } clock && line.Contains("cluster: partitions assigned: ", StringComparison.Ordinal)
                && !line.TrimEnd().EndsWith("assigned:", StringComparison.Ordinal))
            {
                Interlocked.CompareExchange(ref _assignedTicks, clock.Elapsed.Ticks, -1);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await Stop(_process, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>SIGTERM, then SIGKILL when it has not exited within <paramref name="grace"/>.</summary>
    private static async Task Stop(Process process, TimeSpan grace)
    {
        try
        {
            if (!process.HasExited)
            {
                using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
                {
                    await term.WaitForExitAsync().ConfigureAwait(false);
                }

                try
                {
                    await process.WaitForExitAsync().WaitAsync(grace).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            process.Dispose();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
