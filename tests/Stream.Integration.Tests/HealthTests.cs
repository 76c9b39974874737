using System.Net;
using System.Text.Json;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>/healthz and /readyz tell the truth about Kafka and Redis, as seen by a real <c>stream run</c>; HTTP off opens no port.</summary>
[Collection(PipelineCollection.Name)]
public sealed class HealthTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Kafka_paused_makes_readyz_degraded_with_the_spool_named()
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-a", maxFps: 5)),
            ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers], output: output);
        await run.WaitReadyAsync();
        var (status, checks) = await WaitForAsync(run, c => c["kafka"].Status == "Healthy" && c["cameras"].Status == "Healthy" && c["model"].Status == "Healthy");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("Kafka reachable", checks["kafka"].Description, StringComparison.Ordinal);
        Assert.Equal(1, (await run.MetricsAsync()).Sum("stream_sink_kafka_reachable"));

        await kafka.PauseAsync();
        (status, checks) = await WaitForAsync(run, c => c["kafka"].Status != "Healthy");
        Assert.Equal(HttpStatusCode.OK, status); // degraded is still ready: the spool takes the events
        Assert.Equal("Degraded", checks["kafka"].Status);
        Assert.Matches("^Kafka unreachable .*events are kept in the spool", checks["kafka"].Description);
        Assert.Equal(0, (await run.MetricsAsync()).Sum("stream_sink_kafka_reachable"));
    }

    [Fact]
    public async Task Redis_killed_makes_readyz_degraded_with_frames_not_kept_while_Kafka_stays_healthy()
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        var redis = new RedisServerFixture();
        await redis.InitializeAsync();
        try
        {
            await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-a", maxFps: 5)),
                ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Redis:Configuration=" + redis.Configuration], output: output);
            await run.WaitReadyAsync();
            var (status, checks) = await WaitForAsync(run, c => c.Values.All(check => check.Status == "Healthy"));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.StartsWith("Redis reachable", checks["redis"].Description, StringComparison.Ordinal);

            await redis.KillAsync();
            // The frame cache may notice first ("answers the probe, but the frame cache skips"); the probe says unreachable within seconds.
            (status, checks) = await WaitForAsync(run, c => c["redis"].Description.StartsWith("Redis unreachable", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("Degraded", checks["redis"].Status);
            Assert.Matches("^Redis unreachable .*frames are not kept", checks["redis"].Description);
            Assert.Equal("Healthy", checks["kafka"].Status);
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task Readyz_is_503_naming_the_camera_when_no_configured_camera_streams()
    {
        var closed = FreePort.Next();
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.UrlCamera("gate", $"rtsp://127.0.0.1:{closed}/cam")),
            ["Ingest:OpenTimeoutSeconds=2"], output: output);
        var (status, checks) = await WaitForAsync(run, c => c.ContainsKey("cameras") && c["model"].Status == "Healthy" && c["cameras"].Description.Contains("gate", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("Unhealthy", checks["cameras"].Status);
        Assert.StartsWith("no camera streaming (gate ", checks["cameras"].Description, StringComparison.Ordinal);
        using var live = await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode); // alive all the same
    }

    [Fact]
    public async Task With_the_log_at_Warning_a_worker_with_no_camera_yet_is_ready_once_its_model_is_loaded()
    {
        // Readiness comes from the stages themselves, not from their log lines: at Warning, Detect's "warmed up" line is
        // filtered out, and a worker that has no camera yet (so no inference either) must still turn ready.
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        await using var run = StreamProcess.Start(StreamProcess.Config(),
            ["Logging:LogLevel:Default=Warning", "Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers], output: output);
        var (status, checks) = await WaitForAsync(run, c => c["model"].Status == "Healthy");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("model loaded and warmed up", checks["model"].Description);
        Assert.DoesNotContain("warmed up", run.Stdout, StringComparison.Ordinal); // the line readiness once listened for is not there
    }

    [Fact]
    public async Task With_Http_disabled_the_process_listens_on_no_port()
    {
        await using var kafka = new KafkaMockFixture(); // an outside broker: the in-process mock cluster would listen itself
        await kafka.InitializeAsync();
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-a", maxFps: 5)),
            ["Http:Enabled=false", "Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers], output: output, httpOverride: false);
        await run.WaitUntilAsync(() => Task.FromResult(run.Stdout.Contains("state=Streaming", StringComparison.Ordinal) && run.Stdout.Contains("fps_out=", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "the camera streaming");
        var listening = ListeningPorts(run.Id);
        Assert.True(listening.Count == 0, "listening on " + string.Join(", ", listening));
    }

    /// <summary>TCP ports a process listens on, from /proc: its socket inodes matched against /proc/net/tcp{,6} in state LISTEN (0A).</summary>
    private static List<int> ListeningPorts(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            var target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target[8..^1]);
            }
        }

        var ports = new List<int>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f[3] == "0A" && inodes.Contains(f[9]))
                {
                    ports.Add(Convert.ToInt32(f[1].Split(':')[1], 16));
                }
            }
        }

        return ports;
    }

    private sealed record Check(string Status, string Description);

    private static async Task<(HttpStatusCode Status, Dictionary<string, Check> Checks)> WaitForAsync(StreamProcess run, Func<Dictionary<string, Check>, bool> condition)
    {
        var result = (HttpStatusCode.ServiceUnavailable, new Dictionary<string, Check>());
        await run.WaitUntilAsync(async () =>
        {
            try
            {
                using var response = await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/readyz"));
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var checks = json.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(
                    c => c.GetProperty("name").GetString()!, c => new Check(c.GetProperty("status").GetString()!, c.GetProperty("description").GetString() ?? ""));
                result = (response.StatusCode, checks);
                return checks.Count > 0 && condition(checks);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "/readyz to show the expected state", pollMs: 500);
        return result;
    }
}
