using System.Globalization;
using Streaming.Sink;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Issue 26, event clips, in the real <c>stream run</c> process: a track that ends names its clip in its track_ended
/// event (or in a clip_ready event when the clip came later), and the clip is on disk and plays.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class ClipTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_track_that_ends_has_its_clip_named_in_track_ended_on_disk_starting_with_a_keyframe_and_decoding_cleanly()
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        await using var redis = new RedisServerFixture();
        await redis.InitializeAsync();
        var topic = "clips-" + Guid.NewGuid().ToString("N")[..8];
        await using var run = StreamProcess.Start(StreamProcess.Config(OutdoorToItsEnd()),
            ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic, "Sink:Redis:Configuration=" + redis.Configuration], output: output);
        await run.WaitReadyAsync();
        Assert.True((await run.CameraAsync("outdoor")).Clips, "/api/cameras says the camera keeps clips");
        await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_sink_clips_total") >= 1, TimeSpan.FromSeconds(120), "a clip written");
        var metrics = await run.MetricsAsync();

        // The web view serves it with range requests, and the page plays it in a <video> with the event's picture as poster.
        var (eventId, playedSeconds) = await PlayInBrowserAsync(run);
        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var (acknowledged, _, _) = run.SinkFinished();
        var events = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, acknowledged, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));

        // The clip is named by its track_ended, or by a clip_ready when it was finished after the event went out.
        var named = events.Where(e => e.Event.Kind is "track_ended" or "clip_ready" && e.Event.ClipKey is not null).Select(e => e.Event).ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT clips: {metrics.Sum("stream_sink_clips_total")} written, {named.Count(e => e.Kind == "track_ended")} in track_ended, {named.Count(e => e.Kind == "clip_ready")} clip_ready; cut {metrics.Sum("stream_sink_clip_cut_milliseconds_sum") / Math.Max(1, metrics.Sum("stream_sink_clip_cut_milliseconds_count")):F1} ms mean"));
        Assert.NotEmpty(named);
        foreach (var e in named)
        {
            Assert.Equal(ClipWriter.KeyFor(e.CameraId, e.Epoch!.Value, e.TrackId!.Value), e.ClipKey);
            var path = ClipWriter.PathFor(Path.Combine(run.Directory, "clips"), e.ClipKey!);
            Assert.True(File.Exists(path), $"{e.ClipKey} is on disk");
            var (frames, errors) = Ffprobe.DecodeAll(path!);
            Assert.Equal(string.Empty, errors);
            Assert.True(frames[0].Key, "the clip starts with a keyframe");
            // clip_seconds is first to last picture; the file lasts one frame (1/12 s) longer.
            Assert.InRange(Ffprobe.Duration(path!), e.ClipSeconds!.Value * 0.9, (e.ClipSeconds!.Value * 1.1) + 0.1);
            // It covers the track: from at most one keyframe interval (2 s) before first_seen - PreSeconds (2 s).
            Assert.True(e.ClipSeconds >= (e.LastSeen!.Value - e.FirstSeen!.Value).TotalSeconds, "the clip is at least as long as the track");
        }

        // The browser's duration agrees with the event's clip_seconds (within 10 %).
        var played = Assert.Single(named, e => e.Kind == "track_ended" && e.Id == eventId || e.Kind == "clip_ready" && e.TrackId == TrackOf(events, eventId));
        Assert.InRange(playedSeconds, played.ClipSeconds!.Value * 0.9, played.ClipSeconds!.Value * 1.1);

        // A track_ended without a clip is counted with its reason (none expected: even the tracks still open at the end of
        // the file get theirs from the ended connection's kept buffer).
        var without = events.Count(e => e.Event.Kind == "track_ended" && e.Event.ClipKey is null
            && !named.Any(n => n.Kind == "clip_ready" && n.TrackId == e.Event.TrackId));
        Assert.Equal(without, run.StdoutLines.Concat(run.StderrLines).Count(l => l.Contains("[5501]", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task With_the_clip_disk_full_every_track_ended_still_reaches_Kafka_without_clip_key_and_each_failed_clip_is_counted_as_io()
    {
        await using var disk = await TmpfsMount.CreateAsync("16k"); // less than any clip of the outdoor sample (about 20 kB a second)
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        var topic = "clips-full-" + Guid.NewGuid().ToString("N")[..8];
        await using var run = StreamProcess.Start(StreamProcess.Config(OutdoorToItsEnd()),
            ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic, "Clips:Directory=" + disk.Path], output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(async () => (await run.CameraAsync("outdoor")).State == "Stopped", TimeSpan.FromSeconds(120), "the sample read to its end");
        await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_sink_clip_failures_total") >= 1, TimeSpan.FromSeconds(30), "a clip failed");
        var metrics = await run.MetricsAsync();
        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var (acknowledged, _, _) = run.SinkFinished();
        var events = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, acknowledged, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));

        var ended = events.Where(e => e.Event.Kind == "track_ended").ToList();
        var failedIo = metrics.Sum("stream_sink_clip_failures_total", "reason=io");
        // Every failure, the last tracks' included (they end after the metrics were read), is logged once with its reason.
        var loggedIo = run.StdoutLines.Concat(run.StderrLines).Count(l => l.Contains("[5501]", StringComparison.Ordinal) && l.Contains("(io)", StringComparison.Ordinal));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT clip disk full: {ended.Count} track_ended delivered, {ended.Count(e => e.Event.ClipKey is not null)} with clip_key; clips written {metrics.Sum("stream_sink_clips_total")}, failed as io {failedIo} of {metrics.Sum("stream_sink_clip_failures_total")} while running, {loggedIo} logged as io in all; files left on the disk: {string.Join(", ", Directory.EnumerateFiles(disk.Path, "*", SearchOption.AllDirectories).Select(Path.GetFileName))}"));
        Assert.NotEmpty(ended);
        Assert.All(ended, e => Assert.Null(e.Event.ClipKey));
        Assert.DoesNotContain(events, e => e.Event.Kind == "clip_ready");
        Assert.Equal(0, metrics.Sum("stream_sink_clips_total"));
        Assert.True(failedIo >= 1, "no clip failure counted as io");
        Assert.Equal(ended.Count, loggedIo);
        Assert.Empty(Directory.EnumerateFiles(disk.Path, "*.part", SearchOption.AllDirectories)); // a failed write is removed, not left half-written
    }

    /// <summary>
    /// The poster (<c>snapshot.jpg?boxes=1</c>) is the event's stored picture with the event's box drawn on it: along the
    /// box's left edge it differs from the plain snapshot by far more than JPEG noise, inside the box it does not.
    /// </summary>
    private async Task AssertTheBoxIsDrawnOnThePosterAsync(StreamProcess run, Guid id)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await run.GetStringAsync("/api/events?kind=track_ended&limit=500"));
        var box = doc.RootElement.EnumerateArray().Single(e => e.GetProperty("id").GetGuid() == id).GetProperty("box");
        var (x1, y1, x2, y2) = ((int)box.GetProperty("x1").GetSingle(), (int)box.GetProperty("y1").GetSingle(), (int)box.GetProperty("x2").GetSingle(), (int)box.GetProperty("y2").GetSingle());
        using var plainAnswer = await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/events/{id}/snapshot.jpg"));
        using var boxedAnswer = await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/events/{id}/snapshot.jpg?boxes=1"));
        Assert.True(plainAnswer.IsSuccessStatusCode && boxedAnswer.IsSuccessStatusCode, $"snapshots: {plainAnswer.StatusCode}, {boxedAnswer.StatusCode}");
        using var plain = OpenCvSharp.Cv2.ImDecode(await plainAnswer.Content.ReadAsByteArrayAsync(), OpenCvSharp.ImreadModes.Color);
        using var boxed = OpenCvSharp.Cv2.ImDecode(await boxedAnswer.Content.ReadAsByteArrayAsync(), OpenCvSharp.ImreadModes.Color);
        Assert.Equal(plain.Size(), boxed.Size());
        x1 = Math.Clamp(x1, 0, plain.Width - 1);
        y1 = Math.Clamp(y1, 0, plain.Height - 1);
        x2 = Math.Clamp(x2, x1 + 1, plain.Width - 1);
        y2 = Math.Clamp(y2, y1 + 1, plain.Height - 1);
        double MeanDifference(OpenCvSharp.Rect r)
        {
            using var a = new OpenCvSharp.Mat(plain, r);
            using var b = new OpenCvSharp.Mat(boxed, r);
            using var d = new OpenCvSharp.Mat();
            OpenCvSharp.Cv2.Absdiff(a, b, d);
            var m = OpenCvSharp.Cv2.Mean(d);
            return (m.Val0 + m.Val1 + m.Val2) / 3;
        }

        var edge = MeanDifference(new OpenCvSharp.Rect(x1, y1 + ((y2 - y1) / 4), 2, Math.Max(1, (y2 - y1) / 2)));
        var (w, h) = (x2 - x1, y2 - y1);
        var inside = MeanDifference(new OpenCvSharp.Rect(x1 + (w / 3), y1 + (h / 3), Math.Max(1, w / 3), Math.Max(1, h / 3)));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT poster: box ({x1},{y1})-({x2},{y2}); mean difference to the plain snapshot {edge:F1} on its left edge, {inside:F1} inside it"));
        Assert.True(edge > 40, $"the box's edge is not drawn on the poster (mean difference {edge:F1})");
        Assert.True(inside < 8, $"the poster differs inside the box by {inside:F1}: more than the box was drawn");
    }

    /// <summary>The outdoor sample (a pedestrian, a cyclist, a car; H.264 with B-frames, a keyframe every 2 s) read once at full pace.</summary>
    private static Dictionary<string, object?> OutdoorToItsEnd() => new()
    {
        ["Id"] = "outdoor",
        ["Url"] = RepoPaths.Sample("outdoor_person_bicycle_car.mp4"),
        ["Loop"] = false,
        ["Pacing"] = "Full",
        ["Objects"] = new Dictionary<string, object?> { ["Track"] = new[] { "person", "bicycle", "car" } },
    };

    private static long? TrackOf(List<ConsumedEvent> events, Guid id) => events.FirstOrDefault(e => e.Event.Id == id)?.Event.TrackId;

    /// <summary>Finds a track_ended of the web feed whose clip is served, checks a range request, and plays it in Chromium: its id and the video's duration.</summary>
    private async Task<(Guid Id, double Seconds)> PlayInBrowserAsync(StreamProcess run)
    {
        Guid id = default;
        await run.WaitUntilAsync(async () =>
        {
            using var doc = System.Text.Json.JsonDocument.Parse(await run.GetStringAsync("/api/events?kind=track_ended&limit=500"));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                var candidate = e.GetProperty("id").GetGuid();
                var probe = new HttpRequestMessage(HttpMethod.Get, $"/api/events/{candidate}/clip.mp4");
                probe.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 0);
                using var answer = await run.SendAsync(probe);
                if (answer.IsSuccessStatusCode)
                {
                    id = candidate;
                    return true;
                }
            }

            return false;
        }, TimeSpan.FromSeconds(30), "a track_ended whose clip the web view serves");

        var range = new HttpRequestMessage(HttpMethod.Get, $"/api/events/{id}/clip.mp4");
        range.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 99);
        using (var partial = await run.SendAsync(range))
        {
            Assert.Equal(System.Net.HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal("video/mp4", partial.Content.Headers.ContentType?.MediaType);
            Assert.Equal(100, (await partial.Content.ReadAsByteArrayAsync()).Length);
            Assert.StartsWith("bytes 0-99/", partial.Content.Headers.ContentRange?.ToString(), StringComparison.Ordinal);
        }

        using var browser = WebUiTests.Chromium();
        browser.Navigate().GoToUrl($"http://127.0.0.1:{run.HttpPort}/");
        var wait = new OpenQA.Selenium.Support.UI.WebDriverWait(browser, TimeSpan.FromSeconds(30)) { PollingInterval = TimeSpan.FromMilliseconds(250) };
        var button = wait.Until(b => b.FindElements(OpenQA.Selenium.By.CssSelector($"#feed li[data-id='{id}'] .clip-button")).FirstOrDefault());
        button!.Click();
        var js = (OpenQA.Selenium.IJavaScriptExecutor)browser;
        wait.Until(_ => Convert.ToInt32(js.ExecuteScript($"const v = document.querySelector(\"#feed li[data-id='{id}'] video\"); return v ? v.readyState : -1;"), CultureInfo.InvariantCulture) >= 2);
        var seconds = Convert.ToDouble(js.ExecuteScript($"return document.querySelector(\"#feed li[data-id='{id}'] video\").duration;"), CultureInfo.InvariantCulture);
        var poster = new Uri(js.ExecuteScript($"return document.querySelector(\"#feed li[data-id='{id}'] video\").poster;") as string ?? "http://x/");
        Assert.Equal($"/api/events/{id}/snapshot.jpg", poster.AbsolutePath);
        Assert.Equal("?boxes=1", poster.Query);
        await AssertTheBoxIsDrawnOnThePosterAsync(run, id);
        var dir = Path.Combine(RepoPaths.Root, "TestResults", "artefacts");
        Directory.CreateDirectory(dir);
        ((OpenQA.Selenium.ITakesScreenshot)browser).GetScreenshot().SaveAsFile(Path.Combine(dir, "clip-playing.png"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT clip in the browser: readyState >= 2, duration {seconds:F3} s"));
        return (id, seconds);
    }
}
