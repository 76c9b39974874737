using Streaming.Testing;

namespace Streaming.Eval.Tests;

public sealed class MotLayoutTests : IDisposable
{
    private readonly DirectoryInfo _dir = System.IO.Directory.CreateTempSubdirectory("mot-layout-");

    public void Dispose() => _dir.Delete(true);

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void MOT15_ground_truth_counts_every_flagged_row_and_never_reads_world_coordinates_as_classes()
    {
        // World x 7.2, 2.9, 12.4 and 8.0 truncate to MOT17's distractor classes; MOT15 has no class column.
        var gt = MotFile.ReadGroundTruth(Write("gt.txt",
            "1,1,100,100,50,100,1,7.2,5.5,0",
            "1,2,300,100,50,100,1,2.9,4.4,0",
            "2,1,104,100,50,100,1,12.4,5.5,0",
            "2,2,304,100,50,100,0,8.0,4.4,0"));
        Assert.Equal(MotLayout.Mot15, gt.Layout);
        Assert.Equal(MotBenchmark.Mot15, gt.Benchmark);
        Assert.All(gt.Rows, r => Assert.Equal(-1, r.ClassId));

        var tracks = gt.Rows.Select(r => r with { Id = r.Id + 10, Confidence = 1 }).ToList();
        var m = MotScorer.Score(gt, tracks);
        Assert.Equal(3, m.GtDetections); // the row with flag 0 is ignored, no other
        Assert.Equal(0, m.RemovedAsDistractor);
        Assert.Equal(3, m.TruePositives);
        Assert.Equal(1, m.FalsePositives); // the tracker box on the ignored row is a false positive, as in TrackEval's MOT15
        Assert.Equal(MotBenchmark.Mot15, m.Benchmark);
    }

    [Fact]
    public void MOT17_ground_truth_keeps_pedestrians_only_and_drops_tracker_boxes_on_distractors()
    {
        var gt = MotFile.ReadGroundTruth(Write("gt.txt",
            "1,1,100,100,50,100,1,1,0.9",
            "1,2,300,100,50,100,0,7,1.0",
            "1,3,500,100,50,100,0,6,1.0"));
        Assert.Equal(MotLayout.Mot17, gt.Layout);
        Assert.Equal(MotBenchmark.Mot17, gt.Benchmark);
        var tracks = gt.Rows.Select(r => r with { Id = r.Id + 10, ClassId = -1, Visibility = -1 }).ToList();

        var mot17 = MotScorer.Score(gt, tracks);
        Assert.Equal(1, mot17.GtDetections);
        Assert.Equal(1, mot17.RemovedAsDistractor); // class 7 static person
        Assert.Equal(1, mot17.FalsePositives); // class 6 is no distractor in MOT17

        // MOT20 cannot be told from MOT17 by the file: --benchmark MOT20 makes class 6 (non-MOT vehicle) a distractor too.
        var mot20 = MotScorer.Score(MotFile.ReadGroundTruth(Path.Combine(_dir.FullName, "gt.txt"), MotBenchmark.Mot20), tracks);
        Assert.Equal(2, mot20.RemovedAsDistractor);
        Assert.Equal(0, mot20.FalsePositives);

        // MOT15 rules on the same file: no class filter, no distractors, only the flag.
        var mot15 = MotScorer.Score(MotFile.ReadGroundTruth(Path.Combine(_dir.FullName, "gt.txt"), MotBenchmark.Mot15), tracks);
        Assert.Equal(1, mot15.GtDetections);
        Assert.Equal(0, mot15.RemovedAsDistractor);
    }

    [Theory]
    [InlineData(3, "1,1,100,100,50,100,1,1,0.9|1,2,300,100,50,100,1,1,0.9|2,1,100,100,50,100,1,1", "2 columns|8 columns")]
    [InlineData(2, "1,1,100,100,50,100,1,-1,-1,-1|1,1,300,100,50,100,1,-1,-1,-1", "appears twice")]
    [InlineData(2, "1,1,100,100,50,100,1,1,0.9|x,2,300,100,50,100,1,1,0.9", "'x' is not a number")]
    [InlineData(1, "1,1,100,100,50,100,1,1", "8 columns")]
    [InlineData(2, "1,1,100,100,50,100,1,1,0.9|1,2,300,100,50,100,1,1,7", "visibility")]
    public void A_ground_truth_file_that_fits_no_layout_is_refused_with_its_row_number(int row, string content, string says)
    {
        var path = Write("bad.txt", content.Split('|'));
        var ex = Assert.Throws<MotFormatException>(() => MotFile.ReadGroundTruth(path));
        Assert.Contains($"bad.txt:{row}:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(says.Split('|'), s => ex.Message.Contains(s, StringComparison.Ordinal));
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void MOT17_rules_on_a_MOT15_file_are_refused_because_it_has_no_class_column()
    {
        var path = Write("gt.txt", "1,1,100,100,50,100,1,-1,-1,-1");
        var ex = Assert.Throws<MotFormatException>(() => MotFile.ReadGroundTruth(path, MotBenchmark.Mot17));
        Assert.Contains("MOT15 layout", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TUD-Stadtmitte", 60.06, 81.26, 77.34, 7, 36, 219)]
    [InlineData("TUD-Campus", 46.53, 63.35, 62.40, 7, 27, 101)]
    public void The_reference_ByteTrack_output_scores_as_TrackEval_printed_it(string sequence, double hota, double idf1, double mota, int idsw, int fp, int fn)
    {
        var dir = SharedMot.Sequence(sequence);
        var gt = MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt"));
        Assert.Equal(MotBenchmark.Mot15, gt.Benchmark);

        var m = MotScorer.Score(gt, MotFile.Read(Path.Combine(dir, "reference", "bytetrack.txt")));

        Assert.Equal(hota, Math.Round(100 * m.Hota, 2), 2);
        Assert.Equal(idf1, Math.Round(100 * m.Idf1, 2), 2);
        Assert.Equal(mota, Math.Round(100 * m.Mota, 2), 2);
        Assert.Equal(idsw, m.IdSwitches);
        Assert.Equal(fp, m.FalsePositives);
        Assert.Equal(fn, m.FalseNegatives);
    }
}
