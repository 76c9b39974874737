using System.Globalization;
using System.Text;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>
/// One row of a MOTChallenge text file. gt.txt: frame, id, x, y, w, h, consider flag, class, visibility.
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

public static class MotFile
{
    /// <summary>Reads a MOTChallenge text file (comma or space separated); missing trailing columns read as -1 (flag/class 1 for gt-like files).</summary>
    public static List<MotRow> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found.", path);
        }

        var rows = new List<MotRow>();
        var lineNo = 0;
        Span<float> v = stackalloc float[10];
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

                if (count < 10)
                {
                    if (!float.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out v[count]))
                    {
                        throw new FormatException($"{path}:{lineNo}: '{part.ToString()}' is not a number; expected MOTChallenge rows frame,id,x,y,w,h,score,...");
                    }
                }

                count++;
            }

            if (count < 6)
            {
                throw new FormatException($"{path}:{lineNo}: {count} columns; a MOTChallenge row needs at least frame,id,x,y,w,h.");
            }

            var conf = count > 6 ? v[6] : 1f;
            var cls = count > 7 ? (int)v[7] : -1;
            var vis = count > 8 ? v[8] : -1f;
            rows.Add(new MotRow((int)v[0], (int)v[1], v[2], v[3], v[4], v[5], conf, cls, vis));
        }

        return rows;
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
