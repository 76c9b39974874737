using System.Globalization;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Issue 23, section 1, in the real <c>stream run</c> process: a recording gives the same alerts whether it is analysed
/// as fast as the machine allows (its frames queue up and share batches and concurrent runs) or played at its own pace
/// like a live camera.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class RecordingTests(ITestOutputHelper output)
{
    /// <summary>TUD-Stadtmitte (../shared/mot) at 7 fps: 50 frames, people moving far between frames.</summary>
    private const string Clip = "tud_stadtmitte_7fps.mp4";
    private const int ClipFrames = 50;

    [Fact]
    public async Task A_7_fps_recording_at_Full_pacing_gives_the_same_number_of_track_started_events_as_at_Native_within_10_percent()
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        var topic = "pacing-" + Guid.NewGuid().ToString("N")[..8];

        // Default Detect settings (MaxBatch 4, two runs at once on this CPU): the Full camera's frames queue up and
        // several consecutive ones share a batch or sit in both runs at once; the Native one arrives a frame at a time.
        // The Native camera starts once the Full one is through, so that it is not played into a model still warming
        // up (a live-paced camera drops its oldest frames then) and has the model to itself.
        var full = Recording("full", "Full");
        var native = Recording("native", "Native");
        native["Enabled"] = false;
        await using var run = StreamProcess.Start(StreamProcess.Config(full, native),
            ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic], output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(async () => Detected(await run.MetricsAsync(), "full") >= ClipFrames, TimeSpan.FromSeconds(90),
            $"all {ClipFrames} frames of the Full camera through Detect");
        using (var enable = await run.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/cameras/native/enable")))
        {
            Assert.True(enable.IsSuccessStatusCode, $"enabling the Native camera answered {(int)enable.StatusCode}");
        }

        await run.WaitUntilAsync(async () => Detected(await run.MetricsAsync(), "native") >= ClipFrames, TimeSpan.FromSeconds(60),
            $"all {ClipFrames} frames of the Native camera through Detect");
        var metrics = await run.MetricsAsync();
        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var (acknowledged, _, _) = run.SinkFinished();
        var events = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, acknowledged, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));

        int Started(string camera) => events.Count(e => e.Key == camera && e.Event.Kind == "track_started");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT pacing: track_started Full {Started("full")}, Native {Started("native")}; mean batch {metrics.Sum("stream_detect_batch_size_sum") / Math.Max(1, metrics.Sum("stream_detect_batch_size_count")):F2}"));

        // Nothing was dropped on either camera: both saw every frame, so their tracks can be compared.
        Assert.Equal(ClipFrames, Detected(metrics, "full"));
        Assert.Equal(ClipFrames, Detected(metrics, "native"));
        Assert.True(Started("native") > 0, "the recording played at its own pace started no track");
        Assert.InRange(Started("full"), Started("native") * 0.9, Started("native") * 1.1);
    }

    private static Dictionary<string, object?> Recording(string id, string pacing) => new()
    {
        ["Id"] = id,
        ["Url"] = RepoPaths.Sample(Clip),
        ["Loop"] = false,
        ["Pacing"] = pacing,
    };

    private static double Detected(Metrics m, string camera) => m.Sum("stream_detect_frames_total", "camera=" + camera);
}
