using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Issue 16, "Smaller things seen on the way", each against the real <c>stream run</c> process. (Huge StalenessMs and an
/// empty Cameras list are in <see cref="BadInputTests"/>.)
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class SmallerThingsTests(ITestOutputHelper output)
{
    private const string RightPassword = "redis-right-Pw-3c1e";
    private const string WrongPassword = "redis-wrong-Pw-9d2a";

    [Fact]
    public async Task Redis_with_a_wrong_password_logs_one_warning_naming_the_authentication_failure_and_the_fix_counts_the_skipped_frames_as_auth_failed_and_readyz_says_authentication_failed()
    {
        await using var redis = new RedisServerFixture { Password = RightPassword };
        await redis.InitializeAsync();
        await using var run = StreamProcess.Start(
            StreamProcess.Config(StreamProcess.FileCamera("cam-1", maxFps: 5, width: 320)),
            ["Sink:Redis:Configuration=" + redis.Configuration, "Sink:Redis:EveryNthFrame=1"],
            environment: new Dictionary<string, string> { ["STREAM_Sink__Redis__Password"] = WrongPassword },
            output: output);
        await run.WaitReadyAsync();

        // Frames meant for Redis are skipped for the refused credentials, not as if Redis were down.
        await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_sink_redis_frames_skipped_total", "reason=auth_failed") >= 10,
            TimeSpan.FromSeconds(30), "frames skipped as auth_failed");
        await Task.Delay(3000); // the driver keeps retrying meanwhile; the warning must not repeat
        var metrics = await run.MetricsAsync();
        output.WriteLine($"skipped: auth_failed {metrics.Sum("stream_sink_redis_frames_skipped_total", "reason=auth_failed")}, redis_down {metrics.Sum("stream_sink_redis_frames_skipped_total", "reason=redis_down")}");
        Assert.Equal(0, metrics.Sum("stream_sink_redis_frames_skipped_total", "reason=redis_down"));
        Assert.Equal(0, metrics.Sum("stream_sink_redis_frames_stored_total"));

        // /readyz names the same cause as the log and the metric (issue 24: it said "no answer within 2 s").
        var ready = await RedisFaultTests.ReadyzAsync(run);
        output.WriteLine($"readyz {(int)ready.Status} redis: {ready.Redis}");
        Assert.StartsWith("Degraded: Redis authentication failed", ready.Redis, StringComparison.Ordinal);
        Assert.DoesNotContain(WrongPassword, ready.Redis, StringComparison.Ordinal);

        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var all = run.StdoutLines.Concat(run.StderrLines).ToList();
        var warning = Assert.Single(all, l => l.Contains("refused the credentials", StringComparison.Ordinal));
        Assert.Contains("authentication failed", warning, StringComparison.Ordinal);
        Assert.Contains("Fix Sink:Redis:Password", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(all, l => l.Contains(WrongPassword, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_file_cut_in_the_middle_that_fails_the_same_way_on_every_pass_ends_as_Failed_with_one_line_while_the_other_camera_streams_on()
    {
        var dir = Directory.CreateTempSubdirectory("stream-it-cut-");
        try
        {
            // A faststart MP4 (index first) cut halfway: it plays its first frames, then decoding fails, on every pass.
            var cut = await DamagedMedia.CutInTheMiddleAsync("test_360p.mp4", dir.FullName);

            var cutCamera = StreamProcess.FileCamera("cut", maxFps: 5, width: 320);
            cutCamera["Url"] = cut;
            await using var run = StreamProcess.Start(StreamProcess.Config(cutCamera, StreamProcess.FileCamera("cam-ok", maxFps: 5, width: 320)), output: output);
            await run.WaitReadyAsync();

            // Three passes of 2.5 s each at the file's own pace, with backoff between them.
            await run.WaitUntilAsync(async () => (await run.CameraAsync("cut")).State == "Failed", TimeSpan.FromSeconds(40), "the cut file's camera ended as Failed");
            var failed = await run.CameraAsync("cut");
            Assert.NotNull(failed.LastError);
            Assert.StartsWith($"camera 'cut' ({cut}): the file fails the same way on every pass", failed.LastError, StringComparison.Ordinal);
            Assert.Contains("replace it or re-encode it", failed.LastError, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', failed.LastError);
            Assert.True(failed.FramesDecoded > 0, "the frames before the cut were delivered");
            Assert.Equal(2, failed.Reconnects);

            // No more retries: it stays Failed, and the other camera streams on.
            var decoded = (await run.CameraAsync("cam-ok")).FramesDecoded;
            await Task.Delay(2000);
            Assert.Equal("Failed", (await run.CameraAsync("cut")).State);
            Assert.Equal(2, (await run.CameraAsync("cut")).Reconnects);
            var ok = await run.CameraAsync("cam-ok");
            Assert.Equal("Streaming", ok.State);
            Assert.True(ok.FramesDecoded > decoded, "the other camera kept streaming");

            await run.SignalAsync("TERM");
            Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            // One log line (the status table, lines starting "camera=", shows the camera's error while it lasts).
            Assert.Single(run.StdoutLines.Concat(run.StderrLines),
                l => !l.StartsWith("camera=", StringComparison.Ordinal) && l.Contains("the file fails the same way on every pass", StringComparison.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
