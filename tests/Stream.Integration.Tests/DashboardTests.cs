using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Issue 13, dashboards with a real Prometheus: Debian's prometheus scrapes a running <c>stream run</c> (two file cameras,
/// the mock Kafka, a real Redis), and every panel's PromQL expression of the provisioned Grafana dashboard
/// (deploy/grafana/dashboards/stream.json) returns data from its HTTP API.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed partial class DashboardTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>What Grafana's interval variables ($__rate_interval, $__interval, $__range) stand for here: ten 1 s scrapes.</summary>
    private const string Window = "10s";

    private static readonly string[] CameraIds = ["cam-a", "cam-b"];

    private readonly PrometheusServerFixture _prometheus = new();
    private readonly KafkaMockFixture _kafka = new();
    private readonly RedisServerFixture _redis = new();

    private static string DashboardPath => Path.Combine(RepoPaths.Root, "deploy", "grafana", "dashboards", "stream.json");

    public Task InitializeAsync() => Task.WhenAll(_prometheus.InitializeAsync(), _kafka.InitializeAsync(), _redis.InitializeAsync());

    public async Task DisposeAsync()
    {
        await _prometheus.DisposeAsync();
        await _kafka.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Every_panel_expression_of_the_dashboard_returns_data_from_a_real_Prometheus_scraping_stream_run()
    {
        var targets = PanelTargets();
        Assert.True(targets.Count >= 20, $"the dashboard has only {targets.Count} panel expressions");

        await using var run = StreamProcess.Start(
            StreamProcess.Config(StreamProcess.FileCamera(CameraIds[0], maxFps: 5), StreamProcess.FileCamera(CameraIds[1], maxFps: 5)),
            ["Sink:Kafka:BootstrapServers=" + _kafka.BootstrapServers, "Sink:Redis:Configuration=" + _redis.Configuration], output: output);
        await run.WaitReadyAsync();
        await _prometheus.SetTargetsAsync($"127.0.0.1:{run.HttpPort}");

        // A few scrapes with frames flowing, events delivered by Kafka and frames stored in Redis.
        var clock = Stopwatch.StartNew();
        await run.WaitUntilAsync(async () =>
                await _prometheus.SuccessfulScrapesAsync() >= 8
                && await Positive("sum(stream_sink_events_delivered_total)")
                && await Positive("sum(stream_sink_redis_frames_stored_total)")
                && await Positive("count(stream_pipeline_latency_milliseconds_count) >= 2"),
            TimeSpan.FromSeconds(40), "8 scrapes by Prometheus with events delivered and frames stored", pollMs: 500);
        output.WriteLine($"Prometheus had its scrapes after {clock.Elapsed.TotalSeconds:0.0} s");

        var failures = new List<string>();
        foreach (var (panel, refId, expr) in targets)
        {
            var query = Substitute(expr);
            var result = await _prometheus.QueryAsync(query);
            var what = $"panel '{panel}' target {refId}: {query}";
            if (result.Status != "success")
            {
                failures.Add($"{what} -> {result.Status}: {result.Error}");
            }
            else if (result.Samples.Count == 0)
            {
                failures.Add($"{what} -> no data");
            }
            else if (query.Contains("by (camera", StringComparison.Ordinal)
                && !CameraIds.All(id => result.Samples.Any(s => s.Labels.GetValueOrDefault("camera") == id)))
            {
                failures.Add($"{what} -> cameras {string.Join(", ", result.Samples.Select(s => s.Labels.GetValueOrDefault("camera")))}, not both {string.Join(" and ", CameraIds)}");
            }
            else
            {
                output.WriteLine($"{what} -> {string.Join("; ", result.Samples.Select(Describe))}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {targets.Count} dashboard expressions failed:\n{string.Join('\n', failures)}\n{_prometheus.Log}");
    }

    [Fact]
    public async Task The_compose_Prometheus_config_is_valid_and_the_dashboard_uses_the_provisioned_data_source()
    {
        var config = Path.Combine(RepoPaths.Root, "deploy", "prometheus", "prometheus.yml");
        var info = new ProcessStartInfo("promtool", ["check", "config", config]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var promtool = Process.Start(info)!;
        var said = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        Assert.True(promtool.ExitCode == 0, said);
        Assert.Contains("stream:8080", await File.ReadAllTextAsync(config), StringComparison.Ordinal);

        var provisioned = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"));
        var uid = DataSourceUid().Match(provisioned).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(uid), "the provisioned data source has no uid");
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(DashboardPath));
        var used = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("datasource", out _))
            .Select(p => p.GetProperty("datasource").GetProperty("uid").GetString())
            .Distinct()
            .ToList();
        Assert.Equal([uid], used);
    }

    private async Task<bool> Positive(string query)
    {
        var r = await _prometheus.QueryAsync(query);
        return r.Samples.Count > 0 && r.Samples[0].Value > 0;
    }

    /// <summary>Every target of every panel (rows' nested panels too): panel title, refId, PromQL as written in the JSON.</summary>
    private static List<(string Panel, string RefId, string Expr)> PanelTargets()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        var list = new List<(string, string, string)>();
        void Visit(JsonElement panels)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                var title = panel.GetProperty("title").GetString() ?? "(untitled)";
                if (panel.TryGetProperty("targets", out var targets))
                {
                    foreach (var target in targets.EnumerateArray())
                    {
                        var expr = target.TryGetProperty("expr", out var e) ? e.GetString() : null;
                        Assert.False(string.IsNullOrWhiteSpace(expr), $"panel '{title}' has a target without a PromQL expression");
                        list.Add((title, target.GetProperty("refId").GetString() ?? "?", expr!));
                    }
                }

                if (panel.TryGetProperty("panels", out var nested))
                {
                    Visit(nested);
                }
            }
        }

        Visit(dashboard.RootElement.GetProperty("panels"));
        return list;
    }

    /// <summary>Grafana's variables as a dashboard with every camera selected would send them.</summary>
    private static string Substitute(string expr)
    {
        var query = GrafanaInterval().Replace(expr, Window);
        query = CameraVariable().Replace(query, ".*");
        Assert.False(query.Contains('$', StringComparison.Ordinal), $"'{expr}' uses a dashboard variable the test does not know");
        return query;
    }

    private static string Describe(PromSample s) =>
        string.Join(",", s.Labels.Where(l => l.Key != "__name__").Select(l => l.Value)) + "=" + s.Value.ToString("0.###", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"\$\{?__(rate_interval|interval|range)\}?")]
    private static partial Regex GrafanaInterval();

    [GeneratedRegex(@"\$\{camera(:\w+)?\}|\$camera\b")]
    private static partial Regex CameraVariable();

    [GeneratedRegex(@"uid:\s*(\S+)")]
    private static partial Regex DataSourceUid();
}
