using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Bench;

/// <summary>Figures of one decode run.</summary>
public sealed record DecodeRun(string Name, long Frames, TimeSpan Elapsed, TimeSpan Cpu)
{
    public double Fps => Elapsed > TimeSpan.Zero ? Frames / Elapsed.TotalSeconds : 0;

    /// <summary>Frames per CPU-second (all threads and child processes of the run).</summary>
    public double FramesPerCpuSecond => Cpu > TimeSpan.Zero ? Frames / Cpu.TotalSeconds : 0;

    /// <summary>Of <see cref="Cpu"/>, what child processes (the ffmpeg decoder of the pipe) used.</summary>
    public TimeSpan ChildCpu { get; init; }

    /// <summary>The least CPU time any round of this contender took (rounds decode the same frames); zero: one round only.</summary>
    public TimeSpan LeastCpu { get; init; }

    /// <summary>CPU milliseconds per frame, from the least CPU over the rounds (the figure least disturbed by other load).</summary>
    public double CpuMsPerFrame => Frames > 0 ? (LeastCpu > TimeSpan.Zero ? LeastCpu : Cpu).TotalMilliseconds / Frames : 0;
}

/// <summary>Result of <see cref="IngestBenchmark"/>: the ingest path against ffmpeg on the same input in the same run.</summary>
/// <param name="Ingest">The ingest path the ratio is about (the selected file decoder, or the ffmpeg pipe for URLs).</param>
/// <param name="Others">The other file decoders and the reference pipe, for comparison (URLs: the old ffmpeg pipe).</param>
public sealed record IngestBenchmarkResult(string Source, int Width, int Height, int Passes, int Threads, DecodeRun Ingest, IReadOnlyList<DecodeRun> Others, DecodeRun Ffmpeg)
{
    public double Ratio => Ffmpeg.Fps > 0 ? Ingest.Fps / Ffmpeg.Fps : 0;

    /// <summary>ffmpeg's CPU per frame over the ingest path's (least CPU over the rounds on both sides).</summary>
    public double CpuRatio => Ingest.CpuMsPerFrame > 0 ? Ffmpeg.CpuMsPerFrame / Ingest.CpuMsPerFrame : 0;

    /// <summary>Milliseconds OpenCV's in-process I420 to BGR conversion takes per frame of this size (best of the rounds).</summary>
    public double I420ToBgrMs { get; init; }

    /// <summary>A live stream: the frame rate is the stream's, so CPU per frame is the figure that compares.</summary>
    public bool Live { get; init; }

    /// <summary>Live streams: the CPU ffmpeg spends starting up (least over the rounds), included in its figure.</summary>
    public TimeSpan FfmpegStartupCpu { get; init; }

    /// <summary>The ingest path's CPU per frame over ffmpeg's without ffmpeg's process start-up.</summary>
    public double CpuPerFrameRatioWithoutStartup
    {
        get
        {
            var cpu = (Ffmpeg.LeastCpu > TimeSpan.Zero ? Ffmpeg.LeastCpu : Ffmpeg.Cpu) - FfmpegStartupCpu;
            return Ffmpeg.Frames > 0 && cpu > TimeSpan.Zero ? Ingest.CpuMsPerFrame / (cpu.TotalMilliseconds / Ffmpeg.Frames) : 0;
        }
    }

    /// <summary>The ingest path's CPU per frame over ffmpeg's (least CPU over the rounds on both sides): 1.1 means 10% more.</summary>
    public double CpuPerFrameRatio => Ffmpeg.CpuMsPerFrame > 0 ? Ingest.CpuMsPerFrame / Ffmpeg.CpuMsPerFrame : 0;
}

/// <summary>
/// <c>stream bench ingest</c>: decodes a file at full speed through the real file-source paths, each straight into
/// pooled frames as the pipeline gets them: the system FFmpeg libraries in-process (libstreamdec.so, I420 planes
/// copied), the ffmpeg pipe (its I420 wire read into I420 frames) and OpenCV VideoCapture (BGR24); and, in the same run, times
/// <c>ffmpeg -threads T -i FILE -map 0:v:0 -f null -</c> decoding the same frames with the same decoder thread budget.
/// ffmpeg's figure is decode only; the ingest figure also pays the copy into the frame, which a pipeline needs (the
/// full-size BGR conversion is paid later, and only for the frames the sink stores or the live view shows). For reference the pipe asking ffmpeg for BGR24 is timed too. The contenders alternate in
/// rounds, each keeping its best; the ratio line is the selected decoder's (Ingest:FileDecoder's default unless
/// --decoder says otherwise). CPU-seconds (this process and its reaped children) are printed too.
/// For rtsp/http sources (a live stream) the in-process decoder Ingest uses, the old ffmpeg pipe and
/// <c>ffmpeg -rtsp_transport tcp -i URL -f null -</c> each read the stream for the same duration, alternating in rounds;
/// the figure is CPU per frame, and the last line its ratio (in-process over ffmpeg).
/// </summary>
public static partial class IngestBenchmark
{
    public static async Task<IngestBenchmarkResult> RunAsync(string source, double seconds, int threads, string ffmpegPath = "ffmpeg",
        FileDecoder decoder = FileDecoder.Libav, int repeat = 3, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        var kind = CameraSource.Classify(source);
        return kind switch
        {
            SourceKind.File => await RunFileAsync(source, seconds, threads, ffmpegPath, decoder, repeat, cancellationToken).ConfigureAwait(false),
            SourceKind.Network => await RunNetworkAsync(source, seconds <= 0 ? 10 : seconds, threads, ffmpegPath, repeat, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentException($"'{UrlRedactor.Redact(source)}' is not a file or rtsp/http URL; pass --source FILE or --source rtsp://...", nameof(source)),
        };
    }

    private static async Task<IngestBenchmarkResult> RunFileAsync(string path, double seconds, int threads, string ffmpegPath, FileDecoder decoder,
        int repeat, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found; pass an existing video file (scripts/setup.sh puts samples/test_720p.mp4 in place).", path);
        }

        if (decoder == FileDecoder.Libav && FrameSources.LibavUnavailableReason is { } reason)
        {
            throw new InvalidOperationException(reason + "; or pass --decoder Ffmpeg");
        }

        // Round 1 fixes the work: whole passes over the file until the time budget is spent (at least one), so that
        // every later measurement decodes exactly the same frames. Rounds alternate the contenders and each keeps its
        // best round, which filters out bursts of other load on a shared machine.
        var (opencv, passes, width, height) = await MeasureCaptureAsync(path, seconds, frames: 0, passes: 0, threads, FileDecoder.OpenCv, ct).ConfigureAwait(false);
        var frames = opencv.Frames;
        DecodeRun? libav = null;
        DecodeRun? pipe = null;
        DecodeRun? pipeBgr = null;
        DecodeRun? ffmpeg = null;
        var convertMs = double.MaxValue;
        for (var round = 0; round < Math.Max(1, repeat); round++)
        {
            if (round > 0)
            {
                opencv = Best(opencv, (await MeasureCaptureAsync(path, 0, frames, passes, threads, FileDecoder.OpenCv, ct).ConfigureAwait(false)).Run);
            }

            if (FrameSources.LibavUnavailableReason is null)
            {
                libav = Best(libav, (await MeasureCaptureAsync(path, 0, frames, passes, threads, FileDecoder.Libav, ct).ConfigureAwait(false)).Run);
            }

            pipe = Best(pipe, await MeasurePipeAsync(path, frames, passes, threads, ffmpegPath, PipeFormat.I420, ct).ConfigureAwait(false));
            pipeBgr = Best(pipeBgr, await MeasurePipeAsync(path, frames, passes, threads, ffmpegPath, PipeFormat.Bgr24, ct).ConfigureAwait(false));
            convertMs = Math.Min(convertMs, MeasureI420ToBgr(width, height));
            string[] args =
            [
                "-hide_banner", "-nostdin", "-nostats", "-threads", threads.ToString(CultureInfo.InvariantCulture),
                "-stream_loop", (passes - 1).ToString(CultureInfo.InvariantCulture), "-i", path, "-map", "0:v:0", "-f", "null", "-",
            ];
            ffmpeg = Best(ffmpeg, await RunFfmpegAsync(ffmpegPath, args, $"ffmpeg -threads {threads} -f null (decode only)", ct).ConfigureAwait(false));
        }

        var selected = decoder switch { FileDecoder.Libav => libav!, FileDecoder.Ffmpeg => pipe!, _ => opencv };
        DecodeRun?[] all = [libav, pipe, opencv, pipeBgr];
        var others = all.OfType<DecodeRun>().Where(r => !ReferenceEquals(r, selected)).ToList();
        return new IngestBenchmarkResult(path, width, height, passes, threads, selected, others, ffmpeg!) { I420ToBgrMs = convertMs };
    }

    /// <summary>Times OpenCV's I420 to BGR conversion on one frame size (what the ffmpeg pipe pays in-process per frame).</summary>
    private static double MeasureI420ToBgr(int width, int height)
    {
        if (width % 2 != 0 || height % 2 != 0)
        {
            return 0;
        }

        const int Frames = 100;
        using var yuv = new Mat(height * 3 / 2, width, MatType.CV_8UC1, Scalar.All(128));
        using var bgr = new Mat(height, width, MatType.CV_8UC3);
        Cv2.CvtColor(yuv, bgr, ColorConversionCodes.YUV2BGR_I420);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Frames; i++)
        {
            Cv2.CvtColor(yuv, bgr, ColorConversionCodes.YUV2BGR_I420);
        }

        return clock.Elapsed.TotalMilliseconds / Frames;
    }

    /// <summary>The faster of two rounds, carrying the least CPU time seen over all rounds.</summary>
    private static DecodeRun Best(DecodeRun? a, DecodeRun b)
    {
        var leastCpu = a is null ? b.Cpu : TimeSpan.FromTicks(Math.Min((a.LeastCpu > TimeSpan.Zero ? a.LeastCpu : a.Cpu).Ticks, b.Cpu.Ticks));
        return (a is null || b.Fps > a.Fps ? b : a) with { LeastCpu = leastCpu };
    }

    /// <summary>
    /// An in-process file decoder (VideoCapture or libav). Without <paramref name="frames"/>: whole passes, opening the
    /// file for each, until <paramref name="seconds"/> is spent (round 1, which fixes the work). With it: one looping
    /// source read for exactly that many frames, the way a looping camera (and <c>ffmpeg -stream_loop</c>) goes round.
    /// </summary>
    private static async Task<(DecodeRun Run, int Passes, int Width, int Height)> MeasureCaptureAsync(string path, double seconds, long frames,
        int passes, int threads, FileDecoder decoder, CancellationToken ct)
    {
        var camera = new CameraOptions { Id = "bench", Url = path, Pacing = FilePacing.Full, Loop = frames > 0 && passes > 1 };
        long read = 0;
        var done = 0;
        int width = 0, height = 0;
        var cpu = CpuClock.Self() + CpuClock.Children();
        var clock = Stopwatch.StartNew();
        await Task.Run(
            () =>
            {
                do
                {
                    using var capture = FrameSources.Create(camera, new IngestOptions { DecoderThreads = threads, FileDecoder = decoder });
                    capture.Open(ct);
                    (width, height) = (capture.Width, capture.Height);
                    while ((frames <= 0 || read < frames) && capture.Read(camera.Id, read, live: false, ct) is { } frame)
                    {
                        frame.Dispose();
                        read++;
                    }

                    done++;
                }
                while (frames <= 0 && clock.Elapsed.TotalSeconds < seconds && !ct.IsCancellationRequested);
            },
            ct).ConfigureAwait(false);
        var passesDone = frames <= 0 ? done : passes;
        var name = decoder == FileDecoder.Libav
            ? "ingest, FileDecoder=Libav (system FFmpeg libraries in-process, decoding ahead -> pooled I420 frames, planes copied)"
            : "ingest, FileDecoder=OpenCv (VideoCapture -> pooled BGR24 frames)";
        var run = new DecodeRun(name, read, clock.Elapsed, CpuClock.Self() + CpuClock.Children() - cpu);
        return (run, passesDone, width, height);
    }

    /// <summary>The same frames through the ffmpeg-pipe file decoder (the path network cameras use).</summary>
    private static async Task<DecodeRun> MeasurePipeAsync(string path, long frames, int passes, int threads, string ffmpegPath, PipeFormat format,
        CancellationToken ct)
    {
        var options = new IngestOptions { FfmpegPath = ffmpegPath, DecoderThreads = threads, FileDecoder = FileDecoder.Ffmpeg };
        var camera = new CameraOptions { Id = "bench", Url = path, Pacing = FilePacing.Full, Loop = passes > 1 };
        long piped = 0;
        var self = CpuClock.Self();
        var children = CpuClock.Children();
        var clock = Stopwatch.StartNew();
        await Task.Run(
            () =>
            {
                using var source = FrameSources.CreateFfmpegPipe(camera, options, format);
                source.Open(ct);
                while (piped < frames && source.Read(camera.Id, piped, live: false, ct) is { } frame)
                {
                    frame.Dispose();
                    piped++;
                }
            },
            ct).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        var name = format == PipeFormat.I420
            ? "ingest, FileDecoder=Ffmpeg (ffmpeg pipe I420 read straight into pooled I420 frames)"
            : "ffmpeg pipe asked for bgr24 (swscale in ffmpeg -> pooled BGR24 frames)";
        var childCpu = CpuClock.Children() - children;
        return new DecodeRun(name, piped, elapsed, CpuClock.Self() - self + childCpu) { ChildCpu = childCpu };
    }

    /// <summary>
    /// A live network stream (e.g. GStreamer's RTSP test server, docs/ingest.md): for <paramref name="seconds"/> per
    /// round, the in-process decoder Ingest uses (libav, I420 frames), the old ffmpeg pipe (I420 frames), and
    /// <c>ffmpeg -rtsp_transport tcp -i URL -f null -</c>, alternating; each keeps its least CPU per frame. The stream
    /// sets the frame rate, so CPU per frame is the figure; the ratio line is the in-process decoder's over ffmpeg's.
    /// </summary>
    private static async Task<IngestBenchmarkResult> RunNetworkAsync(string url, double seconds, int threads, string ffmpegPath, int repeat,
        CancellationToken ct)
    {
        var options = new IngestOptions { FfmpegPath = ffmpegPath, DecoderThreads = threads, RtspTransport = "tcp" };
        var camera = new CameraOptions { Id = "bench", Url = url };
        if (FrameSources.NetworkUsesPipe(camera, options))
        {
            throw new InvalidOperationException((FrameSources.LibavUnavailableReason ?? "a hardware decoder is configured") + "; the in-process decoder cannot be measured");
        }

        DecodeRun? inProcess = null;
        DecodeRun? pipe = null;
        DecodeRun? ffmpeg = null;
        int width = 0, height = 0;
        var rtsp = url.StartsWith("rtsp", StringComparison.OrdinalIgnoreCase);
        List<string> args = ["-hide_banner", "-nostdin"];
        if (rtsp)
        {
            args.AddRange(["-rtsp_transport", "tcp"]);
        }

        if (threads > 0)
        {
            args.AddRange(["-threads", threads.ToString(CultureInfo.InvariantCulture)]);
        }

        args.AddRange(["-i", url, "-map", "0:v:0", "-t", seconds.ToString(CultureInfo.InvariantCulture), "-f", "null", "-"]);
        var startup = TimeSpan.MaxValue;
        for (var round = 0; round < Math.Max(1, repeat); round++)
        {
            // ffmpeg's CPU includes starting a process (about 0.2 CPU-s here), which the in-process side paid once, long
            // before: measured alone on a one-frame null source, so the comparison can be made without it too.
            var idle = await RunFfmpegAsync(ffmpegPath, ["-hide_banner", "-nostdin", "-f", "lavfi", "-i", "nullsrc=s=16x16", "-frames:v", "1", "-f", "null", "-"],
                "ffmpeg start-up", ct).ConfigureAwait(false);
            startup = idle.Cpu < startup ? idle.Cpu : startup;
            var live = await MeasureLiveAsync(() => FrameSources.Create(camera, options), camera, seconds,
                "ingest, in-process (libav in-process, decoding ahead -> pooled I420 frames, planes copied, no conversion)", ct).ConfigureAwait(false);
            (width, height) = (live.Width, live.Height);
            inProcess = Best(inProcess, live.Run);
            pipe = Best(pipe, (await MeasureLiveAsync(() => FrameSources.CreateFfmpegPipe(camera, options, PipeFormat.I420), camera, seconds,
                "old ffmpeg pipe (ffmpeg child -> I420 pipe read straight into pooled I420 frames)", ct).ConfigureAwait(false)).Run);
            ffmpeg = Best(ffmpeg, await RunFfmpegAsync(ffmpegPath, args,
                $"{(rtsp ? "ffmpeg -rtsp_transport tcp" : "ffmpeg")} -i URL -f null - (decode only)", ct).ConfigureAwait(false));
        }

        return new IngestBenchmarkResult(UrlRedactor.Redact(url), width, height, 1, threads, inProcess!, [pipe!], ffmpeg!) { Live = true, FfmpegStartupCpu = startup };
    }

    /// <summary>One live source read for <paramref name="seconds"/> from the start of its open, CPU of this process and its children.</summary>
    private static async Task<(DecodeRun Run, int Width, int Height)> MeasureLiveAsync(Func<IFrameSource> create, CameraOptions camera, double seconds,
        string name, CancellationToken ct)
    {
        long frames = 0;
        int width = 0, height = 0;
        var self = CpuClock.Self();
        var children = CpuClock.Children();
        var clock = new Stopwatch();
        await Task.Run(
            () =>
            {
                using var source = create();
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
        var elapsed = clock.Elapsed;
        var childCpu = CpuClock.Children() - children;
        return (new DecodeRun(name, frames, elapsed, CpuClock.Self() - self + childCpu) { ChildCpu = childCpu }, width, height);
    }

    [GeneratedRegex(@"frame=\s*(?<n>\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex FrameCount();

    private static async Task<DecodeRun> RunFfmpegAsync(string ffmpegPath, IReadOnlyList<string> args, string name, CancellationToken ct)
    {
        var cpu = CpuClock.Children();
        var run = await ToolProcess.RunAsync(ffmpegPath, args, ct).ConfigureAwait(false);
        var frames = FrameCount().Matches(run.Stderr).LastOrDefault() is { } m ? long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) : 0;
        // Wall time from process start, like the ingest side (whose time includes opening the file), so both pay their start-up.
        return new DecodeRun(name, frames, run.Wall, CpuClock.Children() - cpu);
    }

    /// <summary>Writes the report; the ratio is the last line.</summary>
    public static void Print(IngestBenchmarkResult result, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"source: {result.Source} ({result.Width}x{result.Height}, {result.Passes} pass(es), decoder threads {(result.Threads > 0 ? result.Threads.ToString(c) : "auto")}; best of the rounds)"));
        void Line(DecodeRun run, string suffix) =>
            output.WriteLine(string.Create(c,
                $"{run.Name}: {run.Frames} frames in {run.Elapsed.TotalSeconds:0.000} s = {run.Fps:0.0} frames/s; {run.Cpu.TotalSeconds:0.000} CPU-s = {run.FramesPerCpuSecond:0.0} frames/CPU-s; least CPU over the rounds {run.CpuMsPerFrame:0.000} ms/frame{(run.ChildCpu > TimeSpan.Zero ? $" (ffmpeg child {run.ChildCpu.TotalMilliseconds / run.Frames:0.000} ms/frame in the shown round)" : string.Empty)}{suffix}"));
        foreach (var other in result.Others)
        {
            Line(other, string.Create(c, $" (ratio {(result.Ffmpeg.Fps > 0 ? other.Fps / result.Ffmpeg.Fps : 0):0.000})"));
        }

        if (result.I420ToBgrMs > 0)
        {
            output.WriteLine(string.Create(c, $"OpenCV cvtColor I420->BGR in-process: {result.I420ToBgrMs:0.000} ms/frame at {result.Width}x{result.Height}"));
        }

        Line(result.Ingest, " (selected)");
        Line(result.Ffmpeg, string.Empty);
        if (result.Live)
        {
            foreach (var other in result.Others)
            {
                output.WriteLine(string.Create(c, $"CPU per frame, {other.Name[..Math.Max(0, other.Name.IndexOf(" (", StringComparison.Ordinal))]} / ffmpeg: {(result.Ffmpeg.CpuMsPerFrame > 0 ? other.CpuMsPerFrame / result.Ffmpeg.CpuMsPerFrame : 0):0.000}"));
            }

            output.WriteLine(string.Create(c, $"ffmpeg process start-up alone: {result.FfmpegStartupCpu.TotalMilliseconds:0} CPU-ms ({result.FfmpegStartupCpu.TotalMilliseconds / Math.Max(1, result.Ffmpeg.Frames):0.000} ms/frame of its run)"));
            output.WriteLine(string.Create(c, $"CPU per frame, in-process decoder / ffmpeg, its start-up included: {result.CpuPerFrameRatio:0.000}"));
            output.WriteLine(string.Create(c, $"CPU per frame, in-process decoder / ffmpeg without its process start-up (least CPU over the rounds; goal <= 1.1): {result.CpuPerFrameRatioWithoutStartup:0.000}"));
            return;
        }

        output.WriteLine(string.Create(c, $"ratio per CPU-second (least CPU over the rounds, load-independent): {result.CpuRatio:0.000}"));
        output.WriteLine(string.Create(c, $"ratio ingest/ffmpeg: {result.Ratio:0.000}"));
    }
}
