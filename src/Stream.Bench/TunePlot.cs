using ScottPlot;

namespace Streaming.Bench;

/// <summary>The tune sweep as one PNG: throughput (left) and p99 latency (right) against MaxWaitMs, one line per MaxBatch.</summary>
internal static class TunePlot
{
    public static void Save(string path, IReadOnlyList<TunePoint> points, double offeredFps)
    {
        ArgumentNullException.ThrowIfNull(points);
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var throughput = multiplot.GetPlot(0);
        var latency = multiplot.GetPlot(1);
        var ackAvailable = points.Any(p => p.AckP99 is not null);

        var palette = new ScottPlot.Palettes.Category10();
        var index = 0;
        foreach (var group in points.GroupBy(p => p.Batch).OrderBy(g => g.Key))
        {
            var ordered = group.OrderBy(p => p.WaitMs).ToArray();
            var color = palette.GetColor(index++);
            double[] waits = [.. ordered.Select(p => (double)p.WaitMs)];

            var fps = throughput.Add.Scatter(waits, ordered.Select(p => p.Fps).ToArray(), color);
            fps.LegendText = $"MaxBatch {group.Key}";
            fps.LineWidth = 2;
            fps.MarkerSize = 8;

            var withLatency = ordered.Where(p => (ackAvailable ? p.AckP99 : p.SinkP99) is not null).ToArray();
            if (withLatency.Length > 0)
            {
                var p99 = latency.Add.Scatter(withLatency.Select(p => (double)p.WaitMs).ToArray(),
                    withLatency.Select(p => (ackAvailable ? p.AckP99 : p.SinkP99)!.Value).ToArray(), color);
                p99.LegendText = $"MaxBatch {group.Key} p99";
                p99.LineWidth = 2;
                p99.MarkerSize = 8;
            }

            var withP50 = ordered.Where(p => (ackAvailable ? p.AckP50 : p.SinkP50) is not null).ToArray();
            if (withP50.Length > 0)
            {
                var p50 = latency.Add.Scatter(withP50.Select(p => (double)p.WaitMs).ToArray(),
                    withP50.Select(p => (ackAvailable ? p.AckP50 : p.SinkP50)!.Value).ToArray(), color);
                p50.LegendText = $"MaxBatch {group.Key} p50";
                p50.LinePattern = LinePattern.Dashed;
                p50.LineWidth = 1;
                p50.MarkerSize = 5;
            }
        }

        var offered = throughput.Add.HorizontalLine(offeredFps);
        offered.LinePattern = LinePattern.Dotted;
        offered.Color = Colors.Gray;
        offered.LegendText = "offered load";

        throughput.Title("Throughput at a fixed offered load");
        throughput.XLabel("Detect:MaxWaitMs");
        throughput.YLabel("frames/s through the sink");
        throughput.Axes.SetLimitsY(0, Math.Max(offeredFps, points.Count > 0 ? points.Max(p => p.Fps) : 1) * 1.15);
        throughput.ShowLegend(Alignment.LowerRight);

        latency.Title(ackAvailable ? "Capture to Kafka ack latency" : "Capture to sink latency");
        latency.XLabel("Detect:MaxWaitMs");
        latency.YLabel("ms (solid p99, dashed p50)");
        var top = points.Select(p => (ackAvailable ? p.AckP99 : p.SinkP99) ?? 0).DefaultIfEmpty(0).Max();
        latency.Axes.SetLimitsY(0, Math.Max(1, top) * 1.15);
        latency.ShowLegend(Alignment.UpperLeft);

        multiplot.SavePng(path, 1400, 560);
    }
}
