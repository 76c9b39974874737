using System.Globalization;
using System.Text;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>A tracks file made outside Stream (e.g. a reference tracker's output), at the same path inside every sequence folder.</summary>
public sealed record ExternalTracks(string Name, string RelativePath)
{
    /// <summary>Parses <c>NAME=PATH</c> (PATH relative to each sequence folder, e.g. <c>reference=reference/bytetrack.txt</c>).</summary>
    public static ExternalTracks Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        return eq > 0 && eq < text.Length - 1
            ? new ExternalTracks(text[..eq], text[(eq + 1)..])
            : throw new FormatException($"--external '{text}': write NAME=PATH, PATH relative to each sequence folder (e.g. reference=reference/bytetrack.txt).");
    }
}

/// <summary>
/// Runs several trackers over every sequence folder under a directory (det/det.txt + gt/gt.txt), adds the rows of
/// external tracks files, and tabulates the scores (each gt scored with the rules of its layout unless overridden).
/// </summary>
public static class MotComparison
{
    public static string Run(string directory, TrackOptions options, IReadOnlyList<TrackerKind> trackers,
        IReadOnlyList<ExternalTracks>? external = null, MotBenchmark? benchmark = null)
    {
        ArgumentNullException.ThrowIfNull(trackers);
        external ??= [];
        var sequences = Directory.GetDirectories(directory)
            .Where(d => File.Exists(Path.Combine(d, "seqinfo.ini")) && File.Exists(Path.Combine(d, "det", "det.txt")) && File.Exists(Path.Combine(d, "gt", "gt.txt")))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (sequences.Count == 0)
        {
            throw new DirectoryNotFoundException($"{directory} holds no sequence folders with seqinfo.ini, det/det.txt and gt/gt.txt; make some with 'stream eval synth --out {directory}'.");
        }

        var rows = new List<(string Tracker, Func<string, SeqInfo, List<MotRow>> Tracks)>();
        foreach (var kind in trackers)
        {
            rows.Add((kind.ToString(), (dir, info) => MotRunner.RunOnDetections(info, MotFile.Read(Path.Combine(dir, "det", "det.txt")), options, kind)));
        }

        foreach (var e in external)
        {
            rows.Add((e.Name, (dir, _) => MotFile.Read(Path.Combine(dir, e.RelativePath))));
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{"sequence",-16} {"tracker",-12} {"HOTA",6} {"IDF1",6} {"MOTA",6} {"IDSW",5} {"FP",6} {"FN",6}\n");
        foreach (var (name, tracks) in rows)
        {
            double mota = 0, idf1 = 0, hota = 0;
            foreach (var dir in sequences)
            {
                var info = SeqInfo.Read(dir);
                var gt = MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt"), benchmark);
                var m = MotScorer.Score(gt, tracks(dir, info));
                mota += m.Mota;
                idf1 += m.Idf1;
                hota += m.Hota;
                sb.Append(CultureInfo.InvariantCulture, $"{info.Name,-16} {name,-12} {100 * m.Hota,6:0.00} {100 * m.Idf1,6:0.00} {100 * m.Mota,6:0.00} {m.IdSwitches,5} {m.FalsePositives,6} {m.FalseNegatives,6}\n");
            }

            var n = sequences.Count;
            sb.Append(CultureInfo.InvariantCulture, $"{"mean",-16} {name,-12} {100 * hota / n,6:0.00} {100 * idf1 / n,6:0.00} {100 * mota / n,6:0.00}\n");
        }

        return sb.ToString();
    }
}
