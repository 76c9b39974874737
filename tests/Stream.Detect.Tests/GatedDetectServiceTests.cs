using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Testing;

namespace Streaming.Detect.Tests;

/// <summary>Part of <see cref="DetectServiceTests"/>: one class, so that its metrics listener never hears the other tests' stages.</summary>
public partial class DetectServiceTests
{
    [Fact]
    public async Task Still_frames_of_a_gated_camera_skip_the_model_but_reach_Track_in_order_marked_not_inferred()
    {
        var bus = new FrameBus(8);
        var output = DetectedOutput();
        using var meters = new StandaloneMeterFactory();
        using var listener = new MetricsRecorder();
        var options = new DetectOptions
        {
            ModelPath = RepoPaths.Model("yolox_nano.onnx"),
            Provider = ExecutionProviderKind.Cpu,
            Motion = new MotionOptions { RefreshSeconds = 3600, HoldSeconds = 0 },
        };
        using var service = new DetectService(Options.Create(options), bus, output.Writer, new DetectMetrics(meters), NullLoggerFactory.Instance,
            TimeProvider.System, new ModelLabels(), new DetectReadiness());
        await service.StartAsync(CancellationToken.None);

        using var dog = Cv2.ImRead(RepoPaths.Sample("dog.jpg"), ImreadModes.Color);
        var gated = bus.Open("gated", live: false);
        var plain = bus.Open("plain", live: false);
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 6; i++)
            {
                var still = Frame.CopyOf(dog, "gated", i, DateTimeOffset.UtcNow);
                still.Motion = new FrameMotion(i == 3 ? 0.2f : 0, i == 3); // motion on frame 3 only
                await gated.WriteAsync(still, CancellationToken.None);
                await plain.WriteAsync(Frame.CopyOf(dog, "plain", i, DateTimeOffset.UtcNow), CancellationToken.None);
            }

            gated.Complete();
            plain.Complete();
            bus.CompleteAdding();
        });

        var seen = new Dictionary<string, List<(long Sequence, bool Inferred, int Detections)>> { ["gated"] = [], ["plain"] = [] };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var detected in output.Reader.ReadAllAsync(timeout.Token))
        {
            using (detected)
            {
                seen[detected.Frame.CameraId].Add((detected.Frame.Sequence, detected.Inferred, detected.Detections.Count));
            }
        }

        await writer;
        await service.StopAsync(CancellationToken.None);

        // The first frame (refresh) and the moving one are inferred; the others pass through, in order, with no detections.
        Assert.Equal([0L, 1, 2, 3, 4, 5], seen["gated"].Select(s => s.Sequence));
        Assert.Equal([true, false, false, true, false, false], seen["gated"].Select(s => s.Inferred));
        Assert.All(seen["gated"].Where(s => !s.Inferred), s => Assert.Equal(0, s.Detections));
        Assert.All(seen["gated"].Where(s => s.Inferred), s => Assert.True(s.Detections > 0));
        Assert.All(seen["plain"], s => Assert.True(s.Inferred));
        Assert.Equal(4, listener.Sum("stream.detect.gated_frames", "gated"));
        Assert.Equal(0, listener.Sum("stream.detect.gated_frames", "plain"));
        Assert.Equal(2, listener.Sum("stream.detect.frames", "gated"));
    }

    /// <summary>The stage's output queue as the host makes it: bounded, waiting when full, one reader and one writer.</summary>
    private static Channel<DetectedFrame> DetectedOutput() => Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(4)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
        SingleWriter = true,
    });
}
