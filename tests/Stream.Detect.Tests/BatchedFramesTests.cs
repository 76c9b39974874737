using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Testing;

namespace Streaming.Detect.Tests;

/// <summary>
/// Issue 23, section 1: frames batched together are detected as if they were alone. A recording's frames queue up, so
/// several consecutive frames of one camera share a batch, or sit in two runs at once; each must still get exactly the
/// detections a batch of one gives it, and leave in sequence order.
/// </summary>
public partial class DetectServiceTests
{
    [Theory]
    [InlineData("yolox_nano.onnx", 4, 1)]
    [InlineData("yolox_nano.onnx", 4, 2)]
    [InlineData("yolox_nano_dynamic.onnx", 4, 2)]
    public async Task Consecutive_frames_of_one_camera_in_one_batch_and_across_concurrent_runs_get_the_detections_a_batch_of_one_gives_them_in_sequence_order(
        string model, int maxBatch, int runs)
    {
        // A real recording with many people moving (TUD-Stadtmitte at 7 fps): neighbouring frames look alike but not the
        // same, so a frame handed its neighbour's boxes shows in the IoU.
        var pictures = ReadFrames(RepoPaths.Sample("tud_stadtmitte_7fps.mp4"), 24);
        try
        {
            var single = new DetectOptions { ModelPath = RepoPaths.Model(model), Provider = ExecutionProviderKind.Cpu, MaxBatch = 1 };
            Detection[][] alone;
            using (var detector = Detector.Load(single))
            {
                alone = [.. pictures.Select(detector.Detect)];
            }

            var bus = new FrameBus(pictures.Count);
            var output = DetectedOutput();
            using var meters = new StandaloneMeterFactory();
            var options = new DetectOptions
            {
                ModelPath = RepoPaths.Model(model),
                Provider = ExecutionProviderKind.Cpu,
                MaxBatch = maxBatch,
                MaxPerCamera = maxBatch,
                MaxWaitMs = 50,
                ConcurrentRuns = runs,
                IntraOpThreads = 1,
            };
            using var service = new DetectService(Options.Create(options), bus, output.Writer, new DetectMetrics(meters), NullLoggerFactory.Instance,
            TimeProvider.System, new ModelLabels(), new DetectReadiness());

            // Every frame is queued before the stage starts, as a recording read at full speed has them waiting.
            var camera = bus.Open("rec", live: false);
            for (var i = 0; i < pictures.Count; i++)
            {
                await camera.WriteAsync(Frame.CopyOf(pictures[i], "rec", i, DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(i / 7.0)), CancellationToken.None);
            }

            camera.Complete();
            bus.CompleteAdding();
            await service.StartAsync(CancellationToken.None);

            var order = new List<long>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await foreach (var detected in output.Reader.ReadAllAsync(timeout.Token))
            {
                using (detected)
                {
                    var seq = detected.Frame.Sequence;
                    order.Add(seq);
                    var expected = alone[seq];
                    Assert.True(expected.Length == detected.Detections.Count,
                        $"frame {seq}: {detected.Detections.Count} detections in a batch, {expected.Length} alone");
                    foreach (var d in detected.Detections)
                    {
                        var best = expected.Where(e => e.ClassId == d.ClassId).Select(e => e.Box.IoU(d.Box)).DefaultIfEmpty(0).Max();
                        Assert.True(best > 0.99f, string.Create(CultureInfo.InvariantCulture,
                            $"frame {seq}: a class {d.ClassId} box {d.Box} overlaps its batch-of-one twin by IoU {best:F3} only"));
                    }
                }
            }

            await service.StopAsync(CancellationToken.None);
            Assert.Equal(Enumerable.Range(0, pictures.Count).Select(i => (long)i), order);
            Assert.Contains(alone, a => a.Length >= 3); // the recording really has several people per frame
        }
        finally
        {
            foreach (var p in pictures)
            {
                p.Dispose();
            }
        }
    }

    private static List<Mat> ReadFrames(string path, int count)
    {
        using var capture = new VideoCapture(path);
        Assert.True(capture.IsOpened(), $"cannot open {path}");
        var frames = new List<Mat>();
        while (frames.Count < count)
        {
            var mat = new Mat();
            if (!capture.Read(mat) || mat.Empty())
            {
                mat.Dispose();
                break;
            }

            frames.Add(mat);
        }

        Assert.Equal(count, frames.Count);
        return frames;
    }
}
