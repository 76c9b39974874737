using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit;

namespace Streaming.Testing;

/// <summary>
/// A real Prometheus server (Debian package <c>prometheus</c>) on a free loopback port, with a temporary config and data
/// directory and a 1 s scrape interval. Its one job (<see cref="Job"/>) finds its targets in a file (file_sd) that
/// <see cref="SetTargetsAsync"/> writes, so a test starts Prometheus once and points it at the process it starts later.
/// <see cref="QueryAsync"/> runs PromQL through the HTTP API (<c>/api/v1/query</c>). Fails with the fix when prometheus is
/// not installed.
/// </summary>
public sealed class PrometheusServerFixture : IAsyncLifetime
{
    public const string Job = "stream";

    private readonly ConcurrentQueue<string> _log = new();
    private Process? _process;
    private string _directory = string.Empty;
    private HttpClient? _http;

    public int Port { get; private set; }

    /// <summary>Scrape and evaluation interval.</summary>
    public TimeSpan ScrapeInterval { get; init; } = TimeSpan.FromSeconds(1);

    private HttpClient Http => _http ?? throw new InvalidOperationException("The Prometheus fixture is not initialized.");

    private string TargetsFile => Path.Combine(_directory, "targets.json");

    public async Task InitializeAsync()
    {
        const string binary = "/usr/bin/prometheus";
        if (!File.Exists(binary))
        {
            throw new InvalidOperationException($"{binary} not found: install Debian's prometheus package (scripts/setup.sh does).");
        }

        _directory = Path.Combine(Path.GetTempPath(), "stream-prometheus-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(_directory, "data"));
        await File.WriteAllTextAsync(TargetsFile, "[]").ConfigureAwait(false);
        var interval = ((int)ScrapeInterval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
        var config = Path.Combine(_directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: {interval}
              scrape_timeout: {interval}
              evaluation_interval: {interval}
            scrape_configs:
              - job_name: {Job}
                metrics_path: /metrics
                file_sd_configs:
                  - files: ["{TargetsFile}"]
                    refresh_interval: 1s
            """).ConfigureAwait(false);

        Port = FreePort.Next();
        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--config.file=" + config);
        psi.ArgumentList.Add("--storage.tsdb.path=" + Path.Combine(_directory, "data"));
        psi.ArgumentList.Add("--web.listen-address=127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--web.console.templates=" + Path.Combine(_directory, "consoles"));
        psi.ArgumentList.Add("--web.console.libraries=" + Path.Combine(_directory, "console_libraries"));
        psi.ArgumentList.Add("--log.level=warn");
        _process = Process.Start(psi) ?? throw new InvalidOperationException("prometheus did not start.");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(10) };

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"prometheus exited with {_process.ExitCode}:\n{Log}");
            }

            try
            {
                using var ready = await _http.GetAsync("/-/ready").ConfigureAwait(false);
                if (ready.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100).ConfigureAwait(false);
        }

        throw new TimeoutException($"prometheus on port {Port} was not ready within 30 s:\n{Log}");
    }

    /// <summary>What Prometheus logged (warnings and errors).</summary>
    public string Log => string.Join('\n', _log);

    /// <summary>Points the job at these <c>host:port</c> targets (Prometheus sees the file change within a second).</summary>
    public Task SetTargetsAsync(params string[] targets) =>
        File.WriteAllTextAsync(TargetsFile, JsonSerializer.Serialize(new[] { new { targets } }));

    /// <summary>Runs an instant PromQL query (now) through <c>/api/v1/query</c>.</summary>
    public async Task<PromQueryResult> QueryAsync(string query)
    {
        using var response = await Http.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(query)).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        var status = root.GetProperty("status").GetString() ?? string.Empty;
        var error = root.TryGetProperty("error", out var e) ? e.GetString() : null;
        var samples = new List<PromSample>();
        if (status == "success")
        {
            var data = root.GetProperty("data");
            var result = data.GetProperty("result");
            if (data.GetProperty("resultType").GetString() == "scalar")
            {
                samples.Add(new PromSample(new Dictionary<string, string>(), ParseValue(result[1])));
            }
            else
            {
                foreach (var series in result.EnumerateArray())
                {
                    var labels = series.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty);
                    samples.Add(new PromSample(labels, ParseValue(series.GetProperty("value")[1])));
                }
            }
        }

        return new PromQueryResult(status, error, samples);
    }

    /// <summary>How many times the job's targets have been scraped successfully in the last minute.</summary>
    public async Task<int> SuccessfulScrapesAsync()
    {
        var r = await QueryAsync($"sum(sum_over_time(up{{job=\"{Job}\"}}[1m]))").ConfigureAwait(false);
        return r.Samples.Count == 0 ? 0 : (int)r.Samples[0].Value;
    }

    private static double ParseValue(JsonElement value) => value.GetString() switch
    {
        "NaN" => double.NaN,
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        var s => double.Parse(s!, CultureInfo.InvariantCulture),
    };

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue(line);
        while (_log.Count > 200 && _log.TryDequeue(out _))
        {
        }
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            _process.Dispose();
        }

        try
        {
            if (_directory.Length > 0)
            {
                Directory.Delete(_directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>An answer of Prometheus' query API: status ("success" or "error"), the error, and the samples.</summary>
public sealed record PromQueryResult(string Status, string? Error, IReadOnlyList<PromSample> Samples);

/// <summary>One series of an instant vector (or a scalar, without labels) and its value.</summary>
public sealed record PromSample(IReadOnlyDictionary<string, string> Labels, double Value);
