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
        options.MaxBatch = batch;
        using var detector = Detector.Load(options, logger);
        var images = frames.Take(batch).ToList();
        var results = new Detection[batch][];
        detector.WarmUp();
        detector.Detect(images, results);

        // Bare: the same prepared tensors, InferenceSession.Run only.
        detector.Preprocess(images, 0, batch);
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
        double fullMs = 0, bareMs = 0, pre = 0, infer = 0, post = 0;
        const int rounds = 5;
        var perRound = Math.Max(1, iterations / rounds);
        for (var r = 0; r < rounds; r++)
        {
            var t0 = Stopwatch.GetTimestamp();
            for (var i = 0; i < perRound; i++)
            {
                detector.Detect(images, results);
                var t = detector.LastTimings;
                pre += t.PreprocessMs;
                infer += t.InferenceMs;
                post += t.PostprocessMs;
            }

            fullMs += Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            t0 = Stopwatch.GetTimestamp();
            for (var i = 0; i < perRound; i++)
            {
                Bare();
            }

            bareMs += Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }

        double imagesDone = rounds * perRound * batch;
        return new DetectBenchRow(batch, Path.GetFileName(detector.Model.Path) + " on " + detector.Model.Provider,
            imagesDone / (fullMs / 1000), imagesDone / (bareMs / 1000), pre / imagesDone, infer / imagesDone, post / imagesDone);
    }

    public static void Print(TextWriter writer, DetectBenchRow row)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(row);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"batch {row.Batch,2}  {row.ImagesPerSecond,7:F1} images/s  (bare Run {row.BareImagesPerSecond,7:F1})  ms/image: preprocess {row.PreprocessMsPerImage,6:F2}  inference {row.InferenceMsPerImage,6:F2}  postprocess {row.PostprocessMsPerImage,6:F2}  ratio {row.Ratio:F3}  [{row.Model}]"));
    }
}
