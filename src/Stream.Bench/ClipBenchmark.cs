using System.Diagnostics;
using System.Globalization;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Bench;

/// <summary>What event clips cost (issue 26): CPU of the packet buffer next to decoding, CPU of a remux, memory of the buffers.</summary>
/// <param name="VideoSeconds">The source's length: one decode pass is that many camera-seconds.</param>
/// <param name="DecodeCpuMsOff">CPU of a pass without a clip buffer, ms (the least round's mean over its passes).</param>
/// <param name="DecodeCpuMsOn">The same with one, ms.</param>
/// <param name="CutCpuMsPerClip">CPU of one cut (remux and write), ms, mean over the cuts.</param>
/// <param name="CutSecondsPerClip">Mean clip length, s.</param>
/// <param name="BufferBytes">What the cameras' buffers hold after a whole pass each, bytes.</param>
/// <param name="ExpectedBufferBytes">BufferSeconds x the stream's bitrate (packet bytes over its duration) per camera, bytes.</param>
/// <param name="RssPerCameraBytes">RSS added per open camera (decoder and buffer), bytes.</param>
public sealed record ClipBenchmarkResult(string Source, double VideoSeconds, int Rounds, double DecodeCpuMsOff, double DecodeCpuMsOn, int Cuts,
    double CutCpuMsPerClip, double CutSecondsPerClip, int Cameras, double BufferSeconds, long BufferBytes, double ExpectedBufferBytes, double RssPerCameraBytes)
{
    /// <summary>The buffer's CPU per camera-second of video, ms (least pass with it minus least pass without).</summary>
    public double BufferCpuMsPerCameraSecond => (DecodeCpuMsOn - DecodeCpuMsOff) / VideoSeconds;

    /// <summary>Decoding's own CPU per camera-second, ms (at full speed: a live camera decodes the same frames).</summary>
    public double DecodeCpuMsPerCameraSecond => DecodeCpuMsOff / VideoSeconds;

    /// <summary>A remux's CPU per second of clip, ms.</summary>
    public double CutCpuMsPerClipSecond => CutSecondsPerClip > 0 ? CutCpuMsPerClip / CutSecondsPerClip : 0;
}

/// <summary>
/// <c>stream bench clips</c>: the in-process decoder reads the source at full speed with and without its clip buffer,
/// alternating, for the buffer's CPU; cuts clips from a full buffer for the remux's CPU; and opens N cameras with
/// buffers for their memory against BufferSeconds x the stream's bitrate. CPU from getrusage (every thread of the
/// process, the decoders' own included), each contender's least over the rounds.
/// </summary>
public static class ClipBenchmark
{
    private const int PassesPerRound = 6;

    public static ClipBenchmarkResult Run(string source, int rounds, int cameras, double bufferSeconds, double clipSeconds, TextWriter? progress)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        if (!File.Exists(source))
        {
            throw new FileNotFoundException($"{source} not found: pass --source with an existing video file (scripts/setup.sh puts samples/ in place).", source);
        }

        var buffer = TimeSpan.FromSeconds(bufferSeconds);
        var (off, on) = (double.MaxValue, double.MaxValue);
        double videoSeconds = 0;
        for (var r = 0; r < Math.Max(1, rounds); r++)
        {
            // Alternating which goes first, so that a drift of the machine's load falls on both.
            foreach (var withBuffer in r % 2 == 0 ? new[] { false, true } : [true, false])
            {
                // Several passes (a camera each, one after the other) so that one figure is a few hundred ms of CPU or more.
                var cpu = CpuClock.Self();
                for (var p = 0; p < PassesPerRound; p++)
                {
                    using var pass = Open(source, withBuffer ? buffer : TimeSpan.Zero);
                    videoSeconds = DecodeToEnd(pass);
                }

                var ms = (CpuClock.Self() - cpu).TotalMilliseconds / PassesPerRound;
                progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  round {r + 1}: {(withBuffer ? "with" : "without")} clip buffer {ms:F0} ms CPU per pass of {videoSeconds:F1} s of video ({PassesPerRound} passes)"));
                if (withBuffer)
                {
                    on = Math.Min(on, ms);
                }
                else
                {
                    off = Math.Min(off, ms);
                }
            }
        }

        // Cuts from a full buffer: windows of clipSeconds spread over what it holds, each written and deleted.
        var dir = Directory.CreateTempSubdirectory("stream-bench-clips-");
        var (cuts, cutMs, cutSeconds) = (0, 0.0, 0.0);
        try
        {
            using var full = Open(source, buffer);
            DecodeToEnd(full);
            var clips = (IClipSource)full;
            var epoch = 0L;
            var until = clips.BufferedUntil(epoch) ?? throw new InvalidOperationException($"{source}: nothing was buffered");
            var held = Math.Min(bufferSeconds, videoSeconds);
            var window = Math.Min(clipSeconds, held);
            for (var i = 0; i < 20; i++)
            {
                var to = until - TimeSpan.FromSeconds((held - window) * (i % 5) / 5);
                var path = Path.Combine(dir.FullName, $"{i}.mp4");
                var cpu = CpuClock.Self();
                var clip = clips.Cut(epoch, to - TimeSpan.FromSeconds(window), to, path) ?? throw new InvalidOperationException("the source keeps no clip buffer");
                cutMs += (CpuClock.Self() - cpu).TotalMilliseconds;
                cutSeconds += clip.Duration.TotalSeconds;
                cuts++;
                File.Delete(path);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }

        // N cameras, each through a whole pass with its buffer, all open at once.
        var open = new List<IFrameSource>();
        try
        {
            var rssBefore = Rss();
            for (var i = 0; i < cameras; i++)
            {
                var camera = Open(source, buffer);
                open.Add(camera);
                DecodeToEnd(camera);
            }

            var rssPerCamera = cameras > 0 ? (Rss() - rssBefore) / (double)cameras : 0;
            var bytes = open.Sum(s => ((IClipSource)s).BufferedBytes);
            var expected = cameras * PacketBytesPerSecond(source, videoSeconds) * Math.Min(bufferSeconds, videoSeconds);
            return new ClipBenchmarkResult(source, videoSeconds, rounds, off, on, cuts, cutMs / Math.Max(1, cuts), cutSeconds / Math.Max(1, cuts), cameras,
                bufferSeconds, bytes, expected, rssPerCamera);
        }
        finally
        {
            open.ForEach(s => s.Dispose());
        }
    }

    public static void Print(ClipBenchmarkResult r, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(writer);
        var inv = CultureInfo.InvariantCulture;
        writer.WriteLine(MachineInfo.Line());
        writer.WriteLine(string.Create(inv, $"source {r.Source}: {r.VideoSeconds:F1} s of video per pass, {r.Rounds} rounds each, least CPU kept"));
        writer.WriteLine(string.Create(inv, $"decode without a clip buffer: {r.DecodeCpuMsOff:F0} ms CPU ({r.DecodeCpuMsPerCameraSecond:F2} ms per camera-second)"));
        writer.WriteLine(string.Create(inv, $"decode with a {r.BufferSeconds:0.#} s clip buffer: {r.DecodeCpuMsOn:F0} ms CPU; the buffer: {r.BufferCpuMsPerCameraSecond:+0.00;-0.00} ms per camera-second ({100 * r.BufferCpuMsPerCameraSecond / Math.Max(1e-9, r.DecodeCpuMsPerCameraSecond):+0.0;-0.0} % of decoding)"));
        writer.WriteLine(string.Create(inv, $"remux: {r.Cuts} clips of {r.CutSecondsPerClip:F1} s, {r.CutCpuMsPerClip:F1} ms CPU each ({r.CutCpuMsPerClipSecond:F2} ms per clip-second)"));
        writer.WriteLine(string.Create(inv, $"memory: {r.Cameras} cameras' buffers hold {r.BufferBytes / 1048576.0:F1} MiB (BufferSeconds x the stream's bitrate: {r.ExpectedBufferBytes / 1048576.0:F1} MiB); RSS {r.RssPerCameraBytes / 1048576.0:F1} MiB per open camera (its decoder included)"));
        writer.WriteLine(string.Create(inv, $"clips: buffer {r.BufferCpuMsPerCameraSecond:+0.00;-0.00} ms CPU per camera-second, remux {r.CutCpuMsPerClipSecond:F2} ms CPU per clip-second, buffers {r.BufferBytes / Math.Max(1, r.ExpectedBufferBytes):P0} of BufferSeconds x bitrate"));
    }

    private static IFrameSource Open(string path, TimeSpan buffer)
    {
        var camera = new CameraOptions { Id = "bench", Url = Path.GetFullPath(path), Pacing = FilePacing.Full, Loop = false };
        var source = FrameSources.Create(camera, new IngestOptions { FileDecoder = FileDecoder.Libav }, clipBuffer: buffer);
        source.Open(CancellationToken.None);
        return source;
    }

    /// <summary>Reads the whole file; returns the last frame's media position in seconds (its length).</summary>
    private static double DecodeToEnd(IFrameSource source)
    {
        var last = TimeSpan.Zero;
        for (long seq = 0; source.Read("bench", seq, live: false, CancellationToken.None) is { } frame; seq++)
        {
            last = frame.Pts ?? last;
            frame.Dispose();
        }

        return Math.Max(last.TotalSeconds, 1e-3);
    }

    /// <summary>The video stream's packet bytes per second, as ffprobe counts them (the file's size when ffprobe is not there).</summary>
    private static double PacketBytesPerSecond(string path, double seconds)
    {
        try
        {
            using var ffprobe = Process.Start(new ProcessStartInfo("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size", "-of", "csv=p=0", path])
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            long total = 0;
            while (ffprobe.StandardOutput.ReadLine() is { } line)
            {
                total += long.TryParse(line.Trim().TrimEnd(','), NumberStyles.Integer, CultureInfo.InvariantCulture, out var size) ? size : 0;
            }

            ffprobe.WaitForExit();
            return total / seconds;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return new FileInfo(path).Length / seconds;
        }
    }

    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64;
    }
}
