using OpenCvSharp;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>Shape of one synthetic sequence.</summary>
public sealed record SyntheticSpec(string Name, int Width, int Height, double FrameRate, int Length, int Concurrent,
    float MinSpeed, float MaxSpeed, float MinHeight, float MaxHeight, double FalsePositivesPerFrame, int Distractors);

/// <summary>
/// Generates MOTChallenge-style sequences with known ground truth: people-shaped boxes walking in and out of view at
/// varied speeds (some pausing, some turning), crossing and occluding each other (depth from the box bottom), with
/// detections that are noisy, missed more often and scored lower the more an object is hidden, plus false positives
/// (mostly low-score, some short confident clutter) and static distractors (gt class 7, flag 0) that are detected.
/// Deterministic for a seed.
/// </summary>
public static class SyntheticMot
{
    public static IReadOnlyList<SyntheticSpec> DefaultSpecs { get; } =
    [
        new("synth-walk", 1920, 1080, 30, 600, 12, 0.5f, 6f, 120, 320, 0.8, 0),
        new("synth-crowd", 1920, 1080, 30, 600, 30, 0.3f, 3f, 100, 260, 1.5, 3),
        new("synth-lowfps", 1280, 720, 10, 300, 10, 3f, 18f, 80, 220, 0.6, 0),
    ];

    /// <summary>Writes every default sequence under <paramref name="outDirectory"/>; returns their folders.</summary>
    public static IReadOnlyList<string> WriteAll(string outDirectory, int seed, bool images)
    {
        var dirs = new List<string>();
        for (var i = 0; i < DefaultSpecs.Count; i++)
        {
            var dir = Path.Combine(outDirectory, DefaultSpecs[i].Name);
            Write(dir, DefaultSpecs[i], seed * 7919 + i, images);
            dirs.Add(dir);
        }

        return dirs;
    }

    public static void Write(string directory, SyntheticSpec spec, int seed, bool images)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var (gt, det) = Generate(spec, seed);
        new SeqInfo(spec.Name, "img1", spec.FrameRate, spec.Length, spec.Width, spec.Height, ".jpg").Write(directory);
        MotFile.WriteGroundTruth(Path.Combine(directory, "gt", "gt.txt"), gt);
        MotFile.WriteTracks(Path.Combine(directory, "det", "det.txt"), det);
        if (images)
        {
            Render(directory, spec, gt);
        }
    }

    private sealed class Walker
    {
        public int Id;
        public float X;
        public float Y;
        public float Vx;
        public float Vy;
        public float W;
        public float H;
        public int PauseLeft;
        public bool Distractor;
        public float Phase;
    }

    public static (List<MotRow> Gt, List<MotRow> Det) Generate(SyntheticSpec spec, int seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var rng = new Random(seed);
        var walkers = new List<Walker>();
        var gt = new List<MotRow>();
        var det = new List<MotRow>();
        var clutter = new List<(BoxF Box, int Left, float Score)>();
        var nextId = 1;
        var fpsScale = 30.0f / (float)spec.FrameRate; // speeds are per frame at the sequence's own rate

        for (var i = 0; i < spec.Distractors; i++)
        {
            var h = Uniform(rng, spec.MinHeight, spec.MaxHeight);
            walkers.Add(new Walker
            {
                Id = nextId++, W = h * 0.4f, H = h, X = Uniform(rng, 0.1f, 0.8f) * spec.Width, Y = Uniform(rng, 0.2f, 0.7f) * spec.Height,
                Distractor = true,
            });
        }

        Walker Spawn(bool anywhere)
        {
            var h = Uniform(rng, spec.MinHeight, spec.MaxHeight);
            var speed = Uniform(rng, spec.MinSpeed, spec.MaxSpeed);
            var angle = Uniform(rng, -0.5f, 0.5f);
            var fromLeft = rng.NextDouble() < 0.5;
            var w = new Walker { Id = nextId++, H = h, W = h * Uniform(rng, 0.35f, 0.45f), Phase = Uniform(rng, 0, 6.28f) };
            w.Vx = (fromLeft ? 1 : -1) * speed * MathF.Cos(angle);
            w.Vy = speed * MathF.Sin(angle);
            w.Y = Uniform(rng, 0.1f, 0.9f) * spec.Height - h / 2;
            w.X = anywhere ? Uniform(rng, 0.05f, 0.85f) * spec.Width : fromLeft ? -w.W * 0.9f : spec.Width - w.W * 0.1f;
            return w;
        }

        for (var i = 0; i < spec.Concurrent; i++)
        {
            walkers.Add(Spawn(anywhere: true));
        }

        for (var frame = 1; frame <= spec.Length; frame++)
        {
            // Move.
            foreach (var w in walkers)
            {
                if (w.Distractor)
                {
                    continue;
                }

                if (w.PauseLeft > 0)
                {
                    w.PauseLeft--;
                }
                else
                {
                    w.X += w.Vx;
                    w.Y += w.Vy + 0.3f * fpsScale * MathF.Sin(w.Phase + frame * 0.05f * fpsScale);
                    if (rng.NextDouble() < 0.004 * fpsScale)
                    {
                        w.PauseLeft = rng.Next(10, 60);
                    }

                    if (rng.NextDouble() < 0.003 * fpsScale)
                    {
                        w.Vy = -w.Vy; // turns
                    }
                }
            }

            // Leave and arrive.
            walkers.RemoveAll(w => !w.Distractor && (w.X > spec.Width + 5 || w.X + w.W < -5 || w.Y > spec.Height + 5 || w.Y + w.H < -5));
            while (walkers.Count(w => !w.Distractor) < spec.Concurrent)
            {
                walkers.Add(Spawn(anywhere: false));
            }

            // Depth: a larger box bottom is closer to the camera and hides what is behind it.
            var ordered = walkers.OrderByDescending(w => w.Y + w.H).ToArray();
            for (var k = 0; k < ordered.Length; k++)
            {
                var w = ordered[k];
                var full = BoxF.FromXywh(w.X, w.Y, w.W, w.H);
                var box = full.Clip(spec.Width, spec.Height);
                if (box.Area < 0.3f * full.Area)
                {
                    continue;
                }

                var visibility = Visibility(box, ordered.AsSpan(0, k), spec);
                var flag = w.Distractor ? 0 : 1;
                var cls = w.Distractor ? 7 : 1;
                gt.Add(new MotRow(frame, w.Id, box.X1, box.Y1, box.Width, box.Height, flag, cls, visibility));

                // Detection model: hidden objects are missed more often and scored lower.
                var pDetect = visibility < 0.2f ? 0.1 : 0.97 - 0.35 * (1 - visibility);
                if (rng.NextDouble() > pDetect)
                {
                    continue;
                }

                var score = Uniform(rng, 0.6f, 0.95f) * (0.35f + 0.65f * visibility);
                if (rng.NextDouble() < 0.08)
                {
                    score *= 0.5f; // blur, odd pose
                }

                var nx = 0.04f * box.Width;
                var ny = 0.03f * box.Height;
                var x1 = box.X1 + Gaussian(rng) * nx;
                var y1 = box.Y1 + Gaussian(rng) * ny;
                var x2 = box.X2 + Gaussian(rng) * nx;
                var y2 = box.Y2 + Gaussian(rng) * ny;
                det.Add(new MotRow(frame, -1, x1, y1, Math.Max(2, x2 - x1), Math.Max(2, y2 - y1), Math.Clamp(score, 0.01f, 0.99f), -1, -1));
            }

            // False positives: isolated low-score boxes, and short runs of confident clutter.
            var fpCount = Poisson(rng, spec.FalsePositivesPerFrame);
            for (var i = 0; i < fpCount; i++)
            {
                var h = Uniform(rng, spec.MinHeight * 0.5f, spec.MaxHeight);
                var b = BoxF.FromXywh(Uniform(rng, 0, spec.Width - h * 0.4f), Uniform(rng, 0, spec.Height - h), h * 0.4f, h);
                if (rng.NextDouble() < 0.15)
                {
                    clutter.Add((b, rng.Next(2, 12), Uniform(rng, 0.55f, 0.75f)));
                }
                else
                {
                    det.Add(new MotRow(frame, -1, b.X1, b.Y1, b.Width, b.Height, Uniform(rng, 0.1f, 0.5f), -1, -1));
                }
            }

            for (var i = clutter.Count - 1; i >= 0; i--)
            {
                var (b, left, s) = clutter[i];
                var jx = Gaussian(rng) * 0.03f * b.Width;
                det.Add(new MotRow(frame, -1, b.X1 + jx, b.Y1, b.Width, b.Height, s, -1, -1));
                if (left <= 1)
                {
                    clutter.RemoveAt(i);
                }
                else
                {
                    clutter[i] = (b, left - 1, s);
                }
            }
        }

        return (gt, det);
    }

    private static float Visibility(BoxF box, ReadOnlySpan<Walker> closer, SyntheticSpec spec)
    {
        if (closer.IsEmpty)
        {
            return 1f;
        }

        const int n = 8;
        var visible = 0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var x = box.X1 + (i + 0.5f) * box.Width / n;
                var y = box.Y1 + (j + 0.5f) * box.Height / n;
                var hidden = false;
                foreach (var c in closer)
                {
                    var cb = BoxF.FromXywh(c.X, c.Y, c.W, c.H).Clip(spec.Width, spec.Height);
                    if (x >= cb.X1 && x <= cb.X2 && y >= cb.Y1 && y <= cb.Y2)
                    {
                        hidden = true;
                        break;
                    }
                }

                if (!hidden)
                {
                    visible++;
                }
            }
        }

        return visible / (float)(n * n);
    }

    /// <summary>
    /// Draws the gt boxes as filled rectangles (far ones first) into img1/*.jpg, so the detector path of
    /// <c>eval mot</c> can run end to end. A COCO detector finds no people in such pictures: the images exercise the
    /// plumbing, not the detector; score the tracker with the det.txt path.
    /// </summary>
    private static void Render(string directory, SyntheticSpec spec, List<MotRow> gt)
    {
        var imgDir = Path.Combine(directory, "img1");
        Directory.CreateDirectory(imgDir);
        var byFrame = gt.GroupBy(r => r.Frame).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Y + r.H).ToArray());
        using var image = new Mat(spec.Height, spec.Width, MatType.CV_8UC3);
        for (var frame = 1; frame <= spec.Length; frame++)
        {
            image.SetTo(new Scalar(90, 110, 100));
            foreach (var r in byFrame.GetValueOrDefault(frame) ?? [])
            {
                var color = new Scalar(37 * r.Id % 255, 91 * r.Id % 255, 151 * r.Id % 255);
                Cv2.Rectangle(image, new Rect((int)r.X, (int)r.Y, (int)r.W, (int)r.H), color, -1);
            }

            Cv2.ImWrite(Path.Combine(imgDir, frame.ToString("D6", System.Globalization.CultureInfo.InvariantCulture) + ".jpg"), image);
        }
    }

    private static float Uniform(Random rng, float lo, float hi) => lo + (float)rng.NextDouble() * (hi - lo);

    private static float Gaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    private static int Poisson(Random rng, double lambda)
    {
        var l = Math.Exp(-lambda);
        var k = 0;
        var p = 1.0;
        do
        {
            k++;
            p *= rng.NextDouble();
        }
        while (p > l);
        return k - 1;
    }
}
