using Streaming.Eval;

namespace Streaming.Eval.Tests;

public class MotScorerTests
{
    private static MotRow Gt(int frame, int id, float x, int cls = 1, int flag = 1) => new(frame, id, x, 100, 50, 100, flag, cls, 1);

    private static MotRow Tr(int frame, int id, float x) => new(frame, id, x, 100, 50, 100, 1, -1, -1);

    [Fact]
    public void A_perfect_tracker_scores_one()
    {
        var gt = new List<MotRow>();
        var tr = new List<MotRow>();
        for (var f = 1; f <= 3; f++)
        {
            gt.Add(Gt(f, 1, 10 * f));
            gt.Add(Gt(f, 2, 300));
            tr.Add(Tr(f, 7, 10 * f));
            tr.Add(Tr(f, 8, 300));
        }

        var m = MotScorer.Score(gt, tr, MotBenchmark.Mot17);
        Assert.Equal(1.0, m.Mota, 9);
        Assert.Equal(1.0, m.Idf1, 9);
        Assert.Equal(0, m.IdSwitches);
        Assert.Equal(6, m.TruePositives);
        Assert.Equal(0, m.FalsePositives + m.FalseNegatives);
        Assert.Equal(1.0, m.Hota, 9);
    }

    [Fact]
    public void An_id_switch_costs_MOTA_one_and_halves_IDF1()
    {
        // gt 1 in frames 1-4; the tracker calls it 10 in frames 1-2 and 20 in frames 3-4.
        var gt = Enumerable.Range(1, 4).Select(f => Gt(f, 1, 100)).ToList();
        var tr = new List<MotRow> { Tr(1, 10, 100), Tr(2, 10, 100), Tr(3, 20, 100), Tr(4, 20, 100) };
        var m = MotScorer.Score(gt, tr, MotBenchmark.Mot17);
        Assert.Equal(1, m.IdSwitches);
        Assert.Equal(4, m.TruePositives);
        Assert.Equal((4 - 0 - 1) / 4.0, m.Mota, 9);
        Assert.Equal(2, m.IdTruePositives);
        Assert.Equal(2.0 * 2 / (4 + 4), m.Idf1, 9);

        // HOTA: every box is found exactly (DetA = 1); each of the two pairs covers 2 of 4 gt frames: A = 2 / (4 + 2 - 2).
        Assert.Equal(1.0, m.DetA, 9);
        Assert.Equal(0.5, m.AssA, 9);
        Assert.Equal(Math.Sqrt(0.5), m.Hota, 9);
    }

    [Fact]
    public void A_miss_and_a_box_in_the_wrong_place_are_one_FN_and_one_FP()
    {
        // IoU of boxes 30 px apart (50 wide): 20 x 100 / (2 x 5000 - 2000) = 0.25 < 0.5: no match.
        var m = MotScorer.Score([Gt(1, 1, 100), Gt(2, 1, 100)], [Tr(1, 5, 100), Tr(2, 5, 130)], MotBenchmark.Mot17);
        Assert.Equal(1, m.TruePositives);
        Assert.Equal(1, m.FalseNegatives);
        Assert.Equal(1, m.FalsePositives);
        Assert.Equal((1 - 1 - 0) / 2.0, m.Mota, 9);
        Assert.Equal(2.0 * 1 / (2 + 2), m.Idf1, 9);
    }

    [Fact]
    public void Boxes_on_distractors_are_removed_not_counted_as_false_positives()
    {
        var gt = new List<MotRow>
        {
            Gt(1, 1, 100),
            Gt(1, 2, 400, cls: 7, flag: 0), // static person: a distractor
            Gt(1, 3, 700, cls: 8, flag: 0), // distractor
            Gt(1, 4, 1000, cls: 3, flag: 0), // a car: ignored as gt, but NOT a distractor
        };
        var tr = new List<MotRow> { Tr(1, 1, 100), Tr(1, 2, 400), Tr(1, 3, 700), Tr(1, 4, 1000) };
        var m = MotScorer.Score(gt, tr, MotBenchmark.Mot17);
        Assert.Equal(2, m.RemovedAsDistractor);
        Assert.Equal(1, m.GtDetections);
        Assert.Equal(2, m.TrackerDetections);
        Assert.Equal(1, m.TruePositives);
        Assert.Equal(1, m.FalsePositives); // the box on the car, as the official devkit counts it
        Assert.Equal(0, m.FalseNegatives);
    }

    [Fact]
    public void Gt_rows_with_flag_zero_do_not_count_as_misses()
    {
        var m = MotScorer.Score([Gt(1, 1, 100), Gt(1, 2, 400, cls: 1, flag: 0)], [Tr(1, 9, 100)], MotBenchmark.Mot17);
        Assert.Equal(1, m.GtDetections);
        Assert.Equal(0, m.FalseNegatives);
        Assert.Equal(1.0, m.Mota, 9);
    }

    [Fact]
    public void A_gt_matched_again_after_a_gap_to_a_new_id_is_a_switch()
    {
        // gt 1 frames 1-3; tracker 5 in frame 1, nothing in frame 2, tracker 6 in frame 3.
        var m = MotScorer.Score([Gt(1, 1, 100), Gt(2, 1, 100), Gt(3, 1, 100)], [Tr(1, 5, 100), Tr(3, 6, 100)], MotBenchmark.Mot17);
        Assert.Equal(1, m.IdSwitches);
        Assert.Equal(1, m.FalseNegatives);
        Assert.Equal((2 - 0 - 1) / 3.0, m.Mota, 9);
        Assert.Equal(2.0 * 1 / (3 + 2), m.Idf1, 9);
    }

    [Fact]
    public void MOT_files_round_trip_through_the_reader_and_writer()
    {
        var dir = Directory.CreateTempSubdirectory("mot-");
        try
        {
            var path = Path.Combine(dir.FullName, "t.txt");
            MotFile.WriteTracks(path, [Tr(3, 4, 12.5f)]);
            var row = Assert.Single(MotFile.Read(path));
            Assert.Equal(3, row.Frame);
            Assert.Equal(4, row.Id);
            Assert.Equal(12.5f, row.X);
            Assert.Equal(50, row.W);
            var info = new SeqInfo("s", "img1", 25, 10, 640, 480, ".jpg");
            info.Write(dir.FullName);
            Assert.Equal(info, SeqInfo.Read(dir.FullName));
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
