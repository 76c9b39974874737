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
        Assert.Empty(CameraListOptions.Validator.Problems(List(cameras)));
        Assert.Empty(IngestOptions.Validator.Problems(new IngestOptions()));
    }

    [Fact]
    public void Duplicate_camera_ids_give_one_line_naming_both_entries()
    {
        var errors = CameraListOptions.Validator.Problems(List(
            new CameraOptions { Id = "cam1", Url = "rtsp://127.0.0.1/a" },
            new CameraOptions { Id = "cam2", Url = "rtsp://127.0.0.1/b" },
            new CameraOptions { Id = "cam1", Url = "rtsp://127.0.0.1/c" }));
        var error = Assert.Single(errors);
        Assert.Equal("Cameras[2]: duplicate camera id 'cam1' (also Cameras[0]); give every camera a unique Id.", error);
    }

    [Fact]
    public void An_unknown_url_scheme_is_named_with_the_schemes_that_work()
    {
        var error = Assert.Single(CameraListOptions.Validator.Problems(List(new CameraOptions { Id = "x", Url = "rtmp://127.0.0.1/live" })));
        Assert.Equal("Cameras[0] camera 'x': unknown URL scheme 'rtmp' in rtmp://127.0.0.1/live; use rtsp://, rtsps://, http://, https://, a file path or /dev/videoN.", error);
    }

    [Fact]
    public void A_missing_file_is_named_with_the_fix()
    {
        var error = Assert.Single(CameraListOptions.Validator.Problems(List(new CameraOptions { Id = "f", Url = "/nonexistent/clip.mp4" })));
        Assert.StartsWith("Cameras[0] camera 'f': file '/nonexistent/clip.mp4' not found; fix the path", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void Bad_numbers_and_ids_give_one_line_each()
    {
        var errors = CameraListOptions.Validator.Problems(List(
            new CameraOptions { Id = "bad id!", Url = "rtsp://127.0.0.1/a", MaxFps = -1, Width = -5 },
            new CameraOptions { Id = "h", Url = "rtsp://127.0.0.1/b", Height = 480 }));
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.Contains("Cameras[0]", StringComparison.Ordinal) && e.Contains("Id: camera id must be", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxFps", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Width", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Cameras[1] camera 'h': Height is set without Width", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));

        var ingest = IngestOptions.Validator.Problems(new IngestOptions { BackoffInitialSeconds = 0, BackoffMaxSeconds = -1, BackoffJitter = 2, RtspTransport = "sctp" });
        Assert.Contains("Ingest:BackoffInitialSeconds is out of range: it must be between 0 exclusive and 3600", ingest);
        Assert.Contains(ingest, e => e.StartsWith("Ingest:BackoffJitter is out of range", StringComparison.Ordinal));
        Assert.Contains("Ingest:RtspTransport must be \"auto\", \"tcp\" or \"udp\"", ingest);
        Assert.Contains(ingest, e => e.StartsWith("Ingest:BackoffMaxSeconds", StringComparison.Ordinal));
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
        await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        var failures = StartupFailures(host);
        Assert.Equal(3, failures.Count);
        var text = string.Join("\n", failures);
        Assert.Contains("duplicate camera id 'a'", text, StringComparison.Ordinal);
        Assert.Contains("file '/missing/file.mp4' not found", text, StringComparison.Ordinal);
        Assert.Contains("Ingest:WatchdogSeconds is out of range", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_keys_values_that_do_not_convert_and_values_out_of_range_are_all_listed_at_once_naming_the_key()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cameras:0:Id"] = "a",
            ["Cameras:0:Url"] = "rtsp://127.0.0.1:1/x",
            ["Cameras:0:MaxFsp"] = "5",
            ["Cameras:0:Width"] = "99999999999",
            ["Ingest:WatchdogSecs"] = "3",
            ["Ingest:DecoderThreads"] = "many",
            ["Ingest:BackoffJitter"] = "7",
        });
        builder.Services.AddPipelineChannels(builder.Configuration);
        builder.Services.AddIngest(builder.Configuration);
        using var host = builder.Build();

        var failures = StartupFailures(host);

        Assert.Equal(5, failures.Count);
        Assert.Contains("config key 'Cameras:0:MaxFsp' is unknown: check its spelling against config/pipeline.json", failures);
        Assert.Contains("config key 'Ingest:WatchdogSecs' is unknown: check its spelling against config/pipeline.json", failures);
        Assert.Contains("Cameras:0:Width is '99999999999': it must be a whole number between 0 and 8192", failures);
        Assert.Contains("Ingest:DecoderThreads is 'many': it must be a whole number between 0 and 64", failures);
        Assert.Contains("Ingest:BackoffJitter is out of range: it must be between 0 and 1 exclusive", failures);
    }

    [Fact]
    public void Code_that_builds_a_camera_itself_gets_the_same_checks_with_the_camera_named()
    {
        var problems = CameraChecks.Problems(new CameraOptions { Id = "x", Url = "rtsp://127.0.0.1/" + new string('a', CameraOptions.MaxUrlLength), MaxFps = double.NaN });
        Assert.Equal(2, problems.Count);
        Assert.Contains("camera 'x': Url is longer than 4096 characters: shorten it (no camera URL needs more)", problems);
        Assert.Contains("camera 'x': MaxFps is out of range: it must be between 0 and 1000", problems);
    }

    /// <summary>The start-up validation of every options type, as <c>stream run</c> runs it before starting: every failure.</summary>
    private static List<string> StartupFailures(IHost host)
    {
        var ex = Assert.ThrowsAny<Exception>(() => host.Services.GetRequiredService<IStartupValidator>().Validate());
        return [.. (ex is AggregateException all ? all.InnerExceptions : [ex]).OfType<OptionsValidationException>().SelectMany(e => e.Failures)];
    }

    internal static CameraListOptions List(params CameraOptions[] cameras)
    {
        var list = new CameraListOptions();
        list.Cameras.AddRange(cameras);
        return list;
    }
}
