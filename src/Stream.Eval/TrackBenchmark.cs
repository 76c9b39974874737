using System.Diagnostics;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>One row of <c>stream bench track</c>.</summary>
public sealed record TrackBenchResult(int DetectionsPerFrame, int Frames, double MeanMicroseconds, double P50Microseconds, double P99Microseconds, double AllocatedBytesPerUpdate, int ActiveTracks);

/// <summary>
/// Times <see cref="ByteTracker.Update"/> on a realistic scene: N person boxes moving at varied speeds over a 1920x1080
/// frame (so boxes overlap and cross), detected with box noise, a few misses and low scores, plus false positives.
/// Detections are generated before timing; only the tracker update is timed.
/// </summary>
public static class TrackBenchmark
{
    public static TrackBenchResult Run(int detectionsPerFrame, int frames, int warmup, int seed = 1)
    {
        var rng = new Random(seed);
        var scene = BuildScene(detectionsPerFrame, frames + warmup, rng);
        var tracker = new ByteTracker("bench", new TrackOptions());
        var tracks = new List<TrackedObject>(detectionsPerFrame * 2);
        var times = new double[frames];
        var t0 = DateTimeOffset.UnixEpoch;
        long allocated = 0;
        for (var f = 0; f < scene.Length; f++)
        {
            tracks.Clear();
            var time = t0 + TimeSpan.FromSeconds(f / 30.0);
            var measuring = f >= warmup;
            var before = measuring ? GC.GetAllocatedBytesForCurrentThread() : 0;
            var start = Stopwatch.GetTimestamp();
            tracker.Update(scene[f], time, f, tracks, null);
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            if (measuring)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                times[f - warmup] = elapsed;
            }
        }

        var sorted = (double[])times.Clone();
        Array.Sort(sorted);
        return new TrackBenchResult(detectionsPerFrame, frames, times.Average(), sorted[sorted.Length / 2],
            sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))], allocated / (double)frames, tracker.ActiveCount);
    }

    private static Detection[][] BuildScene(int n, int frames, Random rng)
    {
        const float width = 1920;
        const float height = 1080;

        // Box size shrinks with density so that a 500-object scene still looks like a (dense) crowd, not a carpet.
        var scale = Math.Clamp(MathF.Sqrt(60f / Math.Max(n, 1)), 0.25f, 1f);
        var objects = new (float X, float Y, float W, float H, float Vx, float Vy)[n];
        for (var i = 0; i < n; i++)
        {
            var h = (80 + (float)rng.NextDouble() * 200) * scale;
            var speed = 0.5f + (float)rng.NextDouble() * 6;
            var angle = (float)(rng.NextDouble() * Math.PI * 2);
            objects[i] = ((float)rng.NextDouble() * (width - h), (float)rng.NextDouble() * (height - h), h * 0.4f, h, speed * MathF.Cos(angle), speed * MathF.Sin(angle));
        }

        var scene = new Detection[frames][];
        var list = new List<Detection>(n + 8);
        for (var f = 0; f < frames; f++)
        {
            list.Clear();
            for (var i = 0; i < n; i++)
            {
                ref var o = ref objects[i];
                o.X += o.Vx;
                o.Y += o.Vy;
                if (o.X < 0 || o.X + o.W > width)
                {
                    o.Vx = -o.Vx;
                }

                if (o.Y < 0 || o.Y + o.H > height)
                {
                    o.Vy = -o.Vy;
                }

                var r = rng.NextDouble();
                if (r < 0.03)
                {
                    continue; // missed
                }

                var score = r < 0.13 ? 0.2f + (float)rng.NextDouble() * 0.3f : 0.6f + (float)rng.NextDouble() * 0.35f;
                var nx = (float)(rng.NextDouble() - 0.5) * 0.08f * o.W;
                var ny = (float)(rng.NextDouble() - 0.5) * 0.06f * o.H;
                list.Add(new Detection(BoxF.FromXywh(o.X + nx, o.Y + ny, o.W, o.H), score, 0));
            }

            for (var k = 0; k < 1 + n / 50; k++)
            {
                var h = 100 * scale;
                list.Add(new Detection(BoxF.FromXywh((float)rng.NextDouble() * (width - h), (float)rng.NextDouble() * (height - h), h * 0.4f, h), 0.1f + (float)rng.NextDouble() * 0.6f, 0));
            }

            scene[f] = [.. list];
        }

        return scene;
    }
}
