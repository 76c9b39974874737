using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Testing;

namespace Streaming.Ingest.Tests;

public class ConfigValidationTests
{
    [Fact]
    public void A_valid_configuration_has_no_errors()
    {
        var cameras = new[]
        {
            new CameraOptions { Id = "door", Url = "rtsp://u:p@127.0.0.1:8554/cam1", MaxFps = 10, Width = 640 },
            new CameraOptions { Id = "file", Url = RepoPaths.Sample("test_360p.mp4"), Loop = true },
            new CameraOptions { Id = "usb", Url = "/dev/video0" },
            new CameraOptions { Id = "web", Url = "https://127.0.0.1/mjpeg" },
        };
        Assert.Empty(CameraConfigValidator.Validate(cameras));
        Assert.Empty(CameraConfigValidator.Validate(new IngestOptions()));
    }

    [Fact]
    public void Duplicate_camera_ids_give_one_line_naming_both_entries()
    {
        var errors = CameraConfigValidator.Validate(
        [
            new CameraOptions { Id = "cam1", Url = "rtsp://127.0.0.1/a" },
            new CameraOptions { Id = "cam2", Url = "rtsp://127.0.0.1/b" },
            new CameraOptions { Id = "cam1", Url = "rtsp://127.0.0.1/c" },
        ]);
        var error = Assert.Single(errors);
        Assert.Equal("Cameras[2]: duplicate camera id 'cam1' (also Cameras[0]); give every camera a unique Id.", error);
    }

    [Fact]
    public void An_unknown_url_scheme_is_named_with_the_schemes_that_work()
    {
        var error = Assert.Single(CameraConfigValidator.Validate([new CameraOptions { Id = "x", Url = "rtmp://127.0.0.1/live" }]));
        Assert.Equal("Cameras[0] camera 'x': unknown URL scheme 'rtmp' in rtmp://127.0.0.1/live; use rtsp://, rtsps://, http://, https://, a file path or /dev/videoN.", error);
    }

    [Fact]
    public void A_missing_file_is_named_with_the_fix()
    {
        var error = Assert.Single(CameraConfigValidator.Validate([new CameraOptions { Id = "f", Url = "/nonexistent/clip.mp4" }]));
        Assert.StartsWith("Cameras[0] camera 'f': file '/nonexistent/clip.mp4' not found; fix the path", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void Bad_numbers_and_ids_give_one_line_each()
    {
        var errors = CameraConfigValidator.Validate(
        [
            new CameraOptions { Id = "bad id!", Url = "rtsp://127.0.0.1/a", MaxFps = -1, Width = -5 },
            new CameraOptions { Id = "h", Url = "rtsp://127.0.0.1/b", Height = 480 },
        ]);
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.Contains("Cameras[0]", StringComparison.Ordinal) && e.Contains("Id: camera id must be", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxFps", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Width", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Cameras[1] camera 'h': Height is set without Width", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));

        var ingest = CameraConfigValidator.Validate(new IngestOptions { BackoffInitialSeconds = 0, BackoffMaxSeconds = -1, BackoffJitter = 2, RtspTransport = "sctp" });
        Assert.Contains("Ingest:BackoffInitialSeconds is 0; it must be a positive number of seconds.", ingest);
        Assert.Contains(ingest, e => e.StartsWith("Ingest:BackoffJitter is 2", StringComparison.Ordinal));
        Assert.Contains(ingest, e => e.StartsWith("Ingest:RtspTransport is 'sctp'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_host_refuses_to_start_with_a_bad_camera_config_and_lists_every_problem()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cameras:0:Id"] = "a",
            ["Cameras:0:Url"] = "rtsp://127.0.0.1:1/x",
            ["Cameras:1:Id"] = "a",
            ["Cameras:1:Url"] = "/missing/file.mp4",
            ["Ingest:WatchdogSeconds"] = "0",
        });
        builder.Services.AddPipelineChannels(builder.Configuration);
        builder.Services.AddIngest(builder.Configuration);
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(3, ex.Failures.Count());
        var text = string.Join("\n", ex.Failures);
        Assert.Contains("duplicate camera id 'a'", text, StringComparison.Ordinal);
        Assert.Contains("file '/missing/file.mp4' not found", text, StringComparison.Ordinal);
        Assert.Contains("Ingest:WatchdogSeconds is 0", text, StringComparison.Ordinal);
    }
}
