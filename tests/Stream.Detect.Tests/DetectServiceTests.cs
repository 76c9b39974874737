using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Testing;

namespace Streaming.Detect.Tests;

public partial class DetectServiceTests
{
    [Theory]
    [InlineData("yolox_nano_dynamic.onnx")]
    [InlineData("yolox_nano.onnx")]
    public async Task The_stage_detects_frames_of_every_camera_in_order_drops_stale_ones_and_completes_its_output(string model)
    {
        var bus = new FrameBus(8);
        var output = DetectedOutput();
        using var meters = new StandaloneMeterFactory();
        using var listener = new MetricsRecorder();
        var options = new DetectOptions
        {
            ModelPath = RepoPaths.Model(model),
            Provider = ExecutionProviderKind.Cpu,
            MaxBatch = 4,
            MaxWaitMs = 20,
            MaxPerCamera = 2,
        };
        using var service = new DetectService(Options.Create(options), bus, output.Writer, new DetectMetrics(meters), NullLoggerFactory.Instance,
            TimeProvider.System, new ModelLabels(), new DetectReadiness());
        await service.StartAsync(CancellationToken.None);

        using var dog = Cv2.ImRead(RepoPaths.Sample("dog.jpg"), ImreadModes.Color);
        var a = bus.Open("cam-a", live: false);
        var b = bus.Open("cam-b", live: false);
        var c = bus.Open("cam-c", live: true);
        await c.WriteAsync(Frame.CopyOf(dog, "cam-c", 0, DateTimeOffset.UtcNow - TimeSpan.FromSeconds(30), isLive: true), CancellationToken.None);
        c.Complete();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 5; i++)
            {
                await a.WriteAsync(Frame.CopyOf(dog, "cam-a", i, DateTimeOffset.UtcNow), CancellationToken.None);
                await b.WriteAsync(Frame.CopyOf(dog, "cam-b", i, DateTimeOffset.UtcNow), CancellationToken.None);
            }

            a.Complete();
            b.Complete();
            bus.CompleteAdding();
        });

        var seen = new Dictionary<string, List<long>> { ["cam-a"] = [], ["cam-b"] = [] };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var detected in output.Reader.ReadAllAsync(timeout.Token))
        {
            using (detected)
            {
                seen[detected.Frame.CameraId].Add(detected.Frame.Sequence);
                Assert.Contains(detected.Detections, d => d.ClassId == 16 && d.Score > 0.8f);
                Assert.True(detected.Frame.BatchStartTimestamp > 0);
                Assert.True(detected.Frame.InferenceEndTimestamp >= detected.Frame.BatchStartTimestamp);
            }
        }

        await writer;
        await service.StopAsync(CancellationToken.None);

        Assert.Equal([0L, 1, 2, 3, 4], seen["cam-a"]);
        Assert.Equal([0L, 1, 2, 3, 4], seen["cam-b"]);
        Assert.Equal(1, listener.Sum("stream.detect.stale_dropped", "cam-c"));
        Assert.Equal(5, listener.Sum("stream.detect.frames", "cam-a"));
        Assert.Equal(10, listener.Sum("stream.detect.batch_size", null));
        Assert.All(listener.Values("stream.detect.batch_size"), size => Assert.InRange(size, 1, 4));
        Assert.All(listener.Values("stream.detect.batch_fill"), fill => Assert.InRange(fill, 0.25, 1.0));
        Assert.NotEmpty(listener.Values("stream.detect.inference_duration"));
    }

    [Fact]
    public async Task With_three_runs_at_once_every_frame_is_detected_and_each_cameras_frames_still_leave_in_order()
    {
        // Batches of one to eight frames, three in the model at a time: a small batch started after a big one ends
        // first, and the frames of both must still leave in order.
        var bus = new FrameBus(8);
        var output = DetectedOutput();
        using var meters = new StandaloneMeterFactory();
        var options = new DetectOptions
        {
            ModelPath = RepoPaths.Model("yolox_nano_dynamic.onnx"),
            Provider = ExecutionProviderKind.Cpu,
            MaxBatch = 8,
            MaxPerCamera = 8,
            MaxWaitMs = 0,
            ConcurrentRuns = 3,
            IntraOpThreads = 1,
        };
        using var service = new DetectService(Options.Create(options), bus, output.Writer, new DetectMetrics(meters), NullLoggerFactory.Instance,
            TimeProvider.System, new ModelLabels(), new DetectReadiness());
        await service.StartAsync(CancellationToken.None);

        using var dog = Cv2.ImRead(RepoPaths.Sample("dog.jpg"), ImreadModes.Color);
        using var blank = new Mat(dog.Size(), MatType.CV_8UC3, Scalar.All(0));
        string[] cameras = ["cam-a", "cam-b"];
        const int perCamera = 40;
        var writers = cameras.Select(id => bus.Open(id, live: false)).ToArray();
        var feed = Task.Run(async () =>
        {
            for (var i = 0; i < perCamera; i++)
            {
                if (i % 7 == 0)
                {
                    await Task.Delay(5); // now and then a lull, so that batch sizes vary
                }

                for (var c = 0; c < cameras.Length; c++)
                {
                    // Every other frame blank, so that a frame delivered with another frame's result shows.
                    var picture = (i + c) % 2 == 0 ? dog : blank;
                    await writers[c].WriteAsync(Frame.CopyOf(picture, cameras[c], i, DateTimeOffset.UtcNow), CancellationToken.None);
                }
            }

            foreach (var w in writers)
            {
                w.Complete();
            }

            bus.CompleteAdding();
        });

        var seen = cameras.ToDictionary(id => id, _ => new List<long>());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await foreach (var detected in output.Reader.ReadAllAsync(timeout.Token))
        {
            using (detected)
            {
                var camera = Array.IndexOf(cameras, detected.Frame.CameraId);
                seen[detected.Frame.CameraId].Add(detected.Frame.Sequence);
                var dogShown = (detected.Frame.Sequence + camera) % 2 == 0;
                Assert.Equal(dogShown, detected.Detections.Any(d => d.ClassId == 16 && d.Score > 0.8f));
            }
        }

        await feed;
        await service.StopAsync(CancellationToken.None);
        Assert.All(cameras, id => Assert.Equal(Enumerable.Range(0, perCamera).Select(i => (long)i), seen[id]));
    }

    [Fact]
    public async Task A_stage_whose_model_cannot_load_fails_with_the_one_line_error_and_still_completes_its_output()
    {
        var bus = new FrameBus(4);
        var output = DetectedOutput();
        using var meters = new StandaloneMeterFactory();
        var options = new DetectOptions { ModelPath = "/no/such/model.onnx" };
        using var service = new DetectService(Options.Create(options), bus, output.Writer, new DetectMetrics(meters), NullLoggerFactory.Instance,
            TimeProvider.System, new ModelLabels(), new DetectReadiness());

        await service.StartAsync(CancellationToken.None);
        var ex = await Assert.ThrowsAsync<DetectModelException>(() => service.ExecuteTask!);
        await output.Reader.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Contains("/no/such/model.onnx", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    /// <summary>Records every measurement of the Detect meter.</summary>
    private sealed class MetricsRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Name, double Value, string? Camera)> _measurements = new();

        public MetricsRecorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == Telemetry.DetectMeter)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
            _listener.Start();
        }

        public double Sum(string name, string? camera) =>
            _measurements.Where(m => m.Name == name && (camera is null || m.Camera == camera)).Sum(m => m.Value);

        public IEnumerable<double> Values(string name) => _measurements.Where(m => m.Name == name).Select(m => m.Value);

        private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? camera = null;
            foreach (var tag in tags)
            {
                if (tag.Key == Telemetry.CameraTag)
                {
                    camera = tag.Value as string;
                }
            }

            _measurements.Enqueue((instrument.Name, value, camera));
        }

        public void Dispose() => _listener.Dispose();
    }
}
