using Streaming.Core;
using Streaming.Eval;
using Streaming.Track;

namespace Streaming.Eval.Tests;

public class EvaluationTests
{
    private static readonly SyntheticSpec Small = new("small", 1280, 720, 25, 250, 8, 1f, 6f, 90, 220, 0.8, 2);

    [Fact]
    public void Synthetic_ground_truth_scored_against_itself_is_perfect_and_distractors_are_ignored()
    {
        var (gt, det) = SyntheticMot.Generate(Small, seed: 3);
        Assert.NotEmpty(det);
        Assert.Contains(gt, r => r.ClassId == 7 && r.Confidence == 0);

        // The gt boxes of every class, as a "tracker": persons match themselves, distractor boxes are removed.
        var asTracks = gt.Select(r => r with { Confidence = 1, ClassId = -1, Visibility = -1 }).ToList();
        var m = MotScorer.Score(gt, asTracks, MotBenchmark.Mot17);
        Assert.Equal(1.0, m.Mota, 9);
        Assert.Equal(1.0, m.Idf1, 9);
        Assert.Equal(gt.Count(r => r.ClassId == 7), m.RemovedAsDistractor);
    }

    [Fact]
    public void Synthetic_sequences_are_reproducible_from_their_seed()
    {
        var a = SyntheticMot.Generate(Small, seed: 5);
        var b = SyntheticMot.Generate(Small, seed: 5);
        var c = SyntheticMot.Generate(Small, seed: 6);
        Assert.Equal(a.Det, b.Det);
        Assert.Equal(a.Gt, b.Gt);
        Assert.NotEqual(a.Det, c.Det);
    }

    [Fact]
    public void ByteTrack_beats_SORT_and_the_naive_IoU_tracker_on_a_synthetic_sequence()
    {
        var (gt, det) = SyntheticMot.Generate(Small with { Length = 400, Concurrent = 14 }, seed: 11);
        var info = new SeqInfo("small", "img1", Small.FrameRate, 400, Small.Width, Small.Height, ".jpg");
        var options = new TrackOptions();
        var bytetrack = MotScorer.Score(gt, MotRunner.RunOnDetections(info, det, options, TrackerKind.ByteTrack), MotBenchmark.Mot17);
        var sort = MotScorer.Score(gt, MotRunner.RunOnDetections(info, det, options, TrackerKind.Sort), MotBenchmark.Mot17);
        var iou = MotScorer.Score(gt, MotRunner.RunOnDetections(info, det, options, TrackerKind.Iou), MotBenchmark.Mot17);

        Assert.True(bytetrack.Mota > sort.Mota, $"ByteTrack MOTA {bytetrack.Mota:0.000} vs SORT {sort.Mota:0.000}");
        Assert.True(bytetrack.Idf1 > iou.Idf1 + 0.3, $"ByteTrack IDF1 {bytetrack.Idf1:0.000} vs IoU {iou.Idf1:0.000}");
        Assert.True(bytetrack.IdSwitches < iou.IdSwitches / 5, $"ByteTrack IDSW {bytetrack.IdSwitches} vs IoU {iou.IdSwitches}");
    }

    [Fact]
    public void Eval_writes_a_sequence_folder_that_reads_back()
    {
        var dir = Directory.CreateTempSubdirectory("synth-");
        try
        {
            SyntheticMot.Write(dir.FullName, Small with { Length = 20 }, seed: 1, images: true);
            var info = SeqInfo.Read(dir.FullName);
            Assert.Equal(20, info.Length);
            Assert.Equal(25, info.FrameRate);
            Assert.True(File.Exists(Path.Combine(dir.FullName, "img1", "000020.jpg")));
            var det = MotFile.Read(Path.Combine(dir.FullName, "det", "det.txt"));
            var rows = MotRunner.RunOnDetections(info, det, new TrackOptions());
            Assert.NotEmpty(rows);
            Assert.All(rows, r => Assert.InRange(r.Frame, 1, 20));

            // The detector path reads the pictures in order and hands each one to the given detector.
            var seen = new List<(int W, int H)>();
            MotRunner.RunOnImages(dir.FullName, info, image =>
            {
                seen.Add((image.Width, image.Height));
                return [];
            }, new TrackOptions());
            Assert.Equal(20, seen.Count);
            Assert.All(seen, s => Assert.Equal((1280, 720), s));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Line_counts_on_a_noisy_synthetic_sequence_match_the_ground_truth_crossings()
    {
        var spec = Small with { Length = 1500, Concurrent = 12 };
        var (gt, det) = SyntheticMot.Generate(spec, seed: 21);
        var x = spec.Width / 2f;

        // Ground truth: bottom-centre of each person changes side of x = W/2 (walking right = "out" for a downward line).
        int gtIn = 0, gtOut = 0;
        foreach (var person in gt.Where(r => r.ClassId == 1).GroupBy(r => r.Id))
        {
            float? last = null;
            foreach (var r in person.OrderBy(r => r.Frame))
            {
                var cx = r.X + r.W / 2;
                if (last is { } l && (l < x) != (cx < x))
                {
                    if (cx > x)
                    {
                        gtOut++;
                    }
                    else
                    {
                        gtIn++;
                    }
                }

                last = cx;
            }
        }

        var geometry = new CameraGeometryOptions { Lines = [new LineOptions { Name = "mid", From = new(x, 0), To = new(x, spec.Height) }] };
        var tracker = new ByteTracker("synth", new TrackOptions(), geometry);
        var events = new List<PipelineEvent>();
        var byFrame = det.GroupBy(d => d.Frame).ToDictionary(g => g.Key, g => g.Select(d => new Detection(d.Box, d.Confidence, 0)).ToArray());
        for (var f = 1; f <= spec.Length; f++)
        {
            tracker.Update(byFrame.GetValueOrDefault(f) ?? [], DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds(f / spec.FrameRate), f, null, events);
        }

        var counts = tracker.Counts;
        Assert.True(gtIn + gtOut >= 20, $"scene has too few crossings ({gtIn} in, {gtOut} out)");
        Console.WriteLine($"line counts: gt in {gtIn} out {gtOut}; tracker in {counts["mid:in"]} out {counts["mid:out"]}");
        Assert.InRange(counts["mid:in"], gtIn * 0.85, gtIn * 1.1 + 1);
        Assert.InRange(counts["mid:out"], gtOut * 0.85, gtOut * 1.1 + 1);
    }
}
