using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Bad input to the real <c>stream run</c> process: each gives ONE line on stderr that names the thing and the fix, no
/// stack trace, and a non-zero exit where the process cannot run; a camera that fails at run time does not stop the process.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class BadInputTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stream-it-bad-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_malformed_config_file_is_one_line_naming_the_file_and_line_and_a_non_zero_exit()
    {
        var (code, stderr, _) = await StreamProcess.RunToExitAsync("{\n  \"Cameras\": [\n    { \"Id\": \"a\", \"Url\": }\n  ]\n}\n", output: output);
        var line = OneLine(stderr, code);
        Assert.Contains("pipeline.json", line, StringComparison.Ordinal);
        Assert.Contains("not valid JSON (line 3", line, StringComparison.Ordinal);
        Assert.Contains("fix the syntax", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_config_key_is_one_line_naming_the_key_and_a_non_zero_exit()
    {
        var config = StreamProcess.Config(StreamProcess.FileCamera("cam-1"));
        ((Dictionary<string, object?>)config["Detect"]!)["MaxBatchSize"] = 8; // the key is MaxBatch
        var (code, stderr, _) = await StreamProcess.RunToExitAsync(config, output: output);
        var line = OneLine(stderr, code);
        Assert.Contains("'Detect:MaxBatchSize' is unknown", line, StringComparison.Ordinal);
        Assert.Contains("config/pipeline.json", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_that_names_no_Kafka_broker_does_not_start_and_one_line_names_both_choices()
    {
        // A production config that forgets its broker must not quietly run on an in-process mock that loses every event.
        var (code, stderr, _) = await StreamProcess.RunToExitAsync(StreamProcess.Config(StreamProcess.FileCamera("cam-1")), ["Sink:Kafka:BootstrapServers="], output: output);
        var line = OneLine(stderr, code);
        Assert.Contains("Sink:Kafka:BootstrapServers is empty: name your Kafka brokers (host:port,...), or set it to \"embedded\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_with_an_unknown_key_and_other_errors_lists_all_of_them_at_once_each_naming_its_key()
    {
        var config = StreamProcess.Config(StreamProcess.FileCamera("cam-1"));
        var detect = (Dictionary<string, object?>)config["Detect"]!;
        detect["MaxBatchSize"] = 8;            // unknown: the key is MaxBatch
        detect["MaxPerCamera"] = 0;            // out of range
        detect["StalenessMs"] = 99999999999;   // does not fit the key's type
        config["Track"] = new Dictionary<string, object?> { ["LowThreshold"] = 0.9 }; // above HighThreshold
        var (code, stderr, _) = await StreamProcess.RunToExitAsync(config, output: output);
        output.WriteLine($"exit {code}; stderr:\n{string.Join('\n', stderr)}");

        Assert.NotEqual(0, code);
        AssertNoStackTrace(stderr);
        Assert.Equal(4, stderr.Count);
        Assert.All(stderr, l => Assert.StartsWith("stream: config error: ", l, StringComparison.Ordinal));
        Assert.Single(stderr, l => l.Contains("'Detect:MaxBatchSize' is unknown", StringComparison.Ordinal));
        Assert.Single(stderr, l => l.Contains("Detect:MaxPerCamera is out of range: it must be between 1 and 256", StringComparison.Ordinal));
        Assert.Single(stderr, l => l.Contains("Detect:StalenessMs is '99999999999': it must be a whole number between 0 and 3600000", StringComparison.Ordinal));
        Assert.Single(stderr, l => l.Contains("Track:LowThreshold (0.9) must not exceed Track:HighThreshold (0.5)", StringComparison.Ordinal));
        Assert.DoesNotContain(stderr, l => l.Contains("Failed to convert", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_empty_camera_list_warns_once_that_there_is_nothing_to_do_and_how_to_add_cameras()
    {
        await using var run = StreamProcess.Start(StreamProcess.Config(), output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(() => Task.FromResult(run.Stdout.Contains("no camera to read", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), "the warning");
        await Task.Delay(TimeSpan.FromSeconds(2));
        var warning = Assert.Single(run.StdoutLines, l => l.Contains("no camera to read", StringComparison.Ordinal));
        Assert.Contains("warn", warning, StringComparison.Ordinal);
        Assert.Contains("POST /api/cameras", warning, StringComparison.Ordinal);
        Assert.Empty(await run.CamerasAsync());

        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_model_file_that_is_not_onnx_is_one_line_naming_the_file_and_the_key_and_a_non_zero_exit()
    {
        var model = Path.Combine(_dir, "not-a-model.onnx");
        await File.WriteAllTextAsync(model, "<html>404 Not Found</html>\n");
        var (code, stderr, _) = await StreamProcess.RunToExitAsync(StreamProcess.Config(StreamProcess.FileCamera("cam-1")),
            ["Detect:ModelPath=" + model], output);
        var line = OneLine(stderr, code);
        Assert.Contains(model, line, StringComparison.Ordinal);
        Assert.Contains("not a usable ONNX model", line, StringComparison.Ordinal);
        Assert.Contains("Detect:ModelPath", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_with_an_unknown_head_is_one_line_naming_its_output_shape_and_Detect_Head_and_a_non_zero_exit()
    {
        var model = Path.Combine(_dir, "odd-head.onnx");
        await File.WriteAllBytesAsync(model, TinyOnnx.Model(64, 64, [1, 7, 21]));
        var (code, stderr, _) = await StreamProcess.RunToExitAsync(StreamProcess.Config(StreamProcess.FileCamera("cam-1")),
            ["Detect:ModelPath=" + model], output);
        var line = OneLine(stderr, code);
        Assert.Contains(model, line, StringComparison.Ordinal);
        Assert.Contains("[1, 7, 21]", line, StringComparison.Ordinal);
        Assert.Contains("matches no known head", line, StringComparison.Ordinal);
        Assert.Contains("Detect:Head", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_model_and_a_missing_camera_file_are_one_line_each_and_a_non_zero_exit()
    {
        var missingClip = Path.Combine(_dir, "nowhere.mp4");
        var (code, stderr, _) = await StreamProcess.RunToExitAsync(StreamProcess.Config(StreamProcess.UrlCamera("cam-1", missingClip)),
            ["Detect:ModelPath=" + Path.Combine(_dir, "nowhere.onnx")], output);
        Assert.NotEqual(0, code);
        AssertNoStackTrace(stderr);
        Assert.Single(stderr, l => l.Contains("nowhere.onnx", StringComparison.Ordinal));
        Assert.Single(stderr, l => l.Contains("nowhere.mp4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_corrupt_video_file_and_rtsp_urls_with_a_bad_host_fail_their_cameras_with_one_clear_error_while_the_process_runs_on()
    {
        var corrupt = Path.Combine(_dir, "corrupt.mp4");
        var junk = new byte[256 * 1024];
        new Random(7).NextBytes(junk);
        await File.WriteAllBytesAsync(corrupt, junk);
        var closedPort = FreePort.Next();
        var config = StreamProcess.Config(
            StreamProcess.UrlCamera("corrupt", corrupt),
            StreamProcess.UrlCamera("no-host", "rtsp://nonexistent.invalid:554/cam1"),
            StreamProcess.UrlCamera("closed-port", $"rtsp://127.0.0.1:{closedPort}/cam1"),
            StreamProcess.FileCamera("good", maxFps: 5, width: 640));
        await using var run = StreamProcess.Start(config, ["Ingest:OpenTimeoutSeconds=3", "Ingest:SocketTimeoutSeconds=3"], output: output);
        await run.WaitReadyAsync();

        CameraView? corruptView = null;
        CameraView? noHost = null;
        CameraView? closed = null;
        await run.WaitUntilAsync(async () =>
        {
            var cameras = await run.CamerasAsync();
            corruptView = cameras.Single(c => c.Id == "corrupt");
            noHost = cameras.Single(c => c.Id == "no-host");
            closed = cameras.Single(c => c.Id == "closed-port");
            return corruptView.State is "Failed" or "Backoff" && corruptView.LastError is not null
                && noHost.LastError is not null && noHost.State is "Backoff" or "Failed"
                && closed.LastError is not null && closed.State is "Backoff" or "Failed";
        }, TimeSpan.FromSeconds(30), "the three bad cameras to fail with an error");

        foreach (var c in new[] { corruptView!, noHost!, closed! })
        {
            output.WriteLine($"{c.Id}: {c.State}: {c.LastError}");
            Assert.DoesNotContain('\n', c.LastError!);
            Assert.DoesNotContain("   at ", c.LastError!, StringComparison.Ordinal);
        }

        Assert.Contains("corrupt.mp4", corruptView!.LastError!, StringComparison.Ordinal);
        Assert.Contains("nonexistent.invalid", noHost!.LastError!, StringComparison.Ordinal);
        Assert.Contains(closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), closed!.LastError!, StringComparison.Ordinal);

        // The process runs on and the good camera streams through the whole pipeline.
        var before = (await run.MetricsAsync()).Sum("stream_detect_frames_total", "camera=good");
        await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_detect_frames_total", "camera=good") >= before + 5,
            TimeSpan.FromSeconds(15), "the good camera to keep going");
        Assert.Equal("Streaming", (await run.CameraAsync("good")).State);
        Assert.False(run.HasExited);
        Assert.DoesNotContain("   at ", run.Stdout, StringComparison.Ordinal);

        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        // Nothing on stderr: the cameras' problems are in their state and the log, and the native libraries stay quiet.
        Assert.Empty(run.StderrLines);
    }

    private string OneLine(IReadOnlyList<string> stderr, int code)
    {
        output.WriteLine($"exit {code}; stderr:\n{string.Join('\n', stderr)}");
        Assert.NotEqual(0, code);
        AssertNoStackTrace(stderr);
        var line = Assert.Single(stderr);
        Assert.StartsWith("stream: ", line, StringComparison.Ordinal);
        return line;
    }

    private static void AssertNoStackTrace(IReadOnlyList<string> stderr) =>
        Assert.DoesNotContain(stderr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception:", StringComparison.Ordinal));
}
