using System.Diagnostics;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;

namespace Streaming.Eval;

/// <summary>What <c>stream eval detect</c> runs.</summary>
public sealed record DetectionEvalSettings
{
    /// <summary>The ONNX models to compare, in order (named A, B, ... in the summary).</summary>
    public required IReadOnlyList<string> Models { get; init; }

    /// <summary>Classes to evaluate, by the label set's names; empty: every class of the labels.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];

    /// <summary>The operating threshold (Detect:ScoreThreshold) at which precision, recall, speed and the worst images are measured.</summary>
    public float ScoreThreshold { get; init; } = new DetectOptions().ScoreThreshold;

    /// <summary>The threshold of the AP pass: low, as COCO evaluation runs detectors, so the PR curve reaches full recall.</summary>
    public float ApScoreThreshold { get; init; } = 0.001f;

    public ExecutionProviderKind Provider { get; init; } = ExecutionProviderKind.Auto;

    /// <summary>Also run each model in FP16 where the provider offers it (TensorRT).</summary>
    public bool CompareFp16 { get; init; } = true;

    /// <summary>Class names of the models, one per line (Detect:LabelsFile); null: each model's metadata, else COCO's 80.</summary>
    public string? ModelLabelsFile { get; init; }

    /// <summary>Output head (Detect:Head); auto recognises it from the output shape.</summary>
    public HeadKind Head { get; init; } = HeadKind.Auto;

    /// <summary>Pictures per Detect call, as Detect:MaxBatch.</summary>
    public int Batch { get; init; } = new DetectOptions().MaxBatch;
}

/// <summary>The figures of one model (or one precision of a model).</summary>
public sealed record ModelEvaluation(
    string Name,
    string ModelPath,
    string Provider,
    string Precision,
    ApResult Ap,
    IReadOnlyList<string> Classes,
    OperatingPoint Operating,
    double ImagesPerSecond,
    IReadOnlyList<ImageOutcome> Images);

/// <summary>Counts at the operating threshold (IoU 0.5): overall and per class.</summary>
public sealed record OperatingPoint(int[] TruePositives, int[] FalsePositives, int[] Misses)
{
    public int Tp => TruePositives.Sum();

    public int Fp => FalsePositives.Sum();

    public int Fn => Misses.Sum();

    public double Precision => Tp + Fp == 0 ? 0 : (double)Tp / (Tp + Fp);

    public double Recall => Tp + Fn == 0 ? 0 : (double)Tp / (Tp + Fn);

    public double ClassPrecision(int k) => TruePositives[k] + FalsePositives[k] == 0 ? 0 : (double)TruePositives[k] / (TruePositives[k] + FalsePositives[k]);

    public double ClassRecall(int k) => TruePositives[k] + Misses[k] == 0 ? 0 : (double)TruePositives[k] / (TruePositives[k] + Misses[k]);
}

/// <summary>One image at the operating threshold: its truth, and which detections were false and which truth boxes were missed.</summary>
public sealed record ImageOutcome(LabelledImage Image, IReadOnlyList<GroundTruthBox> Truth, IReadOnlyList<ScoredBox> FalsePositives, IReadOnlyList<GroundTruthBox> Misses)
{
    public int Errors => FalsePositives.Count + Misses.Count;
}

/// <summary>
/// Runs each model through the Detect stage's <see cref="Detector"/> (same letterbox, decode and NMS as the pipeline)
/// over a label set: once at a low score threshold for COCO AP, once at the operating threshold for precision, recall,
/// the worst images and images/s (only that pass's Detect calls are timed; decoding the files is not).
/// </summary>
public static class DetectionEvaluation
{
    /// <summary>The evaluated classes (indices into the label set's classes); stops with one line when a name is unknown.</summary>
    public static IReadOnlyList<int> SelectClasses(LabelSet labels, IReadOnlyList<string> requested)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(requested);
        if (requested.Count == 0)
        {
            return [.. Enumerable.Range(0, labels.Classes.Count)];
        }

        var unknown = requested.Where(c => !labels.Classes.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count > 0)
        {
            throw new LabelFormatException($"--classes {string.Join(", ", unknown)}: not in the labels ({labels.Format} classes: {string.Join(", ", labels.Classes)}): use names from the labels");
        }

        return [.. requested.Select(c => labels.Classes.ToList().FindIndex(l => string.Equals(l, c, StringComparison.OrdinalIgnoreCase))).Distinct()];
    }

    /// <summary>Maps each evaluated class to the model's class id; stops with one line naming the classes the model does not know and its own.</summary>
    public static int[] ModelClassIds(IReadOnlyList<string> evaluated, IReadOnlyList<string> modelLabels, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(evaluated);
        ArgumentNullException.ThrowIfNull(modelLabels);
        var ids = evaluated.Select(name => modelLabels.ToList().FindIndex(l => string.Equals(l, name, StringComparison.OrdinalIgnoreCase))).ToArray();
        var unknown = evaluated.Where((_, i) => ids[i] < 0).ToList();
        if (unknown.Count > 0)
        {
            throw new DetectModelException(
                $"model '{Path.GetFileName(modelPath)}' does not know the class{(unknown.Count > 1 ? "es" : string.Empty)} {string.Join(", ", unknown)} (its {modelLabels.Count} classes: {string.Join(", ", modelLabels)}): pass --classes with classes it knows, or give the model's names with --model-labels (Detect:LabelsFile) if they are wrong");
        }

        return ids;
    }

    /// <summary>Evaluates every model (and its FP16 variant where available) on <paramref name="labels"/>.</summary>
    public static IReadOnlyList<ModelEvaluation> Run(LabelSet labels, DetectionEvalSettings settings, Action<string>? note = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(settings);
        note ??= _ => { };
        var classes = SelectClasses(labels, settings.Classes);
        var results = new List<ModelEvaluation>();
        for (var m = 0; m < settings.Models.Count; m++)
        {
            var name = ((char)('A' + (m % 26))).ToString();
            var fp32 = RunOne(labels, classes, settings, settings.Models[m], name, fp16: false, ct);
            results.Add(fp32);
            if (!settings.CompareFp16)
            {
                continue;
            }

            if (fp32.Provider == "TensorRT")
            {
                results.Add(RunOne(labels, classes, settings, settings.Models[m], name + "-fp16", fp16: true, ct));
            }
            else
            {
                note($"{name}: FP16 not compared: the {fp32.Provider} provider runs FP32 only (Detect:Fp16 applies to TensorRT)");
            }
        }

        return results;
    }

    private static ModelEvaluation RunOne(LabelSet labels, IReadOnlyList<int> classes, DetectionEvalSettings settings, string modelPath, string name, bool fp16, CancellationToken ct)
    {
        var evaluatedNames = classes.Select(k => labels.Classes[k]).ToList();
        var slot = new int[labels.Classes.Count];
        Array.Fill(slot, -1);
        for (var i = 0; i < classes.Count; i++)
        {
            slot[classes[i]] = i;
        }

        DetectOptions Options(float threshold, IEnumerable<int> ids)
        {
            var o = new DetectOptions
            {
                ModelPath = modelPath,
                ScoreThreshold = threshold,
                Provider = settings.Provider,
                Fp16 = fp16,
                MaxBatch = settings.Batch,
                LabelsFile = settings.ModelLabelsFile,
                Head = settings.Head,
            };
            foreach (var id in ids)
            {
                o.Classes.Add(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            return o;
        }

        // The operating detector is loaded first with every class, to learn the model's classes and give its one-line errors.
        int[] modelIds;
        using (var probe = Detector.Load(Options(settings.ScoreThreshold, [])))
        {
            modelIds = ModelClassIds(evaluatedNames, probe.Labels, modelPath);
        }

        var toSlot = modelIds.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        using var apDetector = Detector.Load(Options(settings.ApScoreThreshold, modelIds));
        using var operating = Detector.Load(Options(settings.ScoreThreshold, modelIds));
        apDetector.WarmUp();
        operating.WarmUp();

        var perImage = new List<ImageDetections>(labels.Images.Count);
        var outcomes = new List<ImageOutcome>(labels.Images.Count);
        var tp = new int[classes.Count];
        var fp = new int[classes.Count];
        var fn = new int[classes.Count];
        var timed = 0L;
        var batch = Math.Max(1, settings.Batch);
        for (var start = 0; start < labels.Images.Count; start += batch)
        {
            ct.ThrowIfCancellationRequested();
            var chunk = labels.Images.Skip(start).Take(batch).ToList();
            var mats = new List<Mat>(chunk.Count);
            try
            {
                foreach (var image in chunk)
                {
                    var mat = Cv2.ImRead(image.Path, ImreadModes.Color);
                    if (mat.Empty())
                    {
                        mat.Dispose();
                        throw new LabelFormatException($"{image.Path}: not an image OpenCV can read: remove it from --images or convert it");
                    }

                    mats.Add(mat);
                }

                var low = apDetector.Detect(mats);
                var t0 = Stopwatch.GetTimestamp();
                var op = operating.Detect(mats);
                timed += Stopwatch.GetTimestamp() - t0;
                for (var i = 0; i < chunk.Count; i++)
                {
                    var truth = chunk[i].InPixels(mats[i].Width, mats[i].Height)
                        .Where(g => slot[g.ClassIndex] >= 0)
                        .Select(g => g with { ClassIndex = slot[g.ClassIndex] })
                        .ToList();
                    perImage.Add(new ImageDetections(truth, Map(low[i], toSlot)));
                    outcomes.Add(Outcome(chunk[i], truth, Map(op[i], toSlot), tp, fp, fn));
                }
            }
            finally
            {
                foreach (var mat in mats)
                {
                    mat.Dispose();
                }
            }
        }

        var seconds = Stopwatch.GetElapsedTime(0, timed).TotalSeconds;
        return new ModelEvaluation(name, Path.GetFullPath(modelPath), operating.Model.Provider, fp16 ? "FP16" : "FP32",
            CocoAp.Evaluate(perImage, classes.Count), evaluatedNames, new OperatingPoint(tp, fp, fn),
            seconds > 0 ? labels.Images.Count / seconds : 0, outcomes);
    }

    private static List<ScoredBox> Map(Detection[] detections, Dictionary<int, int> toSlot) =>
        [.. detections.Where(d => toSlot.ContainsKey(d.ClassId)).Select(d => new ScoredBox(d.Box, d.Score, toSlot[d.ClassId]))];

    /// <summary>Matches one image at IoU 0.5 (COCO's greedy rule, crowd and ignored boxes neither found nor missed) and counts into the per-class totals.</summary>
    public static ImageOutcome Outcome(LabelledImage image, IReadOnlyList<GroundTruthBox> truth, IReadOnlyList<ScoredBox> detections, int[] tp, int[] fp, int[] fn)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(tp);
        ArgumentNullException.ThrowIfNull(fp);
        ArgumentNullException.ThrowIfNull(fn);
        var falses = new List<ScoredBox>();
        var misses = new List<GroundTruthBox>();
        foreach (var k in truth.Select(g => g.ClassIndex).Concat(detections.Select(d => d.ClassIndex)).Distinct())
        {
            var gt = truth.Where(g => g.ClassIndex == k).ToList();
            var dt = detections.Where(d => d.ClassIndex == k).OrderByDescending(d => d.Score).ToList();
            var ignore = gt.Select(g => g.Crowd || g.Ignore).ToList();
            var (dtMatch, dtIgnored, gtMatch) = CocoAp.Match(gt, ignore, dt, 0.5);
            for (var d = 0; d < dt.Count; d++)
            {
                if (dtMatch[d] < 0)
                {
                    fp[k]++;
                    falses.Add(dt[d]);
                }
                else if (!dtIgnored[d])
                {
                    tp[k]++;
                }
            }

            for (var g = 0; g < gt.Count; g++)
            {
                if (gtMatch[g] < 0 && !ignore[g])
                {
                    fn[k]++;
                    misses.Add(gt[g]);
                }
            }
        }

        return new ImageOutcome(image, truth, falses, misses);
    }
}
