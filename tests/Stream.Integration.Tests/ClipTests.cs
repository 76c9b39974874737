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
        var topic = "clips-" + Guid.NewGuid().ToString("N")[..8];
        var camera = new Dictionary<string, object?>
        {
            ["Id"] = "outdoor",
            ["Url"] = RepoPaths.Sample("outdoor_person_bicycle_car.mp4"),
            ["Loop"] = false,
            ["Pacing"] = "Full",
            ["Objects"] = new Dictionary<string, object?> { ["Track"] = new[] { "person", "bicycle", "car" } },
        };
        await using var run = StreamProcess.Start(StreamProcess.Config(camera),
            ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic], output: output);
        await run.WaitReadyAsync();
        Assert.True((await run.CameraAsync("outdoor")).Clips, "/api/cameras says the camera keeps clips");
        await run.WaitUntilAsync(async () => (await run.MetricsAsync()).Sum("stream_sink_clips_total") >= 1, TimeSpan.FromSeconds(120), "a clip written");
        var metrics = await run.MetricsAsync();
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

        // A track_ended without a clip is counted with its reason (tracks still open at the end of the file: the camera's
        // buffer went with it).
        var without = events.Count(e => e.Event.Kind == "track_ended" && e.Event.ClipKey is null
            && !named.Any(n => n.Kind == "clip_ready" && n.TrackId == e.Event.TrackId));
        Assert.Equal(without, run.StdoutLines.Concat(run.StderrLines).Count(l => l.Contains("[5501]", StringComparison.Ordinal)));
    }
}
