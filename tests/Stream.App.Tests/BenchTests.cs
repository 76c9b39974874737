using System.Globalization;
using OpenCvSharp;
using Streaming.Bench;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.App.Tests;

/// <summary>The benchmarks read process-wide meters: nothing else may run a pipeline in this process meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BenchCollection
{
    public const string Name = "bench";
}

/// <summary>Issue 6, Bench: <c>stream bench e2e</c> runs the whole pipeline at full speed and reports consistent figures.</summary>
[Collection(BenchCollection.Name)]
public sealed class BenchTests
{
    private readonly ITestOutputHelper _output;

    public BenchTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void A_set_for_Cameras_star_applies_the_key_to_every_camera_of_the_run_and_other_keys_as_they_are()
    {
        var settings = new BenchSettings
        {
            Source = "clip.mp4",
            Cameras = 3,
            Overrides = new Dictionary<string, string?> { ["Cameras:*:SkipFrames"] = "nonref", ["Detect:Gate"] = "motion" },
        };

        var config = PipelineHarness.BuildConfiguration(settings, "127.0.0.1:6379", "/tmp/spool");

        Assert.Equal(["nonref", "nonref", "nonref"], Enumerable.Range(0, 3).Select(i => config[$"Cameras:{i}:SkipFrames"]));
        Assert.False(config.ContainsKey("Cameras:3:SkipFrames"));
        Assert.False(config.ContainsKey("Cameras:*:SkipFrames"));
        Assert.Equal("motion", config["Detect:Gate"]);
    }

    [Fact]
    public void Every_bench_names_the_machine_by_its_CPU_model_cores_and_load_averages()
    {
        const string cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B45\nprocessor\t: 1\nmodel name\t: AMD EPYC 9B45\n";
        Assert.Equal("AMD EPYC 9B45", Streaming.Bench.MachineInfo.CpuModelOf(cpuinfo));
        Assert.Equal("unknown CPU", Streaming.Bench.MachineInfo.CpuModelOf("processor\t: 0\n"));
        Assert.Equal("7.35 7.08 6.43", Streaming.Bench.MachineInfo.LoadAverageOf("7.35 7.08 6.43 3/512 12345\n"));
        Assert.Equal("n/a", Streaming.Bench.MachineInfo.LoadAverageOf(string.Empty));
        Assert.Equal("AMD EPYC 9B45, 2 cores, load average 7.35 7.08 6.43 (1/5/15 min)", Streaming.Bench.MachineInfo.Describe("AMD EPYC 9B45", 2, "7.35 7.08 6.43"));

        var line = Streaming.Bench.MachineInfo.Line();
        Assert.StartsWith("machine: ", line, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $", {Environment.ProcessorCount} cores, load average "), line, StringComparison.Ordinal);
        if (File.Exists("/proc/cpuinfo") && File.ReadAllText("/proc/cpuinfo").Contains("model name", StringComparison.Ordinal))
        {
            Assert.DoesNotContain("unknown CPU", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Bench_capacity_judges_a_scene_that_sends_no_event_on_the_capture_to_sink_latency_of_its_frames()
    {
        // An empty grey scene: nothing to detect, so no event reaches Kafka in the window.
        var dir = Directory.CreateTempSubdirectory("stream-capacity-test-");
        try
        {
            var clip = Path.Combine(dir.FullName, "empty.mp4");
            await Streaming.Bench.ToolProcess.RunAsync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=10:d=4", "-pix_fmt", "yuv420p", clip], CancellationToken.None);
            var options = new CapacityOptions
            {
                Source = clip,
                Fps = 5,
                Hold = TimeSpan.FromSeconds(3),
                Warmup = TimeSpan.FromSeconds(1),
                MaxCameras = 1,
                Overrides = new Dictionary<string, string?> { ["Detect:ModelPath"] = RepoPaths.Model("yolox_nano.onnx") },
            };

            var result = await CapacityBenchmark.RunAsync(options, TextWriter.Null, progress: null, CancellationToken.None);

            var row = Assert.Single(result.Rows);
            Assert.True(row.LatencyAtSink, "an event was acknowledged from an empty grey scene");
            Assert.NotNull(row.AckP99);
            Assert.Null(row.Failure(options));
            Assert.Equal(1, result.Capacity);

            // The frames/s the model saw at the limit come before the last line.
            Assert.Same(row, result.AtLimit);
            Assert.True(row.InferredFps > 0);
            using var printed = new StringWriter(CultureInfo.InvariantCulture);
            CapacityBenchmark.Print(printed, result);
            var lines = printed.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.StartsWith(string.Create(CultureInfo.InvariantCulture, $"at the limit (1 cameras): {row.InferredFps:F1} frames/s inferred of {row.AchievedFps:F1}"), lines[^2], StringComparison.Ordinal);
            Assert.Equal("capacity: 1 cameras at 5 fps", lines[^1]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Bench_e2e_brings_every_ingested_frame_to_the_sink_and_reports_throughput_ceiling_and_their_ratio()
    {
        var clip = RepoPaths.Sample("test_360p.mp4");
        var settings = new BenchSettings
        {
            Source = clip,
            Cameras = 2,
            MaxBatch = 2,
            MaxWaitMs = 5,
            ModelPath = RepoPaths.Model("yolox_nano_dynamic.onnx"),
            CeilingWindow = TimeSpan.FromSeconds(2),
            Overrides = new Dictionary<string, string?> { ["Detect:ConcurrentRuns"] = "2" },
        };

        var result = await E2eBenchmark.RunAsync(settings, progress: null, CancellationToken.None);

        // Full pacing never drops: every frame of every camera went all the way through.
        var framesInClip = CountFrames(clip);
        Assert.Equal(2 * framesInClip, result.Ingested);
        Assert.Equal(result.Ingested, result.Sunk);
        Assert.Equal(PipelineHarness.SinkLatency, result.SinkCounter);

        // The figures agree with each other.
        Assert.True(result.Seconds > 0);
        Assert.Equal(result.Sunk / result.Seconds, result.Fps, 6);
        var serial = result.Serial;
        Assert.True(serial.DecodeMs > 0 && serial.InferenceMs > 0 && serial.PreprocessMs > 0);
        Assert.Equal(1000 / (serial.DecodeMs + serial.PreprocessMs + serial.InferenceMs + serial.PostprocessMs), serial.Fps, 6);
        Assert.Equal(result.Fps / serial.Fps, result.SerialRatio, 6);

        // The ceiling did the same work at the pipeline's parallelism: a decode loop per camera, a run loop per
        // concurrent run with the cores shared out between them, batches as large as the cameras can fill.
        var ceiling = result.Ceiling;
        Assert.Equal((2, 2, Math.Max(1, Environment.ProcessorCount / 2), 2), (ceiling.Cameras, ceiling.Runs, ceiling.IntraOpThreads, ceiling.Batch));
        Assert.True(ceiling.Frames > 0 && ceiling.Frames % ceiling.Batch == 0, $"{ceiling.Frames} frames in whole batches of {ceiling.Batch}");
        Assert.InRange(ceiling.Seconds, 1.9, 4);
        Assert.Equal(ceiling.Frames / ceiling.Seconds, ceiling.Fps, 6);
        // The pipeline is compared after its warm-up, by the ceiling's rule (1 s and 8 frames a camera): a part of the run.
        var warm = result.Warm;
        Assert.InRange(warm.Frames, 1, result.Sunk - 16);
        Assert.InRange(warm.Seconds, 0.001, result.Seconds - 1);
        Assert.InRange(warm.CpuSeconds, 0.001, result.CpuSeconds);
        Assert.True(result.Ratio > 0);
        Assert.Equal(warm.Frames / warm.Seconds / ceiling.Fps, result.Ratio, 6);
        Assert.True(result.CpuSeconds > 0 && ceiling.CpuSeconds > 0);
        Assert.Equal(warm.Frames / warm.CpuSeconds / (ceiling.Frames / ceiling.CpuSeconds), result.CpuRatio, 6);
        Assert.NotNull(result.SinkP50);
        Assert.True(result.SinkP50 <= result.SinkP90 && result.SinkP90 <= result.SinkP99);

        // What the command prints: the ratio is the last line.
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        E2eBenchmark.Print(output, result);
        _output.WriteLine(output.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith(string.Create(CultureInfo.InvariantCulture, $"frames per CPU-second, pipeline/ceiling: {result.CpuRatio:F3}"), lines[^2], StringComparison.Ordinal);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"ratio pipeline/ceiling: {result.Ratio:F3}"), lines[^1]);
    }

    [Fact]
    public async Task Bench_soak_keeps_memory_and_handles_flat_while_live_cameras_stream_at_25_fps()
    {
        // The 1-minute version of `stream bench soak --cameras 8`: eight 360p cameras paced like live ones at 25 fps,
        // more than a 2-core machine can process, so frames are dropped oldest-first (bounded queues). A leaked frame per
        // processed frame would add about 0.7 MB each (over a GB over the run); a leaked handle per frame, thousands.
        var options = new SoakOptions
        {
            Source = RepoPaths.Sample("test_360p.mp4"),
            Cameras = 8,
            Warmup = TimeSpan.FromSeconds(15),
            Duration = TimeSpan.FromMinutes(1),
            Overrides = new Dictionary<string, string?> { ["Detect:ModelPath"] = RepoPaths.Model("yolox_nano.onnx"), ["Detect:MaxBatch"] = "2" },
        };

        var result = await SoakBenchmark.RunAsync(options, progress: null, CancellationToken.None);

        using var output = new StringWriter(CultureInfo.InvariantCulture);
        SoakBenchmark.Print(output, result);
        _output.WriteLine(output.ToString());

        var processed = result.CountsEnd.Sunk - result.CountsStart.Sunk;
        Assert.True(processed > 100, $"only {processed} frames reached the sink during the soak");
        Assert.True(result.CountsEnd.Sunk + result.CountsEnd.Dropped <= result.CountsEnd.Ingested);
        Assert.InRange(result.End.Handles - result.Start.Handles, -16, 8);
        Assert.True(result.End.ManagedHeapBytes - result.Start.ManagedHeapBytes < 64L << 20,
            $"managed heap grew {(result.End.ManagedHeapBytes - result.Start.ManagedHeapBytes) >> 20} MiB");
        Assert.True(result.RssGrowthPercent < 25, $"RSS grew {result.RssGrowthPercent:F1} % over {processed} frames");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith("RSS growth: ", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_tune_measures_every_batch_and_wait_point_at_the_offered_load_and_writes_csv_and_png()
    {
        var output = Directory.CreateTempSubdirectory("stream-tune-").FullName;
        try
        {
            var options = new TuneOptions
            {
                Source = RepoPaths.Sample("test_360p.mp4"),
                Cameras = 1,
                Batches = [1, 2],
                Waits = [0, 20],
                Seconds = 2.5,
                WarmupSeconds = 1,
                LoadFps = 10,
                OutputDirectory = output,
                Overrides = new Dictionary<string, string?> { ["Detect:ModelPath"] = RepoPaths.Model("yolox_nano_dynamic.onnx") },
            };

            var result = await TuneBenchmark.RunAsync(options, progress: null, CancellationToken.None);

            Assert.Equal([(1, 0), (1, 20), (2, 0), (2, 20)], result.Points.Select(p => (p.Batch, p.WaitMs)));
            Assert.All(result.Points, p =>
            {
                // Paced at 10 frames/s: every point sees frames offered and coming through, and per-stage latencies.
                Assert.InRange(p.OfferedFps, 5, 15);
                Assert.True(p.Fps > 0);
                Assert.NotNull(p.SinkP50);
                Assert.True(p.SinkP50 <= p.SinkP99);
                Assert.All(p.Stages, s => Assert.NotNull(s.P99));
            });
            var csv = await File.ReadAllLinesAsync(result.CsvPath);
            Assert.Equal(1 + result.Points.Count, csv.Length);
            Assert.StartsWith("max_batch,max_wait_ms,", csv[0], StringComparison.Ordinal);
            var png = await File.ReadAllBytesAsync(result.PngPath);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    /// <summary>Frames in a file, counted independently of the pipeline.</summary>
    private static long CountFrames(string path)
    {
        using var capture = new VideoCapture(path);
        long frames = 0;
        while (capture.Grab())
        {
            frames++;
        }

        return frames;
    }
}
