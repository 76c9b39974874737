using System.Globalization;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;

namespace Streaming.Bench;

/// <summary>Figures of one batch size.</summary>
public sealed record DetectBenchRow(int Batch, string Model, string Provider, string Flavor, double ImagesPerSecond, double PipelinedImagesPerSecond,
    double BareImagesPerSecond, double PreprocessMsPerImage, double InferenceMsPerImage, double PostprocessMsPerImage)
{
    /// <summary>Throughput of the full path as the stage runs it (two lanes: the next batch is letterboxed while the model runs) over bare <c>InferenceSession.Run</c> on the same tensors.</summary>
    public double Ratio => PipelinedImagesPerSecond / BareImagesPerSecond;

    /// <summary>The same for the plain sequential path (letterbox, run, decode, NMS one after the other).</summary>
    public double SequentialRatio => ImagesPerSecond / BareImagesPerSecond;
}

/// <summary>
/// Measures the full detection path against bare <c>InferenceSession.Run</c> on the same prepared tensors, in the same
/// run, alternating the two in rounds so that both see the same machine load.
/// </summary>
public static class DetectBenchmark
{
    /// <summary>
    /// Builds <paramref name="count"/> different camera-sized pictures from <paramref name="image"/> (shifted crops,
    /// mirrored every other one) so that every picture of a batch is a different frame.
    /// </summary>
    public static List<Mat> MakeFrames(Mat image, int count, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        var frames = new List<Mat>(count);
        using var big = new Mat();
        Cv2.Resize(image, big, new Size(width + 8 * count, height + 6 * count));
        for (var i = 0; i < count; i++)
        {
            using var crop = new Mat(big, new Rect(8 * i, 6 * i, width, height));
            var frame = new Mat();
            if (i % 2 == 1)
            {
                Cv2.Flip(crop, frame, FlipMode.Y);
            }
            else
            {
                crop.CopyTo(frame);
            }

            frames.Add(frame);
        }

        return frames;
    }

    public static DetectBenchRow Run(DetectOptions options, IReadOnlyList<Mat> frames, int batch, int iterations, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames.Count, batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(iterations);
        var clock = time ?? TimeProvider.System;
        options.MaxBatch = batch;
        using var detector = Detector.Load(options, logger, clock);
        var lanes = new[] { detector.CreateLane(), detector.CreateLane() };
        var images = frames.Take(batch).ToList();
        var results = new Detection[batch][];
        detector.WarmUp(lanes);
        detector.Detect(images, results);

        // Bare: InferenceSession.Run on the same prepared tensors, without the bindings.
        var bareLane = lanes[0];
        bareLane.Preprocess(images, 0, batch);
        bareLane.RunBare(batch);

        // Alternate the paths batch by batch so that all see the same machine load. Each path's throughput comes from its
        // 10th-percentile batch time: close to the uncontended cost, and robust to other processes' bursts on a shared machine.
        var full = new double[iterations];
        var pipelined = new double[iterations];
        var bare = new double[iterations];
        var lane = 0;
        lanes[lane].Preprocess(images, 0, batch);
        double pre = 0, infer = 0, post = 0;
        for (var i = 0; i < iterations; i++)
        {
            var t0 = clock.GetTimestamp();
            detector.Detect(images, results);
            full[i] = clock.GetElapsedTime(t0).TotalMilliseconds;
            var t = detector.LastTimings;
            pre += t.PreprocessMs;
            infer += t.InferenceMs;
            post += t.PostprocessMs;

            // As the stage does it: the next batch is letterboxed into the other lane while this one runs.
            t0 = clock.GetTimestamp();
            var next = lanes[1 - lane];
            var prepare = Task.Run(() => next.Preprocess(images, 0, batch));
            lanes[lane].Infer(batch);
            lanes[lane].Postprocess(batch, results);
            prepare.Wait();
            lane = 1 - lane;
            pipelined[i] = clock.GetElapsedTime(t0).TotalMilliseconds;

            t0 = clock.GetTimestamp();
            lanes[lane].RunBare(batch);
            bare[i] = clock.GetElapsedTime(t0).TotalMilliseconds;
        }

        double imagesDone = iterations * batch;
        return new DetectBenchRow(batch, Path.GetFileName(detector.Model.Path), detector.Model.Provider, Detector.Flavor,
            batch / (Percentile10(full) / 1000), batch / (Percentile10(pipelined) / 1000), batch / (Percentile10(bare) / 1000), pre / imagesDone, infer / imagesDone, post / imagesDone);
    }

    private static double Percentile10(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[(sorted.Length - 1) / 10];
    }

    public static void Print(TextWriter writer, DetectBenchRow row)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(row);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"batch {row.Batch,2}  {row.PipelinedImagesPerSecond,7:F1} images/s (sequential {row.ImagesPerSecond,6:F1}, bare Run {row.BareImagesPerSecond,6:F1})  ms/image: preprocess {row.PreprocessMsPerImage,5:F2} inference {row.InferenceMsPerImage,6:F2} postprocess {row.PostprocessMsPerImage,5:F2}  ratio {row.Ratio:F3} (sequential {row.SequentialRatio:F3})  [{row.Model}, provider {row.Provider}, {row.Flavor} package]"));
    }
}
