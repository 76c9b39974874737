using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>The camera API under concurrent use, and its counters against the status output (issue 24's smaller items).</summary>
[Collection(PipelineCollection.Name)]
public sealed partial class CameraApiFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Ten_concurrent_deletes_of_one_camera_answer_exactly_one_204_and_nine_404()
    {
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("victim", maxFps: 5, width: 320),
            StreamProcess.FileCamera("other", maxFps: 5, width: 320)), output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(async () => (await run.CamerasAsync()).All(c => c.State == "Streaming"), TimeSpan.FromSeconds(30), "both cameras streaming");

        using var start = new SemaphoreSlim(0, 10);
        var deletes = Enumerable.Range(0, 10).Select(async _ =>
        {
            await start.WaitAsync();
            using var response = await run.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/cameras/victim"));
            return response.StatusCode;
        }).ToList();
        start.Release(10);
        var codes = await Task.WhenAll(deletes);
        using var later = await run.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/cameras/victim"));

        output.WriteLine($"RESULT concurrent-delete: {string.Join(", ", codes.GroupBy(c => (int)c).Select(g => $"{g.Count()} x {g.Key}"))}; a later one {(int)later.StatusCode}");
        Assert.Equal(1, codes.Count(c => c == HttpStatusCode.NoContent));
        Assert.Equal(9, codes.Count(c => c == HttpStatusCode.NotFound));
        Assert.Equal(HttpStatusCode.NotFound, later.StatusCode);
        Assert.Equal(["other"], (await run.CamerasAsync()).Select(c => c.Id));
        Assert.Single(run.StdoutLines, l => l.Contains("Camera victim: stopped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_status_output_drops_are_the_camera_apis_frames_dropped_plus_frames_stale()
    {
        // More than one run on one thread can take (six 960p cameras at their native 25 fps) and Detect:StalenessMs low:
        // drops of both kinds, whatever the machine (cameras wait for the model, so warm-up alone drops nothing).
        var cameras = Enumerable.Range(1, 6).Select(i => (object)StreamProcess.FileCamera("cam-" + i)).ToArray();
        await using var run = StreamProcess.Start(StreamProcess.Config(cameras),
            ["Detect:StalenessMs=50", "Detect:ConcurrentRuns=1", "Detect:IntraOpThreads=1", "Detect:MaxBatch=1"], output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(async () => (await run.CameraAsync("cam-1")).FramesDropped > 0, TimeSpan.FromSeconds(30), "frames dropped");

        // Stop the camera so the counts hold still, then read both.
        using (var disable = await run.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/cameras/cam-1/disable")))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        await Task.Delay(3000);
        var api = await run.CameraAsync("cam-1");
        var lineCount = run.StdoutLines.Count;
        await run.WaitUntilAsync(() => Task.FromResult(run.StdoutLines.Skip(lineCount).Any(l => l.Contains("camera=cam-1 ", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10), "a status line after the camera stopped");
        var line = run.StdoutLines.Skip(lineCount).Last(l => l.Contains("camera=cam-1 ", StringComparison.Ordinal));
        var drops = long.Parse(Drops().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);

        output.WriteLine($"RESULT drops: status line drops={drops}; /api/cameras framesDropped {api.FramesDropped} + framesStale {api.FramesStale} = framesDroppedTotal {api.FramesDroppedTotal}");
        Assert.Equal(api.FramesDropped + api.FramesStale, api.FramesDroppedTotal);
        Assert.Equal(api.FramesDroppedTotal, drops);
    }

    [GeneratedRegex(@" drops=(\d+) ")]
    private static partial Regex Drops();
}
