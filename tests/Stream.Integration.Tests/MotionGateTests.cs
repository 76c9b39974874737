using System.Globalization;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Issue 18, motion-gated detection, in the real <c>stream run</c> process: two cameras play the same mostly still clip,
/// one gated by motion and one not; the gated one runs the model on clearly fewer frames and still delivers its
/// tracked objects to Kafka.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class MotionGateTests(ITestOutputHelper output)
{
    private const string Clip = "parking_lot_cars_sparse.mp4";

    [Fact]
    public async Task A_camera_gated_by_motion_infers_clearly_fewer_frames_than_the_same_clip_ungated_and_still_sends_its_tracked_objects_to_Kafka()
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        await using var redis = new RedisServerFixture();
        await redis.InitializeAsync();
        var topic = "gate-" + Guid.NewGuid().ToString("N")[..8];

        // The parking lot: parked cars throughout, cars driving through at 4-9 s and 14-20 s of its 30 s (docs/detect.md).
        var gated = StreamProcess.FileCamera("gated", maxFps: 5);
        gated["Url"] = ClipPath();
        gated["Gate"] = "motion";
        var plain = StreamProcess.FileCamera("plain", maxFps: 5);
        plain["Url"] = ClipPath();
        plain["Gate"] = "none";
        await using var run = StreamProcess.Start(StreamProcess.Config(gated, plain),
            ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic, "Sink:Redis:Configuration=" + redis.Configuration], output: output);
        await run.WaitReadyAsync();

        // About 20 s of the clip at 5 frames/s: both bursts of motion and the still stretches around them.
        await run.WaitUntilAsync(async () => Seen(await run.MetricsAsync(), "plain") >= 100, TimeSpan.FromSeconds(40), "100 frames of the ungated camera through Detect");
        var m = await run.MetricsAsync();
        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var (acknowledged, _, _) = run.SinkFinished();
        var events = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, acknowledged, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));

        double Inferred(string camera) => m.Sum("stream_detect_frames_total", "camera=" + camera);
        double Gated(string camera) => m.Sum("stream_detect_gated_frames_total", "camera=" + camera);
        var gatedTracks = events.Where(e => e.Key == "gated" && e.Event.Kind == "track_started").ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT gate: gated camera {Inferred("gated")} inferred + {Gated("gated")} gated (motion frames {m.Sum("stream_ingest_motion_frames_total", "camera=gated")}); ungated camera {Inferred("plain")} inferred + {Gated("plain")} gated; Kafka: {gatedTracks.Count} track_started of the gated camera ({string.Join(", ", gatedTracks.Select(e => e.Event.Label).Distinct())}), {events.Count(e => e.Key == "plain" && e.Event.Kind == "track_started")} of the ungated one"));

        // Both cameras decoded the same clip at the same pace; the gate kept the model off a clear share of the gated one's frames.
        Assert.True(Gated("gated") > 0, "the gated camera passed no frame uninferred");
        Assert.Equal(0, Gated("plain"));
        Assert.True(Gated("gated") >= 0.2 * Seen(m, "gated"), $"only {Gated("gated")} of {Seen(m, "gated")} frames of the gated camera were gated");
        Assert.True(Inferred("gated") <= 0.85 * Inferred("plain"), $"the gated camera inferred {Inferred("gated")} frames, the ungated one {Inferred("plain")}");

        // Frames reach the stages as the decoder's I420 planes: only those the sink stored in Redis (every 25th and the
        // ones events refer to) were converted to full-resolution BGR; inferred, gated and dropped frames never were.
        var decoded = m.Sum("stream_ingest_frames_total");
        var converted = m.Sum("stream_ingest_bgr_conversions_total");
        var stored = m.Sum("stream_sink_redis_frames_stored_total");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT conversions: {converted} full-size BGR conversions for {decoded} frames decoded, {stored} frames stored in Redis"));
        Assert.True(decoded > 150, $"only {decoded} frames decoded");
        Assert.True(stored > 0 && converted > 0, "no frame was stored in Redis");
        // (the sink counts a frame once Redis answered: up to 64 writes may be in flight when the metrics are read)
        Assert.True(converted <= stored + 65, $"{converted} frames converted to BGR, but only {stored} went to Redis");
        Assert.True(converted < 0.25 * decoded, $"{converted} of {decoded} frames converted to BGR");

        // What it tracked still reached Kafka: the parked cars (seen on refresh frames) and the ones driving through.
        Assert.NotEmpty(gatedTracks);
        Assert.All(gatedTracks, e => Assert.NotNull(e.Event.TrackId));
    }

    /// <summary>Frames of a camera that went through Detect, inferred or not.</summary>
    private static double Seen(Metrics m, string camera) =>
        m.Sum("stream_detect_frames_total", "camera=" + camera) + m.Sum("stream_detect_gated_frames_total", "camera=" + camera);

    /// <summary>The clip under samples/ (scripts/setup.sh copies it there), else straight from ../shared/media.</summary>
    private static string ClipPath()
    {
        var shared = Path.GetFullPath(Path.Combine(RepoPaths.Root, "..", "shared", "media", Clip));
        return File.Exists(Path.Combine(RepoPaths.Samples, Clip)) || !File.Exists(shared) ? RepoPaths.Sample(Clip) : shared;
    }
}
