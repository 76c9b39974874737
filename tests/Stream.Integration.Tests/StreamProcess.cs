using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// The real <c>stream run</c> process (<c>dotnet stream.dll run --config FILE --set ...</c>), started in the repository root
/// with a temporary config file, its own spool directory and HTTP port (127.0.0.1), plain status output, and every line it
/// writes kept (stdout and stderr apart) so that tests can assert on what it said. Offers /metrics, /api/cameras, RSS from
/// /proc and signals.
/// </summary>
internal sealed class StreamProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITestOutputHelper? _output;

    private StreamProcess(Process process, string directory, int httpPort, ITestOutputHelper? output)
    {
        _process = process;
        Directory = directory;
        HttpPort = httpPort;
        _output = output;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(5) };
    }

    /// <summary>The process's temporary directory (config file, spool).</summary>
    public string Directory { get; }

    public int HttpPort { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Stdout => string.Join('\n', _stdout);

    public string Stderr => string.Join('\n', _stderr);

    public IReadOnlyList<string> StderrLines => [.. _stderr];

    public IReadOnlyList<string> StdoutLines => [.. _stdout];

    /// <summary>The pipeline configuration used by most tests: no camera, CPU detection with the nano model, plain status.</summary>
    public static Dictionary<string, object?> Config(params object[] cameras) => new()
    {
        ["Cameras"] = cameras,
        ["Detect"] = new Dictionary<string, object?> { ["ModelPath"] = RepoPaths.Model("yolox_nano.onnx"), ["Provider"] = "cpu" },
    };

    /// <summary>A looping sample file paced like a live camera.</summary>
    public static Dictionary<string, object?> FileCamera(string id, string sample = "dog_pan_960p.mp4", double maxFps = 0, int width = 0) => new()
    {
        ["Id"] = id,
        ["Url"] = RepoPaths.Sample(sample),
        ["Loop"] = true,
        ["Pacing"] = "Native",
        ["MaxFps"] = maxFps,
        ["Width"] = width,
    };

    public static Dictionary<string, object?> UrlCamera(string id, string url, double maxFps = 0) => new()
    {
        ["Id"] = id,
        ["Url"] = url,
        ["MaxFps"] = maxFps,
    };

    /// <summary>Starts <c>stream run</c>; <paramref name="config"/> is written as the JSON config file (a string is written as is).</summary>
    public static StreamProcess Start(object config, IEnumerable<string>? sets = null, IReadOnlyDictionary<string, string>? environment = null,
        ITestOutputHelper? output = null, bool httpOverride = true)
    {
        var dir = Path.Combine(Path.GetTempPath(), "stream-it-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        var configPath = Path.Combine(dir, "pipeline.json");
        File.WriteAllText(configPath, config as string ?? JsonSerializer.Serialize(config));
        var port = FreePort.Next();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = RepoPaths.Root,
        };
        psi.ArgumentList.Add(KafkaMockFixture.StreamDll);
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(configPath);
        var all = new List<string>
        {
            "Status:Mode=plain",

            // The in-process mock broker unless the test names one (a test's own --set comes later and wins).
            "Sink:Kafka:BootstrapServers=embedded",
            "Sink:Spool:Directory=" + Path.Combine(dir, "spool"),
            "Clips:Directory=" + Path.Combine(dir, "clips"), // event clips in the run's own directory, never the repository's data/

            // No Redis unless the test starts one (never the developer's localhost:6379): frames are skipped and counted.
            // A short connect timeout: the sink waits for its first Redis connection attempt before it takes frames.
            "Sink:Redis:Configuration=127.0.0.1:1,connectTimeout=500",
        };
        if (httpOverride)
        {
            all.Add($"Http:Urls=http://127.0.0.1:{port}");
        }

        all.AddRange(sets ?? []);
        foreach (var s in all)
        {
            psi.ArgumentList.Add("--set");
            psi.ArgumentList.Add(s);
        }

        // Nothing from the developer's environment leaks into the run.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("STREAM_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var sp = new StreamProcess(process, dir, port, output);
        process.OutputDataReceived += (_, e) => sp.OnLine(e.Data, sp._stdout, sp._stdoutClosed, "out");
        process.ErrorDataReceived += (_, e) => sp.OnLine(e.Data, sp._stderr, sp._stderrClosed, "err");
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return sp;
    }

    /// <summary>Runs a one-shot <c>stream</c> command (not <c>run</c>) to its end, with <paramref name="stdin"/> as its input: exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> CommandAsync(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        using var process = Process.Start(Command(args))!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(120));
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>How to start a one-shot <c>stream</c> command (not <c>run</c>), its standard streams redirected.</summary>
    public static ProcessStartInfo Command(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = RepoPaths.Root,
        };
        psi.ArgumentList.Add(KafkaMockFixture.StreamDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    /// <summary>Runs <c>stream run</c> to its end (bad input): exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, IReadOnlyList<string> Stderr, string Stdout)> RunToExitAsync(object config, IEnumerable<string>? sets = null,
        ITestOutputHelper? output = null, TimeSpan? timeout = null)
    {
        await using var p = Start(config, sets, output: output);
        var code = await p.WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(60));
        return (code, p.StderrLines, p.Stdout);
    }

    private void OnLine(string? line, ConcurrentQueue<string> lines, TaskCompletionSource closed, string stream)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lines.Enqueue(line);
    }

    /// <summary>
    /// Waits until the HTTP endpoint answers and the host has started with every stage loop running (/healthz; /readyz
    /// also needs a camera streaming and Kafka reachable, which fault tests start without).
    /// </summary>
    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"stream run exited with {_process.ExitCode} before it was ready:\n{Stderr}\n{Tail(40)}");
            }

            try
            {
                using var r = await _http.GetAsync("/healthz");
                if (r.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"stream run was not ready within the timeout:\n{Tail(40)}");
    }

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => _http.SendAsync(request);

    public Task<string> GetStringAsync(string path) => _http.GetStringAsync(path);

    public async Task<Metrics> MetricsAsync() => Metrics.Parse(await _http.GetStringAsync("/metrics"));

    public async Task<IReadOnlyList<CameraView>> CamerasAsync() =>
        await _http.GetFromJsonAsync<List<CameraView>>("/api/cameras", JsonOptions) ?? [];

    public async Task<CameraView> CameraAsync(string id) => (await CamerasAsync()).Single(c => c.Id == id);

    /// <summary>Resident set size from /proc/PID/status (VmRSS).</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kb * 1024;
            }
        }

        throw new InvalidOperationException("VmRSS not found");
    }

    /// <summary>Sends a signal (TERM, INT, KILL, STOP, CONT) to the process.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {_process.Id} failed with {kill.ExitCode}");
        }
    }

    /// <summary>Waits for the process to exit (and its output to be read); returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"stream run did not exit within {timeout.TotalSeconds} s:\n{Tail(40)}");
        }

        await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(10));
        // A process that stopped cleanly checked that every frame was disposed (no pixel buffer still rented).
        Assert.DoesNotContain(_stderr, line => line.Contains("still rented after shutdown", StringComparison.Ordinal));
        return _process.ExitCode;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; returns how long it took.</summary>
    public async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, int pollMs = 200)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"stream run exited ({_process.ExitCode}) while waiting for {what}:\n{Stderr}\n{Tail(40)}");
            }

            if (await condition())
            {
                return clock.Elapsed;
            }

            await Task.Delay(pollMs);
        }

        throw new TimeoutException($"{what}: not within {timeout.TotalSeconds} s\n{Tail(30)}");
    }

    /// <summary>The Sink's last words: "Sink finished: N events acknowledged by Kafka, F refused, L left in the spool ...".</summary>
    public (long Acknowledged, long Refused, long LeftInSpool) SinkFinished()
    {
        var line = _stdout.LastOrDefault(l => l.Contains("Sink finished: ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("the sink did not log 'Sink finished'\n" + Tail(30));
        var m = System.Text.RegularExpressions.Regex.Match(line, @"Sink finished: (\d+) events acknowledged by Kafka, (\d+) refused, (\d+) left in the spool");
        Assert.True(m.Success, line);
        return (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    public string Tail(int lines) => string.Join('\n', _stdout.TakeLast(lines));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (InvalidOperationException)
            {
            }
            catch (TimeoutException)
            {
            }
        }

        if (_output is not null)
        {
            try
            {
                _output.WriteLine("--- stream run: last lines ---\n" + Tail(15) + (_stderr.IsEmpty ? string.Empty : "\n--- stderr ---\n" + Stderr));
            }
            catch (InvalidOperationException)
            {
                // The test has already finished.
            }
        }

        _process.Dispose();
        _http.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);
}

/// <summary>One camera as GET /api/cameras shows it.</summary>
internal sealed record CameraView(string Id, string Url, string Kind, string State, DateTimeOffset Since, long FramesDecoded,
    long FramesDropped, long Reconnects, string? LastError, double Fps, int Width, int Height, bool Clips = false, long FramesStale = 0, long FramesDroppedTotal = 0);

/// <summary>Prometheus text exposition (what /metrics returns), parsed into samples.</summary>
internal sealed class Metrics
{
    private Metrics(string text, IReadOnlyList<Sample> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }

    public IReadOnlyList<Sample> Samples { get; }

    public static Metrics Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.LastIndexOf(' ');
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            string name;
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var close = line.LastIndexOf('}');
                foreach (var part in SplitLabels(line[(brace + 1)..close]))
                {
                    var eq = part.IndexOf('=', StringComparison.Ordinal);
                    labels[part[..eq]] = part[(eq + 1)..].Trim('"');
                }
            }
            else
            {
                name = line[..space];
            }

            var valueText = line[(space + 1)..];
            var value = valueText switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(valueText, CultureInfo.InvariantCulture),
            };
            samples.Add(new Sample(name, labels, value));
        }

        return new Metrics(text, samples);
    }

    private static IEnumerable<string> SplitLabels(string s)
    {
        var start = 0;
        var quoted = false;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '"' && (i == 0 || s[i - 1] != '\\'))
            {
                quoted = !quoted;
            }
            else if (s[i] == ',' && !quoted)
            {
                yield return s[start..i];
                start = i + 1;
            }
        }

        if (start < s.Length)
        {
            yield return s[start..];
        }
    }

    /// <summary>Sum of the samples named <paramref name="name"/> whose labels include <paramref name="labels"/> ("k=v").</summary>
    public double Sum(string name, params string[] labels) =>
        Samples.Where(s => s.Name == name && Has(s, labels)).Sum(s => s.Value);

    public bool Has(string name) => Samples.Any(s => s.Name == name);

    /// <summary>
    /// The <paramref name="q"/> quantile of a histogram from its cumulative buckets (<c>NAME_bucket</c>), summed over the series
    /// matching <paramref name="labels"/>, as Prometheus' histogram_quantile does (linear within the bucket). Null without samples.
    /// </summary>
    public double? Quantile(string name, double q, params string[] labels)
    {
        var buckets = Samples.Where(s => s.Name == name + "_bucket" && Has(s, labels))
            .GroupBy(s => s.Labels["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(s.Labels["le"], CultureInfo.InvariantCulture))
            .Select(g => (Le: g.Key, Count: g.Sum(s => s.Value)))
            .OrderBy(b => b.Le)
            .ToList();
        if (buckets.Count == 0 || buckets[^1].Count <= 0)
        {
            return null;
        }

        var rank = q * buckets[^1].Count;
        var previousLe = 0.0;
        var previousCount = 0.0;
        foreach (var (le, count) in buckets)
        {
            if (count >= rank)
            {
                if (double.IsPositiveInfinity(le))
                {
                    return previousLe;
                }

                return count == previousCount ? le : previousLe + ((le - previousLe) * (rank - previousCount) / (count - previousCount));
            }

            previousLe = le;
            previousCount = count;
        }

        return previousLe;
    }

    private static bool Has(Sample s, string[] labels) =>
        labels.All(l =>
        {
            var eq = l.IndexOf('=', StringComparison.Ordinal);
            return s.Labels.TryGetValue(l[..eq], out var v) && v == l[(eq + 1)..];
        });

    internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
}
