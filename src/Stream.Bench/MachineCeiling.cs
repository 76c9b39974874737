using System.Globalization;
using Microsoft.Extensions.Configuration;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Ingest;

namespace Streaming.Bench;

/// <summary>The machine's limit for the pipeline's work at the pipeline's parallelism, from <see cref="MachineCeiling.MeasureAsync"/>.</summary>
/// <param name="Cameras">Decode loops, one per camera of the run.</param>
/// <param name="Runs">Run loops: the Detect stage's <see cref="Detector.ConcurrentRuns"/>.</param>
/// <param name="IntraOpThreads">ONNX Runtime threads per run (0: ONNX Runtime's default, one per core).</param>
/// <param name="Batch">Frames per run: MaxBatch, or fewer where MaxPerCamera lets the cameras fill no more.</param>
/// <param name="Seconds">Measured wall seconds (warm-up excluded).</param>
/// <param name="Frames">Frames that went through Run and post-processing in those seconds.</param>
/// <param name="CpuSeconds">CPU seconds the process used in those seconds (all its threads).</param>
public sealed record MachineLimit(int Cameras, int Runs, int IntraOpThreads, int Batch, string Model, string Decoder, double Seconds, long Frames, double CpuSeconds)
{
    public double Fps => Seconds > 0 ? Frames / Seconds : 0;

    /// <summary>Share of the machine's cores the process kept busy, in percent (100: every core all the time).</summary>
    public double CpuPercent => Seconds > 0 ? 100 * CpuSeconds / (Seconds * Environment.ProcessorCount) : 0;

    /// <summary>Frames per CPU-second of the process: what the work costs whatever share of the machine the process got.</summary>
    public double FramesPerCpuSecond => CpuSeconds > 0 ? Frames / CpuSeconds : 0;

    /// <summary>Two measurements pooled (one before and one after the pipeline run, so both bracket the same machine load).</summary>
    public static MachineLimit Combine(MachineLimit a, MachineLimit b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a with { Seconds = a.Seconds + b.Seconds, Frames = a.Frames + b.Frames, CpuSeconds = a.CpuSeconds + b.CpuSeconds };
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Fps:F1} frames/s ({Cameras} decode+preprocess loops, {Runs} run loops of batch {Batch}, {(IntraOpThreads > 0 ? IntraOpThreads.ToString(CultureInfo.InvariantCulture) : "default")} ONNX Runtime threads each, {Model}, decoder {Decoder}; {Frames} frames in {Seconds:F1} s, CPU {CpuPercent:F0} % of {Environment.ProcessorCount} cores, {FramesPerCpuSecond:F1} frames per CPU-second)");
}

/// <summary>
/// The machine's ceiling for a pipeline run: the same work with the same parallelism and nothing else, every loop as
/// fast as it goes, all at once, so that all cores are busy.
/// <list type="bullet">
/// <item>One decode loop per camera on its own thread: the pipeline's file decoder (<see cref="FrameSources"/>, the
/// same <c>Ingest</c> options and decoder threads) reads the camera's file at full speed, round and round, and
/// letterboxes each frame into the Detect tensor (the stage's own <see cref="DetectorLane.Preprocess(IReadOnlyList{Frame}, int, int)"/>).</item>
/// <item><see cref="Detector.ConcurrentRuns"/> run loops, each on its own thread and lane of one <see cref="Detector"/>
/// (same model, options, ONNX Runtime threads and spinning): the lane's Run on a batch of real letterboxed frames with
/// nothing around it, then the stage's post-processing of its output.</item>
/// </list>
/// The loops share no frames, only counts: a run loop takes a batch's worth of decoded frames, and the decode loops
/// stay at most a few batches ahead, so the machine does every part of the work once per frame, in the pipeline's
/// proportions. What the pipeline adds (queues, batching, tracking, Kafka, Redis) is left out, and pre-processing is
/// spread over the decode loops rather than done on one thread, so the pipeline's frames/s cannot exceed this one's
/// but by noise: <c>pipeline/ceiling</c> &lt;= 1, and its distance from 1 is what the pipeline's plumbing costs.
/// </summary>
public static class MachineCeiling
{
    public static async Task<MachineLimit> MeasureAsync(IReadOnlyList<string> sources, IConfiguration configuration, TimeSpan warmup, TimeSpan window,
        TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(time);
        var ingest = configuration.GetSection(IngestOptions.Section).Get<IngestOptions>() ?? new IngestOptions();
        var options = configuration.GetSection(DetectOptions.Section).Get<DetectOptions>() ?? new DetectOptions();
        using var detector = Detector.Load(options, time: time);
        var runs = detector.ConcurrentRuns;
        var batch = Math.Clamp(sources.Count * options.MaxPerCamera, 1, Math.Min(options.MaxBatch, detector.Capacity));
        var runLanes = Enumerable.Range(0, runs).Select(_ => detector.CreateLane()).ToList();
        var decodeLanes = sources.Select(_ => detector.CreateLane()).ToList();
        detector.WarmUp([.. runLanes]);
        Fill(runLanes, sources[0], ingest, batch, cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var decoded = new SemaphoreSlim(0);
        using var room = new SemaphoreSlim((runs + 1) * batch + sources.Count);
        var counts = new long[1];
        var perCamera = new long[sources.Count];
        var failures = new List<Exception>();
        var threads = new List<Thread>();
        void Start(string name, Action loop)
        {
            var thread = new Thread(() =>
            {
                try
                {
                    loop();
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (Exception ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex);
                    }

                    stop.Cancel();
                }
            }) { IsBackground = true, Name = name };
            threads.Add(thread);
            thread.Start();
        }

        for (var i = 0; i < sources.Count; i++)
        {
            var (source, lane) = (sources[i], decodeLanes[i]);
            var id = "ceiling-" + i.ToString(CultureInfo.InvariantCulture);
            var index = i;
            Start(id, () => DecodeLoop(id, source, ingest, lane, room, decoded, perCamera, index, stop.Token));
        }

        foreach (var lane in runLanes)
        {
            Start("ceiling-run", () => RunLoop(lane, batch, room, decoded, counts, stop.Token));
        }

        try
        {
            // Warm until every decoder is past its start (threads spawned, first keyframe, pool buffers), or 10 s.
            await Task.Delay(warmup, time, stop.Token).ConfigureAwait(false);
            var warming = time.GetTimestamp();
            while (Enumerable.Range(0, perCamera.Length).Any(c => Interlocked.Read(ref perCamera[c]) < WarmFrames) && time.GetElapsedTime(warming) < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, stop.Token).ConfigureAwait(false);
            }

            var frames0 = Interlocked.Read(ref counts[0]);
            var cpu0 = CpuClock.Self();
            var t0 = time.GetTimestamp();
            await Task.Delay(window, time, stop.Token).ConfigureAwait(false);
            var frames = Interlocked.Read(ref counts[0]) - frames0;
            var cpu = CpuClock.Self() - cpu0;
            var seconds = time.GetElapsedTime(t0).TotalSeconds;
            return new MachineLimit(sources.Count, runs, options.IntraOpThreadsOn(detector.Model.ProviderKind), batch,
                Path.GetFileName(options.ModelPath) + " on " + detector.Model.Provider, DecoderName(ingest), seconds, frames, cpu.TotalSeconds);
        }
        catch (OperationCanceledException) when (failures.Count > 0)
        {
            throw new InvalidOperationException("the ceiling measurement failed: " + failures[0].Message, failures[0]);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var thread in threads)
            {
                thread.Join();
            }
        }
    }

    /// <summary>Frames each decode loop delivers before the window opens.</summary>
    private const int WarmFrames = 8;

    internal static string DecoderName(IngestOptions ingest) =>
        ingest.EffectiveFileDecoder switch { FileDecoder.Libav => "libav in-process", FileDecoder.Ffmpeg => "ffmpeg pipe", _ => "VideoCapture" };

    /// <summary>Decodes the camera's file round and round; each frame is letterboxed into the lane's first slot and released.</summary>
    private static void DecodeLoop(string id, string path, IngestOptions ingest, DetectorLane lane, SemaphoreSlim room, SemaphoreSlim decoded,
        long[] perCamera, int index, CancellationToken ct)
    {
        var camera = new CameraOptions { Id = id, Url = path, Pacing = FilePacing.Full, Loop = false };
        var one = new Frame[1];
        long sequence = 0;
        while (!ct.IsCancellationRequested)
        {
            using var source = FrameSources.Create(camera, ingest);
            source.Open(ct);
            var read = 0;
            while (true)
            {
                room.Wait(ct);
                using var frame = source.Read(id, sequence++, live: false, ct);
                if (frame is null)
                {
                    room.Release();
                    break;
                }

                one[0] = frame;
                lane.Preprocess(one, 0, 1);
                one[0] = null!;
                read++;
                Interlocked.Increment(ref perCamera[index]);
                decoded.Release();
            }

            if (read == 0)
            {
                throw new InvalidOperationException($"{path} has no decodable frames: pass a video the pipeline can read.");
            }
        }
    }

    /// <summary>Waits for a batch's worth of decoded frames, runs the model on the lane and post-processes its output.</summary>
    private static void RunLoop(DetectorLane lane, int batch, SemaphoreSlim room, SemaphoreSlim decoded, long[] counts, CancellationToken ct)
    {
        var results = new Detection[batch][];
        while (!ct.IsCancellationRequested)
        {
            for (var i = 0; i < batch; i++)
            {
                decoded.Wait(ct);
            }

            lane.Infer(batch);
            lane.Postprocess(batch, results);
            room.Release(batch);
            Interlocked.Add(ref counts[0], batch);
        }
    }

    /// <summary>Letterboxes the file's first frames into every run lane, so that the runs see real pictures and post-processing real boxes.</summary>
    private static void Fill(List<DetectorLane> lanes, string path, IngestOptions ingest, int batch, CancellationToken ct)
    {
        var camera = new CameraOptions { Id = "ceiling-fill", Url = path, Pacing = FilePacing.Full, Loop = false };
        var frames = new List<Frame>(batch);
        try
        {
            using (var source = FrameSources.Create(camera, ingest))
            {
                source.Open(ct);
                while (frames.Count < batch && source.Read(camera.Id, frames.Count, live: false, ct) is { } frame)
                {
                    frames.Add(frame);
                }
            }

            if (frames.Count == 0)
            {
                throw new InvalidOperationException($"{path} has no decodable frames: pass a video the pipeline can read.");
            }

            var distinct = frames.Count;
            for (var i = distinct; i < batch; i++)
            {
                frames.Add(frames[i % distinct]); // a clip shorter than a batch: its frames again
            }

            foreach (var lane in lanes)
            {
                lane.Preprocess(frames, 0, batch);
            }
        }
        finally
        {
            foreach (var frame in frames.Distinct())
            {
                frame.Dispose();
            }
        }
    }
}
