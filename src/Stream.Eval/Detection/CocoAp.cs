using Streaming.Core;

namespace Streaming.Eval;

/// <summary>An object-size bucket of COCO: boxes whose area lies in [Min, Max] pixels².</summary>
public sealed record AreaRange(string Name, double Min, double Max);

/// <summary>Ground truth and detections of one image, both in the label set's class numbering.</summary>
public sealed record ImageDetections(IReadOnlyList<GroundTruthBox> Truth, IReadOnlyList<ScoredBox> Detections);

/// <summary>
/// Average precision as COCO's reference evaluator (pycocotools <c>COCOeval</c>, bbox) computes it: per class, image and
/// area range, detections (best 100 per image and class) are matched greedily by score to the unmatched box of highest
/// IoU, preferring real boxes to crowd/ignored ones; crowd boxes may take several detections and use intersection over
/// the detection's area. Detections are then pooled over images in descending score (a stable sort, so ties keep image
/// order, as COCO's mergesort does), precision is made monotone from the right and read at the 101 recall points
/// 0, 0.01 .. 1 (the first detection whose recall reaches each point), and averaged.
/// </summary>
public static class CocoAp
{
    /// <summary>IoU thresholds 0.50, 0.55 .. 0.95.</summary>
    public static IReadOnlyList<double> IouThresholds { get; } = [.. Enumerable.Range(0, 10).Select(i => Math.Round(0.5 + (0.05 * i), 2))];

    /// <summary>Recall points 0, 0.01 .. 1.</summary>
    public static IReadOnlyList<double> RecallThresholds { get; } = [.. Enumerable.Range(0, 101).Select(i => i / 100.0)];

    /// <summary>all, small (&lt; 32²), medium (32² .. 96²), large (&gt; 96²), as COCO.</summary>
    public static IReadOnlyList<AreaRange> AreaRanges { get; } =
    [
        new("all", 0, 1e10),
        new("small", 0, 32 * 32),
        new("medium", 32 * 32, 96 * 96),
        new("large", 96 * 96, 1e10),
    ];

    /// <summary>COCO's maxDets for AP: at most this many detections per image and class count.</summary>
    public const int MaxDetections = 100;

    /// <summary>numpy's spacing(1), which COCO adds to the precision denominator.</summary>
    private const double Epsilon = 2.220446049250313e-16;

    public static ApResult Evaluate(IReadOnlyList<ImageDetections> images, int classCount, int maxDetections = MaxDetections)
    {
        ArgumentNullException.ThrowIfNull(images);
        var t = IouThresholds.Count;
        var r = RecallThresholds.Count;
        var a = AreaRanges.Count;
        var precision = new double[t, r, classCount, a];
        var recall = new double[t, classCount, a];
        var scores = new double[classCount][];

        for (var k = 0; k < classCount; k++)
        {
            var perImage = images.Select(im => (
                Gt: im.Truth.Where(g => g.ClassIndex == k).ToArray(),
                Dt: im.Detections.Where(d => d.ClassIndex == k).OrderByDescending(d => d.Score).Take(maxDetections).ToArray())).ToArray();
            for (var ai = 0; ai < a; ai++)
            {
                var range = AreaRanges[ai];
                var pooledScores = new List<double>();
                var pooledMatched = new List<bool>[t];
                var pooledIgnored = new List<bool>[t];
                for (var ti = 0; ti < t; ti++)
                {
                    pooledMatched[ti] = [];
                    pooledIgnored[ti] = [];
                }

                var counted = 0;
                foreach (var (gt, dt) in perImage)
                {
                    if (gt.Length == 0 && dt.Length == 0)
                    {
                        continue;
                    }

                    var ignore = gt.Select(g => g.Crowd || g.Ignore || g.Area < range.Min || g.Area > range.Max).ToArray();
                    counted += ignore.Count(i => !i);
                    pooledScores.AddRange(dt.Select(d => (double)d.Score));
                    for (var ti = 0; ti < t; ti++)
                    {
                        var (dtMatch, dtIgnore, _) = Match(gt, ignore, dt, IouThresholds[ti]);
                        for (var d = 0; d < dt.Length; d++)
                        {
                            var outside = dtMatch[d] < 0 && (dt[d].Box.Area < range.Min || dt[d].Box.Area > range.Max);
                            pooledMatched[ti].Add(dtMatch[d] >= 0);
                            pooledIgnored[ti].Add(dtIgnore[d] || outside);
                        }
                    }
                }

                if (ai == 0)
                {
                    scores[k] = [.. pooledScores];
                }

                if (counted == 0)
                {
                    for (var ti = 0; ti < t; ti++)
                    {
                        recall[ti, k, ai] = -1;
                        for (var ri = 0; ri < r; ri++)
                        {
                            precision[ti, ri, k, ai] = -1;
                        }
                    }

                    continue;
                }

                // Stable descending order: ties keep image order, as COCO's mergesort of -score.
                var order = Enumerable.Range(0, pooledScores.Count).OrderByDescending(i => pooledScores[i]).ToArray();
                for (var ti = 0; ti < t; ti++)
                {
                    var curve = Curve(order, pooledMatched[ti], pooledIgnored[ti], counted);
                    recall[ti, k, ai] = curve.Recall.Length > 0 ? curve.Recall[^1] : 0;
                    var q = Interpolate(curve.Recall, curve.Precision);
                    for (var ri = 0; ri < r; ri++)
                    {
                        precision[ti, ri, k, ai] = q[ri];
                    }
                }
            }
        }

        return new ApResult(precision, recall, classCount);
    }

    /// <summary>Recall and precision after each detection in <paramref name="order"/> (ignored ones count as neither TP nor FP).</summary>
    private static (double[] Recall, double[] Precision) Curve(int[] order, List<bool> matched, List<bool> ignored, int positives)
    {
        var rc = new double[order.Length];
        var pr = new double[order.Length];
        double tp = 0, fp = 0;
        for (var i = 0; i < order.Length; i++)
        {
            var d = order[i];
            if (!ignored[d])
            {
                if (matched[d])
                {
                    tp++;
                }
                else
                {
                    fp++;
                }
            }

            rc[i] = tp / positives;
            pr[i] = tp / (tp + fp + Epsilon);
        }

        return (rc, pr);
    }

    /// <summary>
    /// COCO's 101-point interpolation: precision made non-increasing from the right, then read at the first detection whose
    /// recall reaches each recall point; points beyond the last recall reached are 0.
    /// </summary>
    public static double[] Interpolate(IReadOnlyList<double> recall, IReadOnlyList<double> precision)
    {
        ArgumentNullException.ThrowIfNull(recall);
        ArgumentNullException.ThrowIfNull(precision);
        var envelope = precision.ToArray();
        for (var i = envelope.Length - 1; i > 0; i--)
        {
            envelope[i - 1] = Math.Max(envelope[i - 1], envelope[i]);
        }

        var q = new double[RecallThresholds.Count];
        var p = 0;
        for (var ri = 0; ri < q.Length; ri++)
        {
            // searchsorted(recall, point, side='left'): first index with recall >= point.
            while (p < recall.Count && recall[p] < RecallThresholds[ri])
            {
                p++;
            }

            if (p >= recall.Count)
            {
                break;
            }

            q[ri] = envelope[p];
        }

        return q;
    }

    /// <summary>
    /// Greedy matching of one image and class at one IoU threshold, as COCO's evaluateImg: detections in descending
    /// score take the unmatched box of highest IoU (a crowd box stays available); once a real box is matched, ignored
    /// ones are not considered. Returns, per detection, the matched truth index (or -1) and whether it matched an
    /// ignored box; per truth box, the matching detection (or -1).
    /// </summary>
    public static (int[] DetectionMatch, bool[] DetectionIgnored, int[] TruthMatch) Match(
        IReadOnlyList<GroundTruthBox> truth, IReadOnlyList<bool> ignore, IReadOnlyList<ScoredBox> detections, double iouThreshold)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(ignore);
        ArgumentNullException.ThrowIfNull(detections);

        // Real boxes first, then ignored ones (stable), as COCO sorts the ground truth.
        var gtOrder = Enumerable.Range(0, truth.Count).OrderBy(i => ignore[i] ? 1 : 0).ToArray();
        var dtMatch = new int[detections.Count];
        var dtIgnore = new bool[detections.Count];
        var gtMatch = new int[truth.Count];
        Array.Fill(dtMatch, -1);
        Array.Fill(gtMatch, -1);
        for (var d = 0; d < detections.Count; d++)
        {
            var best = Math.Min(iouThreshold, 1 - 1e-10);
            var m = -1;
            foreach (var g in gtOrder)
            {
                if (gtMatch[g] >= 0 && !truth[g].Crowd)
                {
                    continue;
                }

                if (m > -1 && !ignore[m] && ignore[g])
                {
                    break;
                }

                var iou = Iou(detections[d].Box, truth[g].Box, truth[g].Crowd);
                if (iou < best)
                {
                    continue;
                }

                best = iou;
                m = g;
            }

            if (m == -1)
            {
                continue;
            }

            dtMatch[d] = m;
            dtIgnore[d] = ignore[m];
            gtMatch[m] = d;
        }

        return (dtMatch, dtIgnore, gtMatch);
    }

    /// <summary>IoU of a detection and a truth box; against a crowd box, intersection over the detection's area (COCO).</summary>
    public static double Iou(BoxF detection, BoxF truth, bool crowd = false)
    {
        var w = Math.Min(detection.X2, truth.X2) - Math.Max(detection.X1, truth.X1);
        var h = Math.Min(detection.Y2, truth.Y2) - Math.Max(detection.Y1, truth.Y1);
        if (w <= 0 || h <= 0)
        {
            return 0;
        }

        var inter = (double)w * h;
        var union = crowd ? detection.Area : detection.Area + (double)truth.Area - inter;
        return union <= 0 ? 0 : inter / union;
    }
}

/// <summary>
/// The accumulated precision [IoU, recall point, class, area] and recall [IoU, class, area] of <see cref="CocoAp"/>;
/// -1 where a class has no ground truth in that area range (left out of every mean, as COCO does).
/// </summary>
public sealed class ApResult(double[,,,] precision, double[,,] recall, int classCount)
{
    public int ClassCount { get; } = classCount;

    /// <summary>Mean precision over the recall points, the chosen IoU thresholds (all when null) and classes (all when null).</summary>
    public double Ap(int? classIndex = null, int area = 0, int? iouIndex = null)
    {
        double sum = 0;
        var n = 0;
        for (var t = iouIndex ?? 0; t <= (iouIndex ?? precision.GetLength(0) - 1); t++)
        {
            for (var k = classIndex ?? 0; k <= (classIndex ?? ClassCount - 1); k++)
            {
                for (var r = 0; r < precision.GetLength(1); r++)
                {
                    var p = precision[t, r, k, area];
                    if (p > -1)
                    {
                        sum += p;
                        n++;
                    }
                }
            }
        }

        return n == 0 ? -1 : sum / n;
    }

    /// <summary>AP@[.5:.95] of all classes, area all: COCO's headline mAP.</summary>
    public double Map => Ap();

    /// <summary>AP at IoU 0.5 of all classes.</summary>
    public double Map50 => Ap(iouIndex: 0);

    /// <summary>Recall reached at the end of the list (IoU threshold index, class), area all; -1 without ground truth.</summary>
    public double RecallAt(int iouIndex, int classIndex) => recall[iouIndex, classIndex, 0];

    /// <summary>The interpolated precision at the 101 recall points for one class and IoU threshold (area all); null without ground truth.</summary>
    public double[]? PrecisionCurve(int classIndex, int iouIndex = 0)
    {
        if (precision[iouIndex, 0, classIndex, 0] <= -1)
        {
            return null;
        }

        var q = new double[precision.GetLength(1)];
        for (var r = 0; r < q.Length; r++)
        {
            q[r] = precision[iouIndex, r, classIndex, 0];
        }

        return q;
    }
}
