using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Ingest;

namespace Streaming.Bench;

/// <summary>Serial cost per frame of the pipeline's work, measured in isolation on the same frames and settings.</summary>
public sealed record Ceiling(int Frames, int DetectFrames, int Batch, string Model, double DecodeMs, double PreprocessMs, double InferenceMs, double PostprocessMs,
    string Decoder)
{
    public double MsPerFrame => DecodeMs + PreprocessMs + InferenceMs + PostprocessMs;

    /// <summary>Two measurements pooled frame-weighted (e.g. one taken before and one after the pipeline run, so both bracket the same machine load).</summary>
    public static Ceiling Combine(Ceiling a, Ceiling b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        double Mix(double x, int nx, double y, int ny) => (x * nx + y * ny) / Math.Max(1, nx + ny);
        return a with
        {
            Frames = a.Frames + b.Frames,
            DetectFrames = a.DetectFrames + b.DetectFrames,
            DecodeMs = Mix(a.DecodeMs, a.Frames, b.DecodeMs, b.Frames),
            PreprocessMs = Mix(a.PreprocessMs, a.DetectFrames, b.PreprocessMs, b.DetectFrames),
            InferenceMs = Mix(a.InferenceMs, a.DetectFrames, b.InferenceMs, b.DetectFrames),
            PostprocessMs = Mix(a.PostprocessMs, a.DetectFrames, b.PostprocessMs, b.DetectFrames),
        };
    }

    /// <summary>Frames per second the machine manages doing this work one frame after the other.</summary>
    public double Fps => MsPerFrame > 0 ? 1000 / MsPerFrame : 0;
}

/// <summary>
/// The serial sum of the stage times for a benchmark run (the former <c>bench e2e</c> ceiling, printed beside
/// <see cref="MachineCeiling"/>): the same file decoded with the pipeline's own file decoder
/// (the source <see cref="FrameSources"/> picks as <c>Ingest:FileDecoder</c> says, same decoder threads; decode ms = wall time per frame, open included), then the same frames through the Detect stage's
/// <see cref="Detector"/> with the same options (model, MaxBatch, ONNX Runtime threads), in full batches, one after
/// the other: fps = 1000 / (decode + preprocess + inference + postprocess ms per frame). It is no ceiling: a pipeline
/// that overlaps decoding with inference, or runs several batches at once (<c>Detect:ConcurrentRuns</c>), beats it.
/// </summary>
internal static class CeilingMeasurement
{
    /// <param name="keepFrames">How many decoded frames are kept for detection (all frames of the file are decoded and timed).</param>
    /// <param name="detectPasses">How many times the kept frames are run through the detector.</param>
    public static Ceiling Measure(string source, IConfiguration configuration, int keepFrames, int detectPasses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var ingest = configuration.GetSection(IngestOptions.Section).Get<IngestOptions>() ?? new IngestOptions();
        var options = configuration.GetSection(DetectOptions.Section).Get<DetectOptions>() ?? new DetectOptions();
        var camera = new CameraOptions { Id = "ceiling", Url = source, Pacing = FilePacing.Full, Loop = false };
        var kept = new List<Frame>(keepFrames);
        try
        {
            long decoded = 0;
            var clock = Stopwatch.StartNew();
            // The decoder the pipeline's camera worker picks for a file (Ingest:FileDecoder, same decoder threads).
            using (var capture = FrameSources.Create(camera, ingest))
            {
                capture.Open(cancellationToken);
                while (capture.Read(camera.Id, decoded, live: false, cancellationToken) is { } frame)
                {
                    decoded++;
                    if (kept.Count < keepFrames)
                    {
                        kept.Add(frame);
                    }
                    else
                    {
                        frame.Dispose();
                    }
                }
            }

            var decodeMs = clock.Elapsed.TotalMilliseconds / Math.Max(1, decoded);
            if (kept.Count == 0)
            {
                throw new InvalidOperationException($"{source} has no decodable frames: pass a video OpenCV can read.");
            }

            using var detector = Detector.Load(options);
            detector.WarmUp();
            var images = kept.Select(f => f.Image).ToList();
            var batch = Math.Max(1, options.MaxBatch);
            var results = new Detection[batch][];
            var chunk = new List<OpenCvSharp.Mat>(batch);

            // One untimed pass so that every batch shape and buffer is warm.
            RunPass(detector, images, batch, chunk, results, out _, out _, out _);
            double pre = 0, infer = 0, post = 0;
            var detected = 0;
            for (var pass = 0; pass < detectPasses; pass++)
            {
                detected += RunPass(detector, images, batch, chunk, results, out var p, out var i, out var q);
                pre += p;
                infer += i;
                post += q;
            }

            return new Ceiling((int)decoded, detected, batch, Path.GetFileName(options.ModelPath) + " on " + detector.Model.Provider,
                decodeMs, pre / detected, infer / detected, post / detected,
                ingest.EffectiveFileDecoder switch { FileDecoder.Libav => "libav in-process", FileDecoder.Ffmpeg => "ffmpeg pipe", _ => "VideoCapture" });
        }
        finally
        {
            foreach (var frame in kept)
            {
                frame.Dispose();
            }
        }
    }

    private static int RunPass(Detector detector, List<OpenCvSharp.Mat> images, int batch, List<OpenCvSharp.Mat> chunk, Detection[][] results,
        out double pre, out double infer, out double post)
    {
        pre = infer = post = 0;
        var count = 0;
        for (var start = 0; start + batch <= images.Count; start += batch)
        {
            chunk.Clear();
            chunk.AddRange(images.Skip(start).Take(batch));
            detector.Detect(chunk, results);
            var t = detector.LastTimings;
            pre += t.PreprocessMs;
            infer += t.InferenceMs;
            post += t.PostprocessMs;
            count += chunk.Count;
        }

        return count;
    }
}
