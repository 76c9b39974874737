using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenCvSharp;
using ScottPlot;

namespace Streaming.Eval;

/// <summary>What <c>stream eval detect</c> prints and writes: a table per model, the comparison line, metrics.json, pr.png and worst/.</summary>
public static class DetectionReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>A table per model (headline APs, P/R at the operating threshold, speed, then one row per class).</summary>
    public static string Table(ModelEvaluation model, float scoreThreshold)
    {
        ArgumentNullException.ThrowIfNull(model);
        var ap = model.Ap;
        var op = model.Operating;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"{model.Name}: {Path.GetFileName(model.ModelPath)} ({model.Provider}, {model.Precision}), {model.Images.Count} images");
        sb.AppendLine(inv, $"  mAP@.5:.95 {F(ap.Map)}  mAP@.5 {F(ap.Map50)}  mAP@.75 {F(ap.Ap(iouIndex: 5))}  small {F(ap.Ap(area: 1))}  medium {F(ap.Ap(area: 2))}  large {F(ap.Ap(area: 3))}");
        sb.AppendLine(inv, $"  at score >= {scoreThreshold:0.###} (IoU .5): precision {op.Precision:0.000}  recall {op.Recall:0.000}  TP {op.Tp}  FP {op.Fp}  FN {op.Fn}");
        sb.AppendLine(inv, $"  images/s through Detect: {model.ImagesPerSecond:0.0}");
        var width = Math.Max(5, model.Classes.Max(c => c.Length));
        sb.AppendLine(inv, $"  {"class".PadRight(width)}  {"AP",6}  {"AP50",6}  {"P",6}  {"R",6}  {"TP",6}  {"FP",6}  {"FN",6}");
        for (var k = 0; k < model.Classes.Count; k++)
        {
            sb.AppendLine(inv, $"  {model.Classes[k].PadRight(width)}  {F(ap.Ap(k)),6}  {F(ap.Ap(k, iouIndex: 0)),6}  {op.ClassPrecision(k),6:0.000}  {op.ClassRecall(k),6:0.000}  {op.TruePositives[k],6}  {op.FalsePositives[k],6}  {op.Misses[k],6}");
        }

        return sb.ToString();
    }

    /// <summary>The last line: <c>mAP@.5:.95 A 0.xx B 0.xx; images/s A n B n</c>.</summary>
    public static string Comparison(IReadOnlyList<ModelEvaluation> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        return "mAP@.5:.95 " + string.Join(' ', models.Select(m => $"{m.Name} {F(m.Ap.Map)}"))
            + "; images/s " + string.Join(' ', models.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Name} {m.ImagesPerSecond:0.0}")));
    }

    private static string F(double v) => v < 0 ? "  -  " : v.ToString("0.000", CultureInfo.InvariantCulture);

    private static double? N(double v) => v < 0 ? null : Math.Round(v, 6);

    /// <summary>Writes metrics.json, pr.png and worst/ into <paramref name="directory"/>.</summary>
    public static void Write(string directory, LabelSet labels, IReadOnlyList<ModelEvaluation> models, DetectionEvalSettings settings, int worst = 12)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(settings);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "metrics.json"), JsonSerializer.Serialize(Metrics(labels, models, settings), Json));
        PrPlot(Path.Combine(directory, "pr.png"), models);
        foreach (var model in models)
        {
            WriteWorst(Path.Combine(directory, "worst", model.Name), model, worst);
        }
    }

    private static object Metrics(LabelSet labels, IReadOnlyList<ModelEvaluation> models, DetectionEvalSettings settings) => new
    {
        labels = new
        {
            format = labels.Format,
            images = labels.Images.Count,
            imagesWithoutLabels = labels.ImagesWithoutLabels,
            labelsWithoutImages = labels.LabelsWithoutImages,
        },
        scoreThreshold = settings.ScoreThreshold,
        apScoreThreshold = settings.ApScoreThreshold,
        cpus = Environment.ProcessorCount,
        models = models.Select(m => new
        {
            name = m.Name,
            model = m.ModelPath,
            provider = m.Provider,
            precision = m.Precision,
            mAP = N(m.Ap.Map),
            mAP50 = N(m.Ap.Map50),
            mAP75 = N(m.Ap.Ap(iouIndex: 5)),
            mAPSmall = N(m.Ap.Ap(area: 1)),
            mAPMedium = N(m.Ap.Ap(area: 2)),
            mAPLarge = N(m.Ap.Ap(area: 3)),
            operating = new { precision = m.Operating.Precision, recall = m.Operating.Recall, tp = m.Operating.Tp, fp = m.Operating.Fp, fn = m.Operating.Fn },
            imagesPerSecond = Math.Round(m.ImagesPerSecond, 2),
            classes = m.Classes.Select((c, k) => new
            {
                name = c,
                ap = N(m.Ap.Ap(k)),
                ap50 = N(m.Ap.Ap(k, iouIndex: 0)),
                precision = m.Operating.ClassPrecision(k),
                recall = m.Operating.ClassRecall(k),
                tp = m.Operating.TruePositives[k],
                fp = m.Operating.FalsePositives[k],
                fn = m.Operating.Misses[k],
                pr50 = m.Ap.PrecisionCurve(k)?.Select(p => Math.Round(p, 6)),
            }),
        }),
    };

    /// <summary>Precision against recall at IoU 0.5 (COCO's interpolated curve), one line per class and model.</summary>
    public static void PrPlot(string path, IReadOnlyList<ModelEvaluation> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double[] recall = [.. CocoAp.RecallThresholds];
        var lines = 0;
        foreach (var (model, mi) in models.Select((m, i) => (m, i)))
        {
            for (var k = 0; k < model.Classes.Count; k++)
            {
                if (model.Ap.PrecisionCurve(k) is not { } curve)
                {
                    continue;
                }

                var line = plot.Add.Scatter(recall, curve, palette.GetColor(lines++));
                line.LegendText = string.Create(CultureInfo.InvariantCulture, $"{model.Name} {model.Classes[k]} AP50 {model.Ap.Ap(k, iouIndex: 0):0.000}");
                line.LineWidth = 2;
                line.MarkerSize = 0;
                line.LinePattern = mi % 2 == 0 ? LinePattern.Solid : LinePattern.Dashed;
            }
        }

        plot.Title("Precision-recall at IoU 0.5 (COCO 101-point interpolation)");
        plot.XLabel("recall");
        plot.YLabel("precision");
        plot.Axes.SetLimits(0, 1, 0, 1.02);
        if (lines <= 20)
        {
            plot.ShowLegend(Alignment.LowerLeft);
        }

        plot.SavePng(path, 900, 700);
    }

    /// <summary>The images with the most misses plus false detections: green truth, red false positives, yellow misses.</summary>
    public static void WriteWorst(string directory, ModelEvaluation model, int count)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(directory);
        var rank = 0;
        foreach (var outcome in model.Images.Where(o => o.Errors > 0).OrderByDescending(o => o.Errors).ThenBy(o => o.Image.Key, StringComparer.Ordinal).Take(count))
        {
            using var image = Cv2.ImRead(outcome.Image.Path, ImreadModes.Color);
            if (image.Empty())
            {
                continue;
            }

            foreach (var g in outcome.Truth.Except(outcome.Misses))
            {
                Draw(image, g.Box, Scalar.LimeGreen, null);
            }

            foreach (var g in outcome.Misses)
            {
                Draw(image, g.Box, Scalar.Yellow, model.Classes[g.ClassIndex]);
            }

            foreach (var d in outcome.FalsePositives)
            {
                Draw(image, d.Box, Scalar.Red, string.Create(CultureInfo.InvariantCulture, $"{model.Classes[d.ClassIndex]} {d.Score:0.00}"));
            }

            var file = string.Create(CultureInfo.InvariantCulture, $"{++rank:D2}_{outcome.Image.Key}_fn{outcome.Misses.Count}_fp{outcome.FalsePositives.Count}.jpg");
            Cv2.ImWrite(Path.Combine(directory, file), image);
        }
    }

    private static void Draw(Mat image, Core.BoxF box, Scalar color, string? text)
    {
        var rect = new Rect((int)box.X1, (int)box.Y1, Math.Max(1, (int)box.Width), Math.Max(1, (int)box.Height));
        Cv2.Rectangle(image, rect, color, 2);
        if (text is not null)
        {
            Cv2.PutText(image, text, new Point(rect.X, Math.Max(12, rect.Y - 4)), HersheyFonts.HersheySimplex, 0.45, color, 1, LineTypes.AntiAlias);
        }
    }
}
