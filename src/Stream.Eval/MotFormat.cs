using System.Globalization;
using System.Text;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>
/// One row of a MOTChallenge text file. MOT16/17/20 gt.txt: frame, id, x, y, w, h, consider flag, class, visibility;
/// MOT15 gt.txt: frame, id, x, y, w, h, consider flag, wx, wy, wz (read with class and visibility -1).
/// det.txt: frame, -1, x, y, w, h, score, -1, -1, -1. Tracker output: frame, id, x, y, w, h, score, -1, -1, -1.
/// Frames count from 1; boxes are top-left x, y and width, height in pixels.
/// </summary>
public readonly record struct MotRow(int Frame, int Id, float X, float Y, float W, float H, float Confidence, int ClassId, float Visibility)
{
    public Streaming.Core.BoxF Box => Streaming.Core.BoxF.FromXywh(X, Y, W, H);
}

/// <summary>The <c>[Sequence]</c> section of a MOTChallenge <c>seqinfo.ini</c>.</summary>
public sealed record SeqInfo(string Name, string ImageDirectory, double FrameRate, int Length, int Width, int Height, string ImageExtension)
{
    public static SeqInfo Read(string sequenceDirectory)
    {
        var path = Path.Combine(sequenceDirectory, "seqinfo.ini");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found: --seq must name a MOTChallenge sequence folder (seqinfo.ini, img1/, det/, gt/).", path);
        }

        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
            }
        }

        string Get(string key, string fallback) => values.TryGetValue(key, out var v) ? v : fallback;
        double Num(string key)
        {
            var text = Get(key, string.Empty);
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                ? v
                : throw new FormatException($"{path}: '{key}' is missing or not a number ('{text}'); seqinfo.ini needs frameRate, seqLength, imWidth and imHeight.");
        }

        return new SeqInfo(Get("name", Path.GetFileName(Path.GetFullPath(sequenceDirectory).TrimEnd('/'))), Get("imDir", "img1"),
            Num("frameRate"), (int)Num("seqLength"), (int)Num("imWidth"), (int)Num("imHeight"), Get("imExt", ".jpg"));
    }

    public void Write(string sequenceDirectory)
    {
        Directory.CreateDirectory(sequenceDirectory);
        var text = string.Create(CultureInfo.InvariantCulture,
            $"[Sequence]\nname={Name}\nimDir={ImageDirectory}\nframeRate={FrameRate}\nseqLength={Length}\nimWidth={Width}\nimHeight={Height}\nimExt={ImageExtension}\n");
        File.WriteAllText(Path.Combine(sequenceDirectory, "seqinfo.ini"), text);
    }
}

/// <summary>The column layout of a MOTChallenge text file.</summary>
public enum MotLayout
{
    /// <summary>MOT15 ground truth: frame,id,x,y,w,h,flag,wx,wy,wz (world coordinates or -1; no class, no visibility).</summary>
    Mot15,

    /// <summary>MOT16/17/20 ground truth: frame,id,x,y,w,h,flag,class,visibility.</summary>
    Mot17,

    /// <summary>Tracker results or detections: frame,id,x,y,w,h,score[,x,y,z] (6 to 10 columns).</summary>
    Results,
}

/// <summary>Which MOTChallenge benchmark's evaluation rules apply (TrackEval's <c>BENCHMARK</c>; MOT16 scores as MOT17).</summary>
public enum MotBenchmark
{
    /// <summary>Every gt row with flag != 0 counts; no class filter, no distractor removal.</summary>
    Mot15,

    /// <summary>Only gt of class 1 (pedestrian) with flag != 0 counts; tracker boxes on distractors (classes 2, 7, 8, 12) are dropped.</summary>
    Mot17,

    /// <summary>As MOT17, with class 6 (non-MOT vehicle) a distractor too.</summary>
    Mot20,
}

/// <summary>Ground truth rows with the layout they were read in and the benchmark whose rules score them.</summary>
public sealed record MotGroundTruth(IReadOnlyList<MotRow> Rows, MotLayout Layout, MotBenchmark Benchmark)
{
    /// <summary>The benchmark a layout implies: MOT15 for the 10-column layout, MOT17 for the 9-column one.</summary>
    public static MotBenchmark BenchmarkOf(MotLayout layout) => layout == MotLayout.Mot15 ? MotBenchmark.Mot15 : MotBenchmark.Mot17;
}

/// <summary>A MOTChallenge file that fits no layout: the message is one line naming the file, the row and the fix.</summary>
public sealed class MotFormatException(string message) : FormatException(message);

public static class MotFile
{
    /// <summary>
    /// Reads a ground-truth file and recognises its layout from the column count: 10 columns are MOT15 (columns 8-10 world
    /// coordinates or -1), 9 columns MOT16/17/20 (class, visibility). <paramref name="benchmark"/> overrides the rules the
    /// layout implies (MOT20 cannot be told from MOT17 by the file); MOT17/MOT20 rules need the class column.
    /// </summary>
    public static MotGroundTruth ReadGroundTruth(string path, MotBenchmark? benchmark = null)
    {
        var (rows, columns) = ReadRows(path, isGroundTruth: true);
        var layout = columns switch
        {
            10 => MotLayout.Mot15,
            9 => MotLayout.Mot17,
            _ => throw new MotFormatException($"{path}: ground truth with {columns} columns fits no layout; expected 10 (MOT15: frame,id,x,y,w,h,flag,wx,wy,wz) or 9 (MOT16/17/20: frame,id,x,y,w,h,flag,class,visibility)."),
        };
        var rules = benchmark ?? MotGroundTruth.BenchmarkOf(layout);
        if (layout == MotLayout.Mot15 && rules != MotBenchmark.Mot15)
        {
            throw new MotFormatException($"{path}: MOT15 layout (10 columns, no class column), but {rules} rules need frame,id,x,y,w,h,flag,class,visibility; drop --benchmark or give a MOT16/17/20 gt.txt.");
        }

        if (layout == MotLayout.Mot17)
        {
            for (var i = 0; i < rows.Count; i++)
            {
                var (r, line) = rows[i];
                if (r.ClassId < 1 || !(r.Visibility >= 0 && r.Visibility <= 1))
                {
                    throw new MotFormatException($"{path}:{line}: class {r.ClassId}, visibility {r.Visibility.ToString(CultureInfo.InvariantCulture)}: a 9-column gt row needs class >= 1 and visibility in [0, 1] (MOT16/17/20 layout).");
                }
            }
        }

        return new MotGroundTruth([.. rows.Select(r => r.Row)], layout, rules);
    }

    /// <summary>Reads tracker results or detections (frame,id,x,y,w,h,score[,x,y,z]; comma or space separated).</summary>
    public static List<MotRow> Read(string path) => [.. ReadRows(path, isGroundTruth: false).Rows.Select(r => r.Row)];

    private static (List<(MotRow Row, int Line)> Rows, int Columns) ReadRows(string path, bool isGroundTruth)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found.", path);
        }

        var rows = new List<(MotRow, int)>();
        var columns = 0;
        var firstLine = 0;
        var lineNo = 0;
        var idsInFrame = new HashSet<(int Frame, int Id)>();
        Span<double> v = stackalloc double[10];
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.AsSpan().Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            v.Fill(-1);
            var count = 0;
            foreach (var range in line.SplitAny(", \t"))
            {
                var part = line[range];
                if (part.IsEmpty)
                {
                    continue;
                }

                if (count >= 10)
                {
                    throw new MotFormatException($"{path}:{lineNo}: more than 10 columns; MOTChallenge rows have at most frame,id,x,y,w,h,score/flag,x,y,z.");
                }

                if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out v[count]) || !double.IsFinite(v[count]))
                {
                    throw new MotFormatException($"{path}:{lineNo}: '{part.ToString()}' is not a number; expected MOTChallenge rows frame,id,x,y,w,h,...");
                }

                count++;
            }

            if (count < (isGroundTruth ? 9 : 6))
            {
                throw new MotFormatException(isGroundTruth
                    ? $"{path}:{lineNo}: {count} columns; ground truth needs 10 (MOT15: frame,id,x,y,w,h,flag,wx,wy,wz) or 9 (MOT16/17/20: ...,flag,class,visibility)."
                    : $"{path}:{lineNo}: {count} columns; a MOTChallenge row needs at least frame,id,x,y,w,h.");
            }

            if (columns == 0)
            {
                columns = count;
                firstLine = lineNo;
            }
            else if (count != columns)
            {
                throw new MotFormatException($"{path}:{lineNo}: {count} columns, but row {firstLine} has {columns}; every row of a MOTChallenge file has the same layout.");
            }

            if (v[0] < 1 || v[0] != Math.Floor(v[0]) || v[1] != Math.Floor(v[1]) || v[4] < 0 || v[5] < 0)
            {
                throw new MotFormatException($"{path}:{lineNo}: frame {v[0].ToString(CultureInfo.InvariantCulture)}, id {v[1].ToString(CultureInfo.InvariantCulture)}, w {v[4].ToString(CultureInfo.InvariantCulture)}, h {v[5].ToString(CultureInfo.InvariantCulture)}: frames count from 1, ids are integers, and boxes have w, h >= 0.");
            }

            if (v[1] >= 0 && !idsInFrame.Add(((int)v[0], (int)v[1])))
            {
                throw new MotFormatException($"{path}:{lineNo}: id {(int)v[1]} appears twice in frame {(int)v[0]}; each id may have one box per frame.");
            }

            if (isGroundTruth && count == 9 && v[7] != Math.Floor(v[7]))
            {
                throw new MotFormatException($"{path}:{lineNo}: class '{v[7].ToString(CultureInfo.InvariantCulture)}' is not an integer; a 9-column gt row is frame,id,x,y,w,h,flag,class,visibility (MOT16/17/20).");
            }

            // MOT15 gt and results: columns 8-10 are world coordinates (or -1), never a class.
            var classId = isGroundTruth && count == 9 ? (int)v[7] : -1;
            var visibility = isGroundTruth && count == 9 ? (float)v[8] : -1f;
            var conf = count > 6 ? (float)v[6] : 1f;
            rows.Add((new MotRow((int)v[0], (int)v[1], (float)v[2], (float)v[3], (float)v[4], (float)v[5], conf, classId, visibility), lineNo));
        }

        if (rows.Count == 0 && isGroundTruth)
        {
            throw new MotFormatException($"{path}: no rows; ground truth needs MOTChallenge rows frame,id,x,y,w,h,flag,...");
        }

        return (rows, columns);
    }

    /// <summary>Writes tracker output rows: frame,id,x,y,w,h,score,-1,-1,-1.</summary>
    public static void WriteTracks(string path, IEnumerable<MotRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        var sb = new StringBuilder();
        foreach (var r in rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{r.Frame},{r.Id},{r.X:0.##},{r.Y:0.##},{r.W:0.##},{r.H:0.##},{r.Confidence:0.###},-1,-1,-1\n");
        }

        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>Writes ground-truth rows: frame,id,x,y,w,h,flag,class,visibility.</summary>
    public static void WriteGroundTruth(string path, IEnumerable<MotRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var sb = new StringBuilder();
        foreach (var r in rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{r.Frame},{r.Id},{r.X:0.##},{r.Y:0.##},{r.W:0.##},{r.H:0.##},{r.Confidence:0},{r.ClassId},{r.Visibility:0.###}\n");
        }

        File.WriteAllText(path, sb.ToString());
    }
}
