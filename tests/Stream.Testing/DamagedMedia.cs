using System.Diagnostics;

namespace Streaming.Testing;

/// <summary>Broken video files made from the samples with the system ffmpeg, for tests of how a camera fails.</summary>
public static class DamagedMedia
{
    /// <summary>
    /// A faststart MP4 (index first) of <paramref name="sample"/> cut halfway, written as cut.mp4 in
    /// <paramref name="directory"/>: it plays its first frames, then decoding fails, the same way on every pass.
    /// </summary>
    public static async Task<string> CutInTheMiddleAsync(string sample, string directory)
    {
        var whole = Path.Combine(directory, "whole.mp4");
        using (var ffmpeg = Process.Start("ffmpeg", ["-v", "error", "-y", "-i", RepoPaths.Sample(sample), "-c", "copy", "-movflags", "+faststart", whole]))
        {
            await ffmpeg.WaitForExitAsync().ConfigureAwait(false);
            if (ffmpeg.ExitCode != 0)
            {
                throw new InvalidOperationException($"ffmpeg could not remux {sample} (exit {ffmpeg.ExitCode}): install ffmpeg (scripts/setup.sh).");
            }
        }

        var bytes = await File.ReadAllBytesAsync(whole).ConfigureAwait(false);
        var cut = Path.Combine(directory, "cut.mp4");
        await File.WriteAllBytesAsync(cut, bytes.AsMemory(0, bytes.Length / 2)).ConfigureAwait(false);
        return cut;
    }
}
