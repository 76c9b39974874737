using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Testing;

namespace Streaming.Ingest.Tests;

public class IngestServiceTests
{
    [Fact]
    public async Task The_hosted_service_starts_the_enabled_cameras_lists_the_disabled_ones_and_on_stop_completes_every_feed_the_bus_and_the_status_channel()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cameras:0:Id"] = "file",
            ["Cameras:0:Url"] = RepoPaths.Sample("test_360p.mp4"),
            ["Cameras:0:Pacing"] = "Native",
            ["Cameras:0:Loop"] = "true",
            ["Cameras:1:Id"] = "off",
            ["Cameras:1:Url"] = RepoPaths.Sample("test_360p.mp4"),
            ["Cameras:1:Enabled"] = "false",
            ["Ingest:FileDecoder"] = "Ffmpeg",
        });
        var pool = new FrameBufferPool();
        builder.Services.AddSingleton(pool);
        builder.Services.AddPipelineChannels(builder.Configuration);
        builder.Services.AddIngest(builder.Configuration);
        using var host = builder.Build();
        var bus = host.Services.GetRequiredService<FrameBus>();
        var registry = host.Services.GetRequiredService<ICameraRegistry>();
        var statusReader = host.Services.GetRequiredService<ChannelReader<CameraStatusChange>>();
        await host.StartAsync();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (registry.Get("file")?.State != CameraState.Streaming && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(CameraState.Streaming, registry.Get("file")?.State);
        // A disabled camera is listed, stopped, so that enabling it (API or config) starts it; it has no feed.
        Assert.Equal((CameraState.Stopped, false), (registry.Get("off")!.State, registry.Get("off")!.Enabled));
        var feed = Assert.Single(bus.Feeds);
        using (var first = await feed.Reader.ReadAsync())
        {
            Assert.Equal((640, 360), (first.Width, first.Height));
        }

        await host.StopAsync();

        // Downstream sees the end: the feed completes once drained, the bus completes, the status channel completes.
        while (feed.Reader.TryRead(out var f))
        {
            f.Dispose();
        }

        await feed.Reader.Completion.WaitAsync(TimeSpan.FromSeconds(2));
        bus.Remove(feed);
        Assert.True(bus.IsCompleted);
        Assert.Equal(0, pool.OutstandingCount); // every frame the cameras decoded was disposed
        var states = new List<CameraState>();
        await foreach (var change in statusReader.ReadAllAsync().WithCancellation(new CancellationTokenSource(2000).Token))
        {
            states.Add(change.State);
        }

        Assert.Equal(new[] { CameraState.Connecting, CameraState.Streaming, CameraState.Stopped }, states);
        Assert.Equal(CameraState.Stopped, registry.Get("file")?.State);
    }
}
