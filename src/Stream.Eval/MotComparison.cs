using System.Globalization;
using System.Text;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>Runs several trackers over every sequence folder under a directory (det/det.txt + gt/gt.txt) and tabulates scores.</summary>
public static class MotComparison
{
    public static string Run(string directory, TrackOptions options, IReadOnlyList<TrackerKind> trackers)
    {
        ArgumentNullException.ThrowIfNull(trackers);
        var sequences = Directory.GetDirectories(directory)
            .Where(d => File.Exists(Path.Combine(d, "seqinfo.ini")) && File.Exists(Path.Combine(d, "det", "det.txt")) && File.Exists(Path.Combine(d, "gt", "gt.txt")))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (sequences.Count == 0)
        {
            throw new DirectoryNotFoundException($"{directory} holds no sequence folders with seqinfo.ini, det/det.txt and gt/gt.txt; make some with 'stream eval synth --out {directory}'.");
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{"sequence",-16} {"tracker",-10} {"MOTA",6} {"IDF1",6} {"HOTA",6} {"IDSW",5} {"FP",6} {"FN",6}\n");
        foreach (var kind in trackers)
        {
            double mota = 0, idf1 = 0, hota = 0;
            foreach (var dir in sequences)
            {
                var info = SeqInfo.Read(dir);
                var gt = MotFile.Read(Path.Combine(dir, "gt", "gt.txt"));
                var rows = MotRunner.RunOnDetections(info, MotFile.Read(Path.Combine(dir, "det", "det.txt")), options, kind);
                var m = MotScorer.Score(gt, rows);
                mota += m.Mota;
                idf1 += m.Idf1;
                hota += m.Hota;
                sb.Append(CultureInfo.InvariantCulture, $"{info.Name,-16} {kind,-10} {100 * m.Mota,6:0.0} {100 * m.Idf1,6:0.0} {100 * m.Hota,6:0.0} {m.IdSwitches,5} {m.FalsePositives,6} {m.FalseNegatives,6}\n");
            }

            var n = sequences.Count;
            sb.Append(CultureInfo.InvariantCulture, $"{"mean",-16} {kind,-10} {100 * mota / n,6:0.0} {100 * idf1 / n,6:0.0} {100 * hota / n,6:0.0}\n");
        }

        return sb.ToString();
    }
}
