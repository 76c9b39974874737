using System.Globalization;
using System.Text;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>CLEAR MOT and identity metrics of one sequence.</summary>
public sealed record MotMetrics
{
    public double Mota { get; init; }

    public double Motp { get; init; }

    /// <summary>HOTA averaged over the localisation thresholds 0.05 .. 0.95 (TrackEval's definition).</summary>
    public double Hota { get; init; }

    public double DetA { get; init; }

    public double AssA { get; init; }

    public double Idf1 { get; init; }

    public double Idp { get; init; }

    public double Idr { get; init; }

    public int IdSwitches { get; init; }

    public int FalsePositives { get; init; }

    public int FalseNegatives { get; init; }

    public int TruePositives { get; init; }

    public int IdTruePositives { get; init; }

    public int GtDetections { get; init; }

    public int TrackerDetections { get; init; }

    public int GtIds { get; init; }

    public int TrackerIds { get; init; }

    public int MostlyTracked { get; init; }

    public int MostlyLost { get; init; }

    /// <summary>Tracker boxes dropped because they matched a distractor gt box (MOT17: classes 2, 7, 8, 12; MOT20 also 6; MOT15: none).</summary>
    public int RemovedAsDistractor { get; init; }

    /// <summary>The benchmark whose rules were applied.</summary>
    public MotBenchmark Benchmark { get; init; }

    public string ToTable()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"rules  {Benchmark.ToString().ToUpperInvariant()} (TrackEval MotChallenge2DBox, IoU 0.5)\n");
        sb.Append(CultureInfo.InvariantCulture, $"MOTA   {100 * Mota,7:0.00}\n");
        sb.Append(CultureInfo.InvariantCulture, $"IDF1   {100 * Idf1,7:0.00}   (IDP {100 * Idp:0.00}, IDR {100 * Idr:0.00})\n");
        sb.Append(CultureInfo.InvariantCulture, $"HOTA   {100 * Hota,7:0.00}   (DetA {100 * DetA:0.00}, AssA {100 * AssA:0.00})\n");
        sb.Append(CultureInfo.InvariantCulture, $"MOTP   {100 * Motp,7:0.00}\n");
        sb.Append(CultureInfo.InvariantCulture, $"IDSW   {IdSwitches,7}\n");
        sb.Append(CultureInfo.InvariantCulture, $"FP     {FalsePositives,7}\n");
        sb.Append(CultureInfo.InvariantCulture, $"FN     {FalseNegatives,7}\n");
        sb.Append(CultureInfo.InvariantCulture, $"TP     {TruePositives,7}\n");
        sb.Append(CultureInfo.InvariantCulture, $"MT/ML  {MostlyTracked}/{MostlyLost} of {GtIds} gt ids; {TrackerIds} tracker ids\n");
        sb.Append(CultureInfo.InvariantCulture, $"GT dets {GtDetections}, tracker dets {TrackerDetections} (removed as distractors: {RemovedAsDistractor})\n");
        return sb.ToString();
    }
}

/// <summary>
/// Scores tracker output against MOTChallenge ground truth the way the official TrackEval devkit (MotChallenge2DBox)
/// does, with the rules of the given benchmark. MOT17/MOT20: per frame, tracker boxes are first matched (optimal
/// assignment, IoU &gt;= 0.5) to ALL gt boxes, and those matched to a distractor class (2 person on vehicle, 7 static
/// person, 8 distractor, 12 reflection; MOT20 also 6 non-MOT vehicle) are dropped; then only gt rows with class 1 and
/// consider flag != 0 are kept. MOT15: every gt row with flag != 0 counts; no class filter, no distractor removal.
/// CLEAR MOT: per-frame optimal matching at IoU &gt;= 0.5 that prefers keeping the previous frame's pairs; an ID switch
/// is a gt matched to a different tracker id than the last one it was matched to. IDF1: global optimal one-to-one
/// matching of gt ids to tracker ids maximising the number of frames where the pair overlaps with IoU &gt;= 0.5.
/// </summary>
public static class MotScorer
{
    private const double Eps = 1e-9;
    private static readonly int[] Mot17Distractors = [2, 7, 8, 12];
    private static readonly int[] Mot20Distractors = [2, 6, 7, 8, 12];

    /// <summary>Scores with the rules of the benchmark the ground truth was read for.</summary>
    public static MotMetrics Score(MotGroundTruth groundTruth, IReadOnlyList<MotRow> tracks, double threshold = 0.5)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        return Score(groundTruth.Rows, tracks, groundTruth.Benchmark, threshold);
    }

    public static MotMetrics Score(IReadOnlyList<MotRow> groundTruth, IReadOnlyList<MotRow> tracks, MotBenchmark benchmark, double threshold = 0.5)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(tracks);
        int[] distractors = benchmark switch
        {
            MotBenchmark.Mot15 => [],
            MotBenchmark.Mot20 => Mot20Distractors,
            _ => Mot17Distractors,
        };
        var gtByFrame = groundTruth.GroupBy(r => r.Frame).ToDictionary(g => g.Key, g => g.ToArray());
        var trByFrame = tracks.GroupBy(r => r.Frame).ToDictionary(g => g.Key, g => g.ToArray());
        var frames = gtByFrame.Keys.Concat(trByFrame.Keys).Distinct().Order().ToArray();

        var gtIndex = new Dictionary<int, int>();
        var trIndex = new Dictionary<int, int>();
        var potential = new Dictionary<(int Gt, int Tr), int>();
        var gtIdCount = new List<int>();
        var trIdCount = new List<int>();
        var gtMatchedCount = new List<int>();
        var prevTracker = new Dictionary<int, int>(); // gt index -> last tracker index ever matched
        var prevStep = new Dictionary<int, int>(); // gt index -> tracker index matched in the previous frame

        int tp = 0, fp = 0, fn = 0, idsw = 0, removed = 0, numGt = 0, numTr = 0;
        double motpSum = 0;
        var solver = new LinearAssignment();
        var kept = new List<(int[] Gt, int[] Tr, double[] Sim)>(frames.Length);

        foreach (var frame in frames)
        {
            var gtAll = gtByFrame.GetValueOrDefault(frame) ?? [];
            var trAll = trByFrame.GetValueOrDefault(frame) ?? [];

            // 1) Drop tracker boxes matched to distractor gt boxes.
            var keepTr = new bool[trAll.Length];
            Array.Fill(keepTr, true);
            if (distractors.Length > 0 && gtAll.Length > 0 && trAll.Length > 0)
            {
                var cost = new double[gtAll.Length * trAll.Length];
                for (var g = 0; g < gtAll.Length; g++)
                {
                    for (var t = 0; t < trAll.Length; t++)
                    {
                        var iou = IoU(gtAll[g], trAll[t]);
                        cost[g * trAll.Length + t] = iou < threshold - Eps ? 0 : -iou;
                    }
                }

                var assign = new int[gtAll.Length];
                solver.Solve(cost, gtAll.Length, trAll.Length, assign);
                for (var g = 0; g < gtAll.Length; g++)
                {
                    var t = assign[g];
                    if (t >= 0 && -cost[g * trAll.Length + t] > Eps && distractors.Contains(gtAll[g].ClassId))
                    {
                        keepTr[t] = false;
                        removed++;
                    }
                }
            }

            var gt = gtAll.Where(r => r.Confidence != 0 && (benchmark == MotBenchmark.Mot15 || r.ClassId == 1)).ToArray();
            var tr = trAll.Where((_, i) => keepTr[i]).ToArray();
            var gtIds = new int[gt.Length];
            var trIds = new int[tr.Length];
            for (var g = 0; g < gt.Length; g++)
            {
                if (!gtIndex.TryGetValue(gt[g].Id, out var gi))
                {
                    gi = gtIndex.Count;
                    gtIndex.Add(gt[g].Id, gi);
                    gtIdCount.Add(0);
                    gtMatchedCount.Add(0);
                }

                gtIds[g] = gi;
                gtIdCount[gi]++;
            }

            for (var t = 0; t < tr.Length; t++)
            {
                if (!trIndex.TryGetValue(tr[t].Id, out var ti))
                {
                    ti = trIndex.Count;
                    trIndex.Add(tr[t].Id, ti);
                    trIdCount.Add(0);
                }

                trIds[t] = ti;
                trIdCount[ti]++;
            }

            numGt += gt.Length;
            numTr += tr.Length;
            var frameSim = new double[gt.Length * tr.Length];
            for (var g = 0; g < gt.Length; g++)
            {
                for (var t = 0; t < tr.Length; t++)
                {
                    frameSim[g * tr.Length + t] = IoU(gt[g], tr[t]);
                }
            }

            kept.Add((gtIds, trIds, frameSim));
            if (gt.Length == 0 || tr.Length == 0)
            {
                fn += gt.Length;
                fp += tr.Length;
                continue; // as TrackEval: the previous-step pairs survive a frame without gt or tracker boxes
            }

            var sim = frameSim;
            var score = new double[gt.Length * tr.Length];
            for (var g = 0; g < gt.Length; g++)
            {
                for (var t = 0; t < tr.Length; t++)
                {
                    var iou = sim[g * tr.Length + t];
                    if (iou >= threshold)
                    {
                        var key = (gtIds[g], trIds[t]);
                        potential[key] = potential.GetValueOrDefault(key) + 1; // TrackEval's IDF1: IoU >= 0.5, no epsilon
                    }

                    if (iou >= threshold - Eps)
                    {
                        var continuing = prevStep.TryGetValue(gtIds[g], out var p) && p == trIds[t];
                        score[g * tr.Length + t] = -((continuing ? 1000 : 0) + iou);
                    }
                }
            }

            var rowToCol = new int[gt.Length];
            solver.Solve(score, gt.Length, tr.Length, rowToCol);
            prevStep.Clear();
            var matched = 0;
            for (var g = 0; g < gt.Length; g++)
            {
                var t = rowToCol[g];
                if (t < 0 || -score[g * tr.Length + t] <= Eps)
                {
                    continue;
                }

                matched++;
                motpSum += sim[g * tr.Length + t];
                var gi = gtIds[g];
                var ti = trIds[t];
                if (prevTracker.TryGetValue(gi, out var last) && last != ti)
                {
                    idsw++;
                }

                prevTracker[gi] = ti;
                prevStep[gi] = ti;
                gtMatchedCount[gi]++;
            }

            tp += matched;
            fn += gt.Length - matched;
            fp += tr.Length - matched;
        }

        // IDF1: optimal one-to-one gt id <-> tracker id matching maximising co-occurring frames.
        var idtp = 0;
        var nG = gtIndex.Count;
        var nT = trIndex.Count;
        if (nG > 0 && nT > 0 && potential.Count > 0)
        {
            var cost = new double[nG * nT];
            foreach (var ((g, t), count) in potential)
            {
                cost[g * nT + t] = -count;
            }

            var assign = new int[nG];
            solver.Solve(cost, nG, nT, assign);
            for (var g = 0; g < nG; g++)
            {
                if (assign[g] >= 0)
                {
                    idtp += (int)-cost[g * nT + assign[g]];
                }
            }
        }

        var mt = 0;
        var ml = 0;
        for (var g = 0; g < nG; g++)
        {
            var ratio = gtIdCount[g] == 0 ? 0 : (double)gtMatchedCount[g] / gtIdCount[g];
            if (ratio > 0.8)
            {
                mt++;
            }
            else if (ratio < 0.2)
            {
                ml++;
            }
        }

        var (hota, detA, assA) = Hota(kept, gtIdCount, trIdCount, solver);
        return new MotMetrics
        {
            Hota = hota,
            DetA = detA,
            AssA = assA,
            Mota = numGt == 0 ? 0 : (tp - fp - idsw) / (double)numGt,
            Motp = tp == 0 ? 0 : motpSum / tp,
            Idf1 = numGt + numTr == 0 ? 0 : 2.0 * idtp / (numGt + numTr),
            Idp = numTr == 0 ? 0 : (double)idtp / numTr,
            Idr = numGt == 0 ? 0 : (double)idtp / numGt,
            IdSwitches = idsw,
            FalsePositives = fp,
            FalseNegatives = fn,
            TruePositives = tp,
            IdTruePositives = idtp,
            GtDetections = numGt,
            TrackerDetections = numTr,
            GtIds = nG,
            TrackerIds = nT,
            MostlyTracked = mt,
            MostlyLost = ml,
            RemovedAsDistractor = removed,
            Benchmark = benchmark,
        };
    }

    /// <summary>IoU of two xywh boxes in double precision, as TrackEval computes it.</summary>
    private static double IoU(in MotRow a, in MotRow b)
    {
        double ax2 = (double)a.X + a.W, ay2 = (double)a.Y + a.H, bx2 = (double)b.X + b.W, by2 = (double)b.Y + b.H;
        var iw = Math.Min(ax2, bx2) - Math.Max(a.X, b.X);
        var ih = Math.Min(ay2, by2) - Math.Max(a.Y, b.Y);
        if (iw <= 0 || ih <= 0)
        {
            return 0;
        }

        var inter = iw * ih;
        var union = ((double)a.W * a.H) + ((double)b.W * b.H) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /// <summary>HOTA as TrackEval computes it: global alignment scores first, then per-frame matching weighted by them.</summary>
    private static (double Hota, double DetA, double AssA) Hota(List<(int[] Gt, int[] Tr, double[] Sim)> frames, List<int> gtIdCount, List<int> trIdCount, LinearAssignment solver)
    {
        var nG = gtIdCount.Count;
        var nT = trIdCount.Count;
        if (nG == 0 || nT == 0)
        {
            return (0, 0, 0);
        }

        // Pass 1: potential matches (soft, per-frame normalised IoU) -> global alignment score per id pair.
        var potential = new double[nG * nT];
        foreach (var (gt, tr, sim) in frames)
        {
            if (gt.Length == 0 || tr.Length == 0)
            {
                continue;
            }

            var rowSum = new double[gt.Length];
            var colSum = new double[tr.Length];
            for (var g = 0; g < gt.Length; g++)
            {
                for (var t = 0; t < tr.Length; t++)
                {
                    rowSum[g] += sim[g * tr.Length + t];
                    colSum[t] += sim[g * tr.Length + t];
                }
            }

            for (var g = 0; g < gt.Length; g++)
            {
                for (var t = 0; t < tr.Length; t++)
                {
                    var denom = rowSum[g] + colSum[t] - sim[g * tr.Length + t];
                    if (denom > Eps)
                    {
                        potential[gt[g] * nT + tr[t]] += sim[g * tr.Length + t] / denom;
                    }
                }
            }
        }

        var alignment = new double[nG * nT];
        for (var g = 0; g < nG; g++)
        {
            for (var t = 0; t < nT; t++)
            {
                var p = potential[g * nT + t];
                alignment[g * nT + t] = p / (gtIdCount[g] + trIdCount[t] - p);
            }
        }

        // Pass 2: per frame, one matching maximising alignment x IoU; then per alpha keep pairs with IoU >= alpha.
        const int alphas = 19;
        var tp = new double[alphas];
        var fn = new double[alphas];
        var fp = new double[alphas];
        var matches = new Dictionary<(int, int), int>[alphas];
        for (var a = 0; a < alphas; a++)
        {
            matches[a] = [];
        }

        foreach (var (gt, tr, sim) in frames)
        {
            if (gt.Length == 0 || tr.Length == 0)
            {
                for (var a = 0; a < alphas; a++)
                {
                    fn[a] += gt.Length;
                    fp[a] += tr.Length;
                }

                continue;
            }

            var cost = new double[gt.Length * tr.Length];
            for (var g = 0; g < gt.Length; g++)
            {
                for (var t = 0; t < tr.Length; t++)
                {
                    cost[g * tr.Length + t] = -alignment[gt[g] * nT + tr[t]] * sim[g * tr.Length + t];
                }
            }

            var assign = new int[gt.Length];
            solver.Solve(cost, gt.Length, tr.Length, assign);
            for (var a = 0; a < alphas; a++)
            {
                var alpha = 0.05 * (a + 1);
                var matched = 0;
                for (var g = 0; g < gt.Length; g++)
                {
                    var t = assign[g];
                    if (t >= 0 && sim[g * tr.Length + t] >= alpha - Eps && -cost[g * tr.Length + t] > Eps)
                    {
                        matched++;
                        var key = (gt[g], tr[t]);
                        matches[a][key] = matches[a].GetValueOrDefault(key) + 1;
                    }
                }

                tp[a] += matched;
                fn[a] += gt.Length - matched;
                fp[a] += tr.Length - matched;
            }
        }

        double hotaSum = 0, detSum = 0, assSum = 0;
        for (var a = 0; a < alphas; a++)
        {
            var assNumerator = 0.0;
            foreach (var ((g, t), count) in matches[a])
            {
                assNumerator += count * (count / (double)(gtIdCount[g] + trIdCount[t] - count));
            }

            var assA = assNumerator / Math.Max(1, tp[a]);
            var detA = tp[a] / Math.Max(1, tp[a] + fn[a] + fp[a]);
            hotaSum += Math.Sqrt(detA * assA);
            detSum += detA;
            assSum += assA;
        }

        return (hotaSum / alphas, detSum / alphas, assSum / alphas);
    }
}
