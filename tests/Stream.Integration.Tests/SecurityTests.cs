using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Streaming.Hosting;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>Secrets never leave the process; the HTTP port is local by default; camera control can require a token.</summary>
[Collection(PipelineCollection.Name)]
public sealed class SecurityTests(ITestOutputHelper output)
{
    private const string RtspPassword = "S3cretPw";
    private const string KafkaPassword = "kafka-Pw-5e1d9c";
    private const string RedisPassword = "redis-Pw-a7b3f0";
    private const string ControlToken = "ctl-Tok-93c2e8";

    /// <summary>
    /// Plaintext: the SASL password is configured (from the environment) but the mock broker is reached without SASL, so events
    /// are delivered and a consumer reads them all. SaslPlaintext: librdkafka's mock cluster has no SASL, so authentication
    /// fails; the pipeline keeps running and the events wait in the spool, which is grepped instead.
    /// </summary>
    [Theory]
    [InlineData("Plaintext")]
    [InlineData("SaslPlaintext")]
    public async Task Rtsp_credentials_kafka_sasl_and_redis_passwords_never_appear_in_logs_metrics_the_camera_api_or_events(string securityProtocol)
    {
        await using var rtsp = await RtspServerFixture.StartNewAsync(1);
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        var redis = new RedisServerFixture { Password = RedisPassword };
        await redis.InitializeAsync();
        try
        {
            var closedPort = FreePort.Next();
            var topic = "sec-" + Guid.NewGuid().ToString("N")[..8];
            var config = StreamProcess.Config(
                StreamProcess.UrlCamera("cam-auth", rtsp.Url(1, "admin:" + RtspPassword), maxFps: 5),
                StreamProcess.UrlCamera("cam-down", $"rtsp://admin:{RtspPassword}@127.0.0.1:{closedPort}/cam1"));
            var environment = new Dictionary<string, string>
            {
                ["STREAM_Sink__Kafka__SaslPassword"] = KafkaPassword,
                ["STREAM_Sink__Redis__Password"] = RedisPassword,
                ["STREAM_Http__ControlToken"] = ControlToken,
            };
            await using var run = StreamProcess.Start(config,
            [
                "Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers,
                "Sink:Kafka:Topic=" + topic,
                "Sink:Kafka:SecurityProtocol=" + securityProtocol,
                "Sink:Kafka:SaslMechanism=PLAIN",
                "Sink:Kafka:SaslUsername=stream",
                "Sink:Kafka:FlushTimeoutSeconds=3",
                "Sink:Redis:Configuration=" + redis.Configuration,
                "Sink:Redis:EveryNthFrame=5",
                "Ingest:OpenTimeoutSeconds=3",
            ], environment, output);
            await run.WaitReadyAsync();
            await run.WaitUntilAsync(async () => (await run.CameraAsync("cam-auth")).FramesDecoded > 20
                && (await run.CameraAsync("cam-down")).LastError is not null, TimeSpan.FromSeconds(30), "frames from the camera with credentials and an error from the other");

            // The Redis password was used (frames stored in the password-protected server).
            await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_sink_redis_frames_stored_total") > 0, TimeSpan.FromSeconds(15), "frames stored in Redis");

            var cameras = await run.GetStringAsync("/api/cameras");
            var metrics = (await run.MetricsAsync()).Text;
            Assert.Contains("rtsp://***@127.0.0.1", cameras, StringComparison.Ordinal);
            await run.SignalAsync("TERM");
            Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));

            var texts = new Dictionary<string, string>
            {
                ["stdout"] = run.Stdout,
                ["stderr"] = run.Stderr,
                ["/api/cameras"] = cameras,
                ["/metrics"] = metrics,
            };
            foreach (var file in Directory.EnumerateFiles(run.Directory, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith("pipeline.json", StringComparison.Ordinal)))
            {
                texts["file " + Path.GetFileName(file)] = System.Text.Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file));
            }

            if (securityProtocol == "Plaintext")
            {
                var events = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, 1, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));
                Assert.Contains(events, e => e.Event.Kind == "camera_status" && e.Key == "cam-down" && e.Event.Reason is not null);
                texts["kafka events"] = string.Join('\n', events.Select(e => e.Key + " " + e.Raw));
                output.WriteLine($"{events.Count} events consumed; e.g. {events.First(e => e.Event.Reason is not null).Raw}");
            }
            else
            {
                Assert.Contains("Authentication", run.Stdout, StringComparison.OrdinalIgnoreCase);
                var finished = run.SinkFinished();
                Assert.True(finished.LeftInSpool > 0, "the events the broker would not take wait in the spool");
                Assert.Contains(texts.Keys, k => k.EndsWith(".spool", StringComparison.Ordinal));
            }

            foreach (var (what, text) in texts)
            {
                output.WriteLine($"{what}: {text.Length} chars checked");
                foreach (var secret in new[] { RtspPassword, KafkaPassword, RedisPassword, ControlToken })
                {
                    Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{what} contains the secret {secret}");
                }
            }

            // Those that must be redacted were there to redact (the test would pass trivially otherwise).
            Assert.Contains("rtsp://***@127.0.0.1", run.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_http_port_binds_to_localhost_by_default_and_camera_control_requires_the_token_when_one_is_set()
    {
        // The default, as `stream run --config config/demo.json` resolves it.
        var configuration = PipelineConfiguration.Load(new FileInfo(Path.Combine(RepoPaths.Root, "config", "demo.json")), [], out var errors);
        Assert.Empty(errors);
        await using (var app = PipelineHost.Build(configuration))
        {
            var urls = app.Services.GetRequiredService<IOptions<HttpOptions>>().Value.Urls.Split(';');
            Assert.All(urls, u => Assert.True(IPAddress.IsLoopback(IPAddress.Parse(new Uri(u).Host)), $"{u} is not a loopback address"));
        }

        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-1", maxFps: 5, width: 640)), [],
            new Dictionary<string, string> { ["STREAM_Http__ControlToken"] = ControlToken, ["STREAM_Http__CameraMediaRoot"] = RepoPaths.Samples }, output);
        await run.WaitReadyAsync();

        // Every socket the process listens on (HTTP, the in-process Kafka mock) is on the loopback interface.
        var listening = ListeningAddresses(run.Id);
        output.WriteLine("listening: " + string.Join(", ", listening));
        Assert.Contains(listening, a => a.Port == run.HttpPort);
        Assert.All(listening, a => Assert.True(IPAddress.IsLoopback(a.Address), $"{a} is not on loopback"));

        // Reading needs no token; adding and removing do.
        Assert.Equal(HttpStatusCode.OK, (await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/cameras"))).StatusCode);
        var camera = new { Id = "cam-2", Url = RepoPaths.Sample("dog_pan_960p.mp4"), Loop = true, Pacing = "Native", MaxFps = 2, Width = 320 };
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(run, camera, null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(run, camera, "wrong-token")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Delete(run, "cam-1", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Delete(run, "cam-1", ControlToken + "x")).StatusCode);
        Assert.Single(await run.CamerasAsync());

        Assert.Equal(HttpStatusCode.Created, (await Post(run, camera, ControlToken)).StatusCode);
        Assert.Contains(await run.CamerasAsync(), c => c.Id == "cam-2");
        Assert.Equal(HttpStatusCode.NoContent, (await Delete(run, "cam-2", ControlToken)).StatusCode);
        Assert.DoesNotContain(await run.CamerasAsync(), c => c.Id == "cam-2");

        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain(ControlToken, run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_camera_api_answers_over_long_fields_big_bodies_unknown_keys_and_local_files_with_400_and_one_line()
    {
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-1", maxFps: 5, width: 640)), [], output: output);
        await run.WaitReadyAsync();

        // A 400,000-character URL: refused at once (it took 15.6 s to accept, and every listing 5.4 s after).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var longUrl = await ErrorOf(await Post(run, new { Id = "long", Url = "rtsp://127.0.0.1/" + new string('a', 400_000) }, null));
        output.WriteLine($"400k-character URL answered in {clock.Elapsed.TotalMilliseconds:F0} ms: {longUrl[..Math.Min(200, longUrl.Length)]}");
        Assert.Contains("over the limit of 16384 bytes", longUrl, StringComparison.Ordinal);

        var url5k = await ErrorOf(await Post(run, new { Id = "long", Url = "rtsp://127.0.0.1/" + new string('a', 5000) }, null));
        Assert.Contains("Url is longer than 4096 characters", url5k, StringComparison.Ordinal);
        Assert.DoesNotContain("aaaaaaaa", url5k, StringComparison.Ordinal);

        var longId = await ErrorOf(await Post(run, new { Id = new string('i', 100), Url = "rtsp://127.0.0.1/cam" }, null));
        Assert.Contains("Id: camera id must be 1-64", longId, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/cameras/" + new string('i', 100)))).StatusCode);

        // The same checks as the config file: an unknown key, a value that does not convert (keys named as the body spells them).
        var unknown = await ErrorOf(await Post(run, new { Id = "cam-2", Url = "rtsp://127.0.0.1/cam", MaxFsp = 5 }, null));
        Assert.Contains("config key 'maxFsp' is unknown", unknown, StringComparison.Ordinal);
        var notANumber = await ErrorOf(await Post(run, new { Id = "cam-2", Url = "rtsp://127.0.0.1/cam", Width = "wide" }, null));
        Assert.Contains("width is 'wide': it must be a whole number between 0 and 8192", notANumber, StringComparison.Ordinal);

        // No Http:CameraMediaRoot: local files are refused whether they exist or not, so the API tells nobody which files exist.
        var existing = await ErrorOf(await Post(run, new { Id = "cam-3", Url = "file:///etc/passwd" }, null));
        var missing = await ErrorOf(await Post(run, new { Id = "cam-3", Url = "/nonexistent/clip.mp4" }, null));
        Assert.Contains("network URL", existing, StringComparison.Ordinal);
        Assert.Equal(existing, missing);
        Assert.DoesNotContain("not found", existing, StringComparison.Ordinal);

        // Listing stays quick and the pipeline runs on with its one camera.
        clock.Restart();
        var cameras = await run.CamerasAsync();
        output.WriteLine($"GET /api/cameras: {clock.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(["cam-1"], cameras.Select(c => c.Id));

        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("error").GetString()!;
            Assert.DoesNotContain('\n', error);
            return error;
        }
    }

    private static Task<HttpResponseMessage> Post(StreamProcess run, object camera, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/cameras") { Content = JsonContent.Create(camera) };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return run.SendAsync(request);
    }

    private static Task<HttpResponseMessage> Delete(StreamProcess run, string id, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, "/api/cameras/" + id);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return run.SendAsync(request);
    }

    /// <summary>The TCP addresses process <paramref name="pid"/> listens on: its socket inodes matched against /proc/net/tcp and tcp6.</summary>
    private static List<IPEndPoint> ListeningAddresses(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            var target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target["socket:[".Length..^1]);
            }
        }

        var result = new List<IPEndPoint>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f[3] != "0A" || !inodes.Contains(f[9]))
                {
                    continue; // not LISTEN, or not this process's
                }

                var (hex, port) = (f[1].Split(':')[0], int.Parse(f[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                var bytes = Convert.FromHexString(hex);

                // /proc prints each 32-bit word in host (little-endian) order.
                for (var i = 0; i < bytes.Length; i += 4)
                {
                    Array.Reverse(bytes, i, 4);
                }

                result.Add(new IPEndPoint(new IPAddress(bytes), port));
            }
        }

        return result;
    }
}
