using System.Diagnostics;
using System.Globalization;
using Streaming.Core;
using Streaming.Hosting;

namespace Streaming.Bench;

public sealed record SoakOptions
{
    public required string Source { get; init; }

    public int Cameras { get; init; } = 8;

    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(20);

    public IReadOnlyDictionary<string, string?> Overrides { get; init; } = new Dictionary<string, string?>();
}

/// <summary>The process's resources at one moment, after a full, aggressive collection so that two samples compare live data.</summary>
public readonly record struct ResourceSample(long RssBytes, long ManagedHeapBytes, int Handles, int Gen2Collections, int Threads)
{
    /// <summary>Memory the GC holds from the OS (live objects plus free space it keeps), bytes.</summary>
    public long GcCommittedBytes { get; init; }

    /// <summary>Resident anonymous memory (heaps: managed, native allocators, ONNX Runtime arenas), bytes; 0 off Linux.</summary>
    public long RssAnonBytes { get; init; }

    /// <summary>Resident file-backed memory (code and data of the loaded libraries), bytes; 0 off Linux.</summary>
    public long RssFileBytes { get; init; }

    /// <summary>Managed bytes allocated since the process started (the allocation rate drives GC work).</summary>
    public long AllocatedBytes { get; init; }

    /// <summary>Frame buffers the frame pool has allocated since the process started.</summary>
    public long FrameBuffersAllocated { get; init; }

    /// <summary>Frame buffers the frame pool has let go since the process started (idle through a trim interval).</summary>
    public long FrameBuffersReleased { get; init; }

    /// <summary>
    /// RSS right after this sample, once glibc's <c>malloc_trim</c> has given free native heap pages back (0 off glibc):
    /// what RSS minus this is native memory freed but still held by the allocator, not memory in use.
    /// </summary>
    public long RssAfterTrimBytes { get; init; }

    private static int _forcedCollections;

    /// <summary>
    /// Takes a sample. Gen-2 collections are counted before (and without) the collections this sampling forces. With
    /// <paramref name="trim"/> (the last sample only: a trim would change what the process holds afterwards), also RSS
    /// after glibc's malloc_trim.
    /// </summary>
    public static ResourceSample Take(bool trim = false)
    {
        var gen2 = GC.CollectionCount(2) - Volatile.Read(ref _forcedCollections);
        var before = GC.CollectionCount(2);
        // Aggressive: a full compacting collection that also gives the GC's free regions back to the OS, so RSS at start
        // and end compares memory in use, not how large the GC's allocation budget happened to be at that moment.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Interlocked.Add(ref _forcedCollections, GC.CollectionCount(2) - before);
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        var (anon, file) = RssParts();
        var sample = new ResourceSample(self.WorkingSet64, heap, OpenHandles(), gen2, self.Threads.Count)
        {
            GcCommittedBytes = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes,
            AllocatedBytes = GC.GetTotalAllocatedBytes(precise: false),
            RssAnonBytes = anon,
            RssFileBytes = file,
            FrameBuffersAllocated = FrameBufferPool.Shared.AllocatedCount,
            FrameBuffersReleased = FrameBufferPool.Shared.ReleasedCount,
        };
        if (!trim || !NativeAllocator.TryTrim())
        {
            return sample;
        }

        self.Refresh();
        return sample with { RssAfterTrimBytes = self.WorkingSet64 };
    }

    /// <summary>RssAnon and RssFile from /proc/self/status (Linux); zeros elsewhere.</summary>
    private static (long Anon, long File) RssParts()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status))
        {
            return (0, 0);
        }

        long anon = 0, file = 0;
        foreach (var line in File.ReadLines(status))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
            {
                anon = Kilobytes(line);
            }
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
            {
                file = Kilobytes(line);
            }
        }

        return (anon * 1024, file * 1024);

        static long Kilobytes(string line)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb) ? kb : 0;
        }
    }

    /// <summary>Open file descriptors (/proc/self/fd) on Linux; the OS handle count elsewhere.</summary>
    private static int OpenHandles()
    {
        if (Directory.Exists("/proc/self/fd"))
        {
            return Directory.GetFileSystemEntries("/proc/self/fd").Length;
        }

        using var self = Process.GetCurrentProcess();
        return self.HandleCount;
    }
}

/// <summary>Event clips during a soak (issue 26): clips written and failed, how soon each was on disk, and the packet buffers' bytes at the end.</summary>
public sealed record SoakClips(double Written, double Failed, IReadOnlyList<double> DelaysMs, double BufferBytes, int BufferCameras, double ExpectedBufferBytes)
{
    /// <summary>Failures by reason (stream.sink.clip_failures' reason tag), those that happened.</summary>
    public IReadOnlyDictionary<string, double> FailedBecause { get; init; } = new Dictionary<string, double>();
}

public sealed record SoakResult(int Cameras, TimeSpan Duration, ResourceSample Start, ResourceSample End, PipelineCounts CountsStart, PipelineCounts CountsEnd)
{
    public SoakClips? Clips { get; init; }

    public double RssGrowthPercent => Start.RssBytes > 0 ? 100.0 * (End.RssBytes - Start.RssBytes) / Start.RssBytes : 0;

    public double Fps => (CountsEnd.Sunk - CountsStart.Sunk) / Math.Max(1e-9, (CountsEnd.At - CountsStart.At).TotalSeconds);

    public double OfferedFps => (CountsEnd.Ingested - CountsStart.Ingested) / Math.Max(1e-9, (CountsEnd.At - CountsStart.At).TotalSeconds);
}

/// <summary>
/// <c>stream bench soak</c>: file cameras paced like live cameras at 25 fps (looping) through the whole pipeline for a
/// long time. On a small machine that is more than the pipeline can process, so the oldest frames are dropped at
/// ingest and stale ones at detect; the soak proves memory and handles stay bounded under that overload. Resources
/// are sampled after a warm-up (pools, model, connections, JIT settled) and at the end.
/// </summary>
public static class SoakBenchmark
{
    public static async Task<SoakResult> RunAsync(SoakOptions options, TextWriter? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = new BenchSettings
        {
            Source = options.Source, Cameras = options.Cameras, Pacing = FilePacing.Native, Loop = true, MaxFps = 25, Overrides = options.Overrides,
        };
        await using var harness = await PipelineHarness.StartAsync(settings, cancellationToken: cancellationToken).ConfigureAwait(false);
        progress?.WriteLine($"soak: {options.Cameras} cameras x {options.Source} at 25 fps; warm-up {options.Warmup.TotalSeconds:F0} s, then {options.Duration.TotalMinutes:F2} min");
        await harness.RunForAsync(options.Warmup, cancellationToken).ConfigureAwait(false);
        var startCounts = harness.Counts();
        var start = ResourceSample.Take();
        progress?.WriteLine(Line("start", start));
        var report = TimeSpan.FromSeconds(30);
        var remaining = options.Duration;
        while (remaining > TimeSpan.Zero)
        {
            var step = remaining < report ? remaining : report;
            await harness.RunForAsync(step, cancellationToken).ConfigureAwait(false);
            remaining -= step;
            if (remaining > TimeSpan.Zero && progress is not null)
            {
                using var self = Process.GetCurrentProcess();
                var c = harness.Counts();
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {(options.Duration - remaining).TotalSeconds,5:F0} s: RSS {self.WorkingSet64 / 1048576.0:F1} MiB, GC committed {GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes / 1048576.0:F1} MiB, frame buffers allocated {FrameBufferPool.Shared.AllocatedCount}, frames in {c.Ingested - startCounts.Ingested}, through {c.Sunk - startCounts.Sunk}, dropped {c.Dropped - startCounts.Dropped}"));
            }
        }

        var endCounts = harness.Counts();
        var clips = Clips(harness, options);
        var end = ResourceSample.Take(trim: true);
        await harness.StopAsync().ConfigureAwait(false);
        return new SoakResult(options.Cameras, options.Duration, start, end, startCounts, endCounts) { Clips = clips };
    }

    private const string ClipBuffer = "stream.ingest.clip_buffer";

    /// <summary>The clip figures now; null when no camera keeps a clip buffer (Clips:Enabled=false).</summary>
    private static SoakClips? Clips(PipelineHarness harness, SoakOptions options)
    {
        var metrics = harness.Metrics;
        metrics.Refresh();
        var cameras = metrics.Cameras(ClipBuffer);
        if (cameras.Count == 0)
        {
            return null;
        }

        // What the issue allows: BufferSeconds x the camera's bitrate (the file's, all streams: an upper bound for its video).
        var bufferSeconds = options.Overrides.TryGetValue("Clips:BufferSeconds", out var b) && double.TryParse(b, CultureInfo.InvariantCulture, out var bs) ? bs : new ClipOptions().BufferSeconds;
        using var probe = new OpenCvSharp.VideoCapture(options.Source);
        var seconds = probe.Get(OpenCvSharp.VideoCaptureProperties.FrameCount) / Math.Max(1, probe.Get(OpenCvSharp.VideoCaptureProperties.Fps));
        var bytesPerSecond = new FileInfo(options.Source).Length / Math.Max(1, seconds);
        return new SoakClips(metrics.Total("stream.sink.clips"), metrics.Total("stream.sink.clip_failures"), metrics.AllValues("stream.sink.clip_delay"),
            cameras.Sum(c => metrics.Last(ClipBuffer, c) ?? 0), cameras.Count, cameras.Count * bytesPerSecond * Math.Min(bufferSeconds, seconds))
        {
            FailedBecause = new[] { "no_buffer", "window", "io", "busy", "error" }
                .Select(r => (Reason: r, Count: metrics.Total("stream.sink.clip_failures", variant: "reason=" + r)))
                .Where(r => r.Count > 0)
                .ToDictionary(r => r.Reason, r => r.Count),
        };
    }

    private static string Line(string name, ResourceSample s) => string.Create(CultureInfo.InvariantCulture,
        $"{name}: RSS {s.RssBytes / 1048576.0:F1} MiB (anon {s.RssAnonBytes / 1048576.0:F1}, files {s.RssFileBytes / 1048576.0:F1}), managed heap {s.ManagedHeapBytes / 1048576.0:F1} MiB (GC committed {s.GcCommittedBytes / 1048576.0:F1}), frame buffers allocated {s.FrameBuffersAllocated} (held {s.FrameBuffersAllocated - s.FrameBuffersReleased}), handles {s.Handles}, gen-2 collections {s.Gen2Collections}, threads {s.Threads}");

    public static void Print(TextWriter writer, SoakResult r)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(r);
        var inv = CultureInfo.InvariantCulture;
        var c0 = r.CountsStart;
        var c1 = r.CountsEnd;
        writer.WriteLine(string.Create(inv, $"soak: {r.Cameras} cameras for {r.Duration.TotalMinutes:F2} min: offered {r.OfferedFps:F1} frames/s, through the sink {r.Fps:F1} frames/s, dropped {c1.Dropped - c0.Dropped} (ingest {c1.IngestDropped - c0.IngestDropped}, stale {c1.StaleDropped - c0.StaleDropped}), events {c1.EventsProduced - c0.EventsProduced}"));
        writer.WriteLine($"load average at the end: {MachineInfo.LoadAverage()}");
        writer.WriteLine(Line("start", r.Start));
        writer.WriteLine(Line("end  ", r.End));
        if (r.End.RssAfterTrimBytes > 0)
        {
            writer.WriteLine(string.Create(inv, $"native memory freed but held by glibc at the end: {(r.End.RssBytes - r.End.RssAfterTrimBytes) / 1048576.0:F1} MiB (RSS after malloc_trim {r.End.RssAfterTrimBytes / 1048576.0:F1} MiB)"));
        }

        var ingested = Math.Max(1, c1.Ingested - c0.Ingested);
        writer.WriteLine(string.Create(inv, $"managed allocations: {(r.End.AllocatedBytes - r.Start.AllocatedBytes) / 1048576.0 / Math.Max(1e-9, r.Duration.TotalSeconds):F2} MiB/s, {(r.End.AllocatedBytes - r.Start.AllocatedBytes) / 1024.0 / ingested:F1} KiB per decoded frame"));
        writer.WriteLine(string.Create(inv, $"handles: {r.Start.Handles} -> {r.End.Handles} ({r.End.Handles - r.Start.Handles:+0;-0;0}); managed heap {(r.End.ManagedHeapBytes - r.Start.ManagedHeapBytes) / 1048576.0:+0.0;-0.0;0.0} MiB; gen-2 collections during the soak {r.End.Gen2Collections - r.Start.Gen2Collections}"));
        if (r.Clips is { } clips)
        {
            var delays = clips.DelaysMs.Order().ToList();
            double Q(double q) => delays.Count == 0 ? double.NaN : delays[(int)Math.Min(delays.Count - 1, Math.Ceiling(q * delays.Count) - 1)];
            writer.WriteLine(string.Create(inv,
                $"clips: {clips.Written} written, {clips.Failed} failed{(clips.FailedBecause.Count == 0 ? "" : " (" + string.Join(", ", clips.FailedBecause.Select(f => $"{f.Key} {f.Value}")) + ")")}; on disk after the track_ended reached the sink: p50 {Q(0.5):F0} ms, p99 {Q(0.99):F0} ms, max {(delays.Count == 0 ? double.NaN : delays[^1]):F0} ms; packet buffers at the end {clips.BufferBytes / 1048576.0:F1} MiB for {clips.BufferCameras} cameras (BufferSeconds x the file's bitrate: {clips.ExpectedBufferBytes / 1048576.0:F1} MiB)"));
        }

        writer.WriteLine(string.Create(inv, $"RSS growth: {r.RssGrowthPercent:+0.00;-0.00;0.00} %"));
    }
}
