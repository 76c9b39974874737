using System.Diagnostics;
using System.Globalization;

namespace Streaming.Testing;

/// <summary>The system ffprobe, as an independent reader of the media the code under test writes (clips).</summary>
public static class Ffprobe
{
    /// <summary>One packet of the first video stream, in decode order: times in seconds (NaN when absent), keyframe flag.</summary>
    public readonly record struct Packet(double Pts, double Dts, bool Key);

    /// <summary>Runs ffprobe with <paramref name="arguments"/>; its stdout and stderr.</summary>
    public static (string Out, string Error) Run(params string[] arguments)
    {
        var info = new ProcessStartInfo("ffprobe") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var error = p.StandardError.ReadToEndAsync();
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (text, error.Result);
    }

    /// <summary>The video stream's packets in decode order.</summary>
    public static IReadOnlyList<Packet> Packets(string path)
    {
        var (text, _) = Run("-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,dts_time,flags", "-of", "csv=p=0", path);
        var list = new List<Packet>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(',');
            list.Add(new Packet(Seconds(f[0]), Seconds(f[1]), f[2].Contains('K', StringComparison.Ordinal)));
        }

        return list;
    }

    /// <summary>Decodes every frame of the video stream: the frames in presentation order (keyframe flag, picture type), and what ffprobe said at level error.</summary>
    public static (IReadOnlyList<(bool Key, string Type, double Time)> Frames, string Errors) DecodeAll(string path)
    {
        var (text, errors) = Run("-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type,best_effort_timestamp_time", "-of", "csv=p=0", path);
        var frames = new List<(bool, string, double)>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(',');
            if (f.Length < 3)
            {
                continue;
            }

            frames.Add((f[0] == "1", f[2], Seconds(f[1])));
        }

        return (frames, errors.Trim());
    }

    /// <summary>The container's duration in seconds.</summary>
    public static double Duration(string path) =>
        Seconds(Run("-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Out.Trim());

    private static double Seconds(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
}
