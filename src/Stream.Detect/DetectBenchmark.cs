using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>Figures of one batch size.</summary>
public sealed record DetectBenchRow(int Batch, string Model, double ImagesPerSecond, double BareImagesPerSecond,
    double PreprocessMsPerImage, double InferenceMsPerImage, double PostprocessMsPerImage)
{
    /// <summary>Throughput of the full path (letterbox, run, decode, NMS) over bare <c>InferenceSession.Run</c> on the same tensors.</summary>
    public double Ratio => ImagesPerSecond / BareImagesPerSecond;
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

    public static DetectBenchRow Run(DetectOptions options, IReadOnlyList<Mat> frames, int batch, int iterations, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames.Count, batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(iterations);
        options.MaxBatch = batch;
        using var detector = Detector.Load(options, logger);
        var images = frames.Take(batch).ToList();
        var results = new Detection[batch][];
        detector.WarmUp();
        detector.Detect(images, results);

        // Bare: the same prepared tensors, InferenceSession.Run only.
        detector.Preprocess(0, images, 0, batch);
        var session = detector.Session;
        var variants = detector.Model.FixedBatch is { } fixedBatch ? Enumerable.Range(0, (batch + fixedBatch - 1) / fixedBatch).ToArray() : [batch - 1];
        void Bare()
        {
            foreach (var v in variants)
            {
                var (inputs, outputs, inputNames, outputNames, runOptions) = detector.RunArguments(v);
                session.Run(runOptions, inputNames, inputs, outputNames, outputs);
            }
        }

        Bare();

        // Alternate the two paths batch by batch so that both see the same machine load; the median batch time of
        // each path gives its throughput (robust to other processes' bursts on a shared machine).
        var full = new double[iterations];
        var bare = new double[iterations];
        double pre = 0, infer = 0, post = 0;
        for (var i = 0; i < iterations; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            detector.Detect(images, results);
            full[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            var t = detector.LastTimings;
            pre += t.PreprocessMs;
            infer += t.InferenceMs;
            post += t.PostprocessMs;
            t0 = Stopwatch.GetTimestamp();
            Bare();
            bare[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }

        double imagesDone = iterations * batch;
        return new DetectBenchRow(batch, Path.GetFileName(detector.Model.Path) + " on " + detector.Model.Provider,
            batch / (Median(full) / 1000), batch / (Median(bare) / 1000), pre / imagesDone, infer / imagesDone, post / imagesDone);
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static void Print(TextWriter writer, DetectBenchRow row)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(row);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"batch {row.Batch,2}  {row.ImagesPerSecond,7:F1} images/s  (bare Run {row.BareImagesPerSecond,7:F1})  ms/image: preprocess {row.PreprocessMsPerImage,6:F2}  inference {row.InferenceMsPerImage,6:F2}  postprocess {row.PostprocessMsPerImage,6:F2}  ratio {row.Ratio:F3}  [{row.Model}]"));
    }
}
