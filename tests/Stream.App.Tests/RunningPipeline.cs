using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Streaming.Hosting;
using Streaming.Testing;

namespace Streaming.App.Tests;

/// <summary>The real pipeline host, in-process, from a config file written to a temp folder; HTTP on a free loopback port.</summary>
internal sealed class RunningPipeline : IAsyncDisposable
{
    private readonly string _dir;

    private RunningPipeline(string dir, string configPath, WebApplication app, int port)
    {
        _dir = dir;
        ConfigPath = configPath;
        App = app;
        BaseUrl = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/"));
        Http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(10) };
    }

    public WebApplication App { get; }

    public Uri BaseUrl { get; }

    public HttpClient Http { get; }

    public string ConfigPath { get; }

    /// <summary>The pool this host's frames take their pixels from; empty again once the host has stopped.</summary>
    public Core.FrameBufferPool Pool { get; private init; } = null!;

    /// <summary>A camera reading the small test clip like a live camera, looping.</summary>
    public static object FileCamera(string id, double maxFps = 5) =>
        new { Id = id, Url = RepoPaths.Sample("test_360p.mp4"), Loop = true, Pacing = "Native", MaxFps = maxFps };

    public static string ConfigJson(IEnumerable<object> cameras, string redis, int port, string? token = null) =>
        JsonSerializer.Serialize(new
        {
            Cameras = cameras,
            Detect = new { ModelPath = RepoPaths.Model("yolox_nano.onnx"), MaxBatch = 2, IntraOpThreads = 1 },
            Sink = new { Kafka = new { BootstrapServers = "embedded" }, Redis = new { Configuration = redis }, Spool = new { Directory = "spool" } },
            Http = new { Urls = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"), ControlToken = token, CameraMediaRoot = RepoPaths.Samples },
            Host = new { ShutdownTimeoutSeconds = 20 },
            Status = new { Mode = "off" },
        });

    public static async Task<RunningPipeline> StartAsync(Func<int, string> configJson)
    {
        var dir = Directory.CreateTempSubdirectory("stream-host-").FullName;
        var port = FreePort.Next();
        var path = Path.Combine(dir, "pipeline.json");
        await File.WriteAllTextAsync(path, configJson(port));
        var cwd = Directory.GetCurrentDirectory();
        var configuration = PipelineConfiguration.Load(new FileInfo(path), [$"Sink:Spool:Directory={Path.Combine(dir, "spool")}", $"Clips:Directory={Path.Combine(dir, "clips")}"], out var errors);
        Assert.Empty(errors);
        var pool = new Core.FrameBufferPool();
        var app = PipelineHost.Build(configuration, services => services.AddSingleton(pool));
        Assert.Empty(PipelineHost.ValidateAll(app.Services));
        await app.StartAsync();
        return new RunningPipeline(dir, path, app, port) { Pool = pool };
    }

    /// <summary>Polls until <paramref name="condition"/> holds or the timeout passes; returns whether it held.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return await condition();
    }

    public async Task<JsonElement> CamerasAsync()
    {
        using var doc = JsonDocument.Parse(await Http.GetStringAsync(new Uri("api/cameras", UriKind.Relative)));
        return doc.RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Assert.True(Pool.OutstandingCount == 0, $"{Pool.OutstandingCount} frame buffer(s) still rented after the host stopped: a frame was not disposed");
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
