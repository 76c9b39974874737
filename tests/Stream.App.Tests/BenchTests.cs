using System.Globalization;
using OpenCvSharp;
using Streaming.App.Bench;
using Streaming.Testing;

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
        Assert.True(result.Ceiling.DecodeMs > 0 && result.Ceiling.InferenceMs > 0 && result.Ceiling.PreprocessMs > 0);
        Assert.Equal(1000 / (result.Ceiling.DecodeMs + result.Ceiling.PreprocessMs + result.Ceiling.InferenceMs + result.Ceiling.PostprocessMs), result.Ceiling.Fps, 6);
        Assert.True(result.Ratio > 0);
        Assert.Equal(result.Fps / result.Ceiling.Fps, result.Ratio, 6);
        Assert.NotNull(result.SinkP50);
        Assert.True(result.SinkP50 <= result.SinkP90 && result.SinkP90 <= result.SinkP99);

        // What the command prints: the ratio is the last line.
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        E2eBenchmark.Print(output, result);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"ratio pipeline/ceiling: {result.Ratio:F3}"), lines[^1]);
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
