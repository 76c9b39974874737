using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Streaming.Testing;

namespace Streaming.App.Tests;

/// <summary>Issue 6, Observe and Control: /metrics, health, and cameras added or removed while the pipeline runs.</summary>
public sealed class HostTests : IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _redis;

    public HostTests(RedisServerFixture redis) => _redis = redis;

    [Fact]
    public async Task Metrics_endpoint_exports_every_stage_as_prometheus_text_and_health_answers()
    {
        await using var pipeline = await RunningPipeline.StartAsync(port =>
            RunningPipeline.ConfigJson([RunningPipeline.FileCamera("cam-a")], _redis.Configuration, port));

        Assert.Equal(HttpStatusCode.OK, (await pipeline.Http.GetAsync(new Uri("healthz", UriKind.Relative))).StatusCode);
        // Ready once the model is loaded and the camera streams (not merely once the host has started).
        var readiness = string.Empty;
        Assert.True(await RunningPipeline.EventuallyAsync(async () =>
        {
            using var ready = await pipeline.Http.GetAsync(new Uri("readyz", UriKind.Relative));
            readiness = await ready.Content.ReadAsStringAsync();
            return ready.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30)), "not ready within 30 s: " + readiness);

        // Every stage publishes once frames have gone all the way through.
        string[] expected =
        [
            "stream_ingest_frames", "stream_detect_inference_duration", "stream_detect_batch_size", "stream_track_frames",
            "stream_pipeline_latency", "stream_pipeline_stage_latency",
        ];
        string text = string.Empty;
        var all = await RunningPipeline.EventuallyAsync(async () =>
        {
            text = await pipeline.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
            return expected.All(text.Contains);
        }, TimeSpan.FromSeconds(30));
        Assert.True(all, "missing: " + string.Join(", ", expected.Where(e => !text.Contains(e, StringComparison.Ordinal))));
        Assert.Contains("camera=\"cam-a\"", text, StringComparison.Ordinal);
        Assert.Contains("stage=\"inference\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_camera_can_be_added_and_removed_through_the_api_without_restarting_the_pipeline()
    {
        await using var pipeline = await RunningPipeline.StartAsync(port =>
            RunningPipeline.ConfigJson([RunningPipeline.FileCamera("cam-a")], _redis.Configuration, port, token: "t0ken"));

        var camera = RunningPipeline.FileCamera("cam-b");
        using (var unauthorized = await pipeline.Http.PostAsJsonAsync(new Uri("api/cameras", UriKind.Relative), camera))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        }

        pipeline.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "t0ken");
        using (var created = await pipeline.Http.PostAsJsonAsync(new Uri("api/cameras", UriKind.Relative), camera))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        Assert.True(await RunningPipeline.EventuallyAsync(async () => FramesOf(await pipeline.CamerasAsync(), "cam-b") > 0, TimeSpan.FromSeconds(20)),
            "the added camera delivered no frame");

        using (var bad = await pipeline.Http.PostAsJsonAsync(new Uri("api/cameras", UriKind.Relative), new { Id = "cam-c", Url = "ftp://127.0.0.1/x" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var error = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
            Assert.Contains("ftp", error, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error!);
        }

        using (var deleted = await pipeline.Http.DeleteAsync(new Uri("api/cameras/cam-b", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var ids = (await pipeline.CamerasAsync()).EnumerateArray().Select(c => c.GetProperty("id").GetString()).ToList();
        Assert.Equal(["cam-a"], ids);
        Assert.True(FramesOf(await pipeline.CamerasAsync(), "cam-a") > 0);
    }

    [Fact]
    public async Task Editing_the_config_file_adds_and_removes_cameras_while_running()
    {
        await using var pipeline = await RunningPipeline.StartAsync(port =>
            RunningPipeline.ConfigJson([RunningPipeline.FileCamera("cam-a")], _redis.Configuration, port));
        var port = pipeline.BaseUrl.Port;

        await File.WriteAllTextAsync(pipeline.ConfigPath, RunningPipeline.ConfigJson(
            [RunningPipeline.FileCamera("cam-a"), RunningPipeline.FileCamera("cam-b")], _redis.Configuration, port));
        Assert.True(await RunningPipeline.EventuallyAsync(async () => FramesOf(await pipeline.CamerasAsync(), "cam-b") > 0, TimeSpan.FromSeconds(20)),
            "a camera added to the file did not start");

        await File.WriteAllTextAsync(pipeline.ConfigPath, RunningPipeline.ConfigJson(
            [RunningPipeline.FileCamera("cam-b")], _redis.Configuration, port));
        Assert.True(await RunningPipeline.EventuallyAsync(async () =>
            (await pipeline.CamerasAsync()).EnumerateArray().Select(c => c.GetProperty("id").GetString()).SequenceEqual(["cam-b"]),
            TimeSpan.FromSeconds(20)), "a camera removed from the file is still running");
    }

    private static long FramesOf(JsonElement cameras, string id) =>
        cameras.EnumerateArray().Where(c => c.GetProperty("id").GetString() == id).Select(c => c.GetProperty("framesDecoded").GetInt64()).FirstOrDefault(-1);
}
