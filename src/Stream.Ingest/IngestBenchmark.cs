using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>Figures of one decode run.</summary>
public sealed record DecodeRun(string Name, long Frames, TimeSpan Elapsed)
{
    public double Fps => Elapsed > TimeSpan.Zero ? Frames / Elapsed.TotalSeconds : 0;
}

/// <summary>Result of <see cref="IngestBenchmark"/>: the ingest path against ffmpeg on the same input in the same run.</summary>
public sealed record IngestBenchmarkResult(string Source, int Width, int Height, int Passes, int Threads, DecodeRun Ingest, DecodeRun Ffmpeg)
{
    public double Ratio => Ffmpeg.Fps > 0 ? Ingest.Fps / Ffmpeg.Fps : 0;
}

/// <summary>
/// <c>stream bench ingest</c>: decodes a file at full speed through the real file-source path (OpenCV VideoCapture
/// grabbing and converting to BGR24 straight into pooled frames) and, in the same run, times
/// <c>ffmpeg -threads T -i FILE -map 0:v:0 -f null -</c> decoding the same frames with the same decoder thread budget
/// (OpenCV's FFmpeg backend is given the same T through CAP_PROP_N_THREADS). ffmpeg's figure is decode only; the
/// ingest figure also pays the YUV to BGR conversion and the copy into the frame, which a pipeline needs.
/// For rtsp/http sources the ffmpeg-pipe path is timed for a fixed duration against <c>ffmpeg -f null</c> on the same URL.
/// </summary>
public static partial class IngestBenchmark
{
    public static async Task<IngestBenchmarkResult> RunAsync(string source, double seconds, int threads, string ffmpegPath = "ffmpeg",
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        var kind = CameraSource.Classify(source);
        return kind switch
        {
            SourceKind.File => await RunFileAsync(source, seconds, threads, ffmpegPath, cancellationToken).ConfigureAwait(false),
            SourceKind.Network => await RunNetworkAsync(source, seconds <= 0 ? 10 : seconds, threads, ffmpegPath, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentException($"'{UrlRedactor.Redact(source)}' is not a file or rtsp/http URL; pass --source FILE or --source rtsp://...", nameof(source)),
        };
    }

    private static async Task<IngestBenchmarkResult> RunFileAsync(string path, double seconds, int threads, string ffmpegPath, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found; pass an existing video file (scripts/setup.sh puts samples/test_720p.mp4 in place).", path);
        }

        var camera = new CameraOptions { Id = "bench", Url = path, Pacing = FilePacing.Full };
        long frames = 0;
        var passes = 0;
        int width = 0, height = 0;
        var clock = Stopwatch.StartNew();

        // Whole passes over the file until the time budget is spent (at least one), so ffmpeg can decode exactly the same frames.
        await Task.Run(
            () =>
            {
                do
                {
                    using var capture = new CaptureFrameSource(camera, threads);
                    capture.Open(ct);
                    (width, height) = (capture.Width, capture.Height);
                    while (capture.Read(camera.Id, frames, live: false, ct) is { } frame)
                    {
                        frame.Dispose();
                        frames++;
                    }

                    passes++;
                }
                while (clock.Elapsed.TotalSeconds < seconds && !ct.IsCancellationRequested);
            },
            ct).ConfigureAwait(false);
        var ingest = new DecodeRun("ingest (OpenCV VideoCapture -> pooled BGR24 frames)", frames, clock.Elapsed);

        string[] args =
        [
            "-hide_banner", "-nostdin", "-nostats", "-benchmark", "-threads", threads.ToString(CultureInfo.InvariantCulture),
            "-stream_loop", (passes - 1).ToString(CultureInfo.InvariantCulture), "-i", path, "-map", "0:v:0", "-f", "null", "-",
        ];
        var ffmpeg = await RunFfmpegAsync(ffmpegPath, args, $"ffmpeg -threads {threads} -f null (decode only)", ct).ConfigureAwait(false);
        return new IngestBenchmarkResult(path, width, height, passes, threads, ingest, ffmpeg);
    }

    private static async Task<IngestBenchmarkResult> RunNetworkAsync(string url, double seconds, int threads, string ffmpegPath, CancellationToken ct)
    {
        var options = new IngestOptions { FfmpegPath = ffmpegPath, DecoderThreads = threads };
        var camera = new CameraOptions { Id = "bench", Url = url };
        long frames = 0;
        int width = 0, height = 0;
        var clock = new Stopwatch();
        await Task.Run(
            () =>
            {
                using var source = new FfmpegFrameSource(camera, options);
                clock.Start();
                source.Open(ct);
                (width, height) = (source.Width, source.Height);
                while (clock.Elapsed.TotalSeconds < seconds && source.Read(camera.Id, frames, live: true, ct) is { } frame)
                {
                    frame.Dispose();
                    frames++;
                }
            },
            ct).ConfigureAwait(false);
        var ingest = new DecodeRun("ingest (ffmpeg pipe -> pooled BGR24 frames)", frames, clock.Elapsed);
        var args = FfmpegFrameSource.BuildArguments(camera, options).ToList();
        var output = args.IndexOf("-pix_fmt");
        args.RemoveRange(output, args.Count - output);
        args.AddRange(["-t", seconds.ToString(CultureInfo.InvariantCulture), "-f", "null", "-"]);
        args[args.IndexOf("-nostats")] = "-benchmark";
        var ffmpeg = await RunFfmpegAsync(ffmpegPath, args, "ffmpeg -f null (same URL and options, decode only)", ct).ConfigureAwait(false);
        return new IngestBenchmarkResult(UrlRedactor.Redact(url), width, height, 1, threads, ingest, ffmpeg);
    }

    [GeneratedRegex(@"frame=\s*(?<n>\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex FrameCount();

    [GeneratedRegex(@"bench:.*rtime=(?<t>[0-9.]+)s", RegexOptions.CultureInvariant)]
    private static partial Regex RealTime();

    private static async Task<DecodeRun> RunFfmpegAsync(string ffmpegPath, IReadOnlyList<string> args, string name, CancellationToken ct)
    {
        var info = new ProcessStartInfo(ffmpegPath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {ffmpegPath}; install ffmpeg.");
        var stderrTask = process.StandardError.ReadToEndAsync(ct);
        var stdoutTask = process.StandardOutput.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var wall = clock.Elapsed;
        var stderr = await stderrTask.ConfigureAwait(false);
        await stdoutTask.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var last = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
            throw new InvalidOperationException($"ffmpeg failed (exit {process.ExitCode}): {UrlRedactor.Redact(last)}");
        }

        var frames = FrameCount().Matches(stderr).LastOrDefault() is { } m ? long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) : 0;
        var rt = RealTime().Match(stderr);
        var elapsed = rt.Success ? TimeSpan.FromSeconds(double.Parse(rt.Groups["t"].Value, CultureInfo.InvariantCulture)) : wall;
        return new DecodeRun(name, frames, elapsed);
    }

    /// <summary>Writes the report; the ratio is the last line.</summary>
    public static void Print(IngestBenchmarkResult result, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"source: {result.Source} ({result.Width}x{result.Height}, {result.Passes} pass(es), decoder threads {result.Threads})"));
        foreach (var run in new[] { result.Ingest, result.Ffmpeg })
        {
            output.WriteLine(string.Create(c, $"{run.Name}: {run.Frames} frames in {run.Elapsed.TotalSeconds:0.000} s = {run.Fps:0.0} frames/s"));
        }

        output.WriteLine(string.Create(c, $"ratio ingest/ffmpeg: {result.Ratio:0.000}"));
    }
}
