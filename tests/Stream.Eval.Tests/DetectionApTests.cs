using Streaming.Core;

namespace Streaming.Eval.Tests;

/// <summary>COCO AP on cases computed by hand (the arithmetic is in each test's comments).</summary>
public class DetectionApTests
{
    private static GroundTruthBox Gt(float x1, float y1, float x2, float y2, bool crowd = false, bool ignore = false) =>
        GroundTruthBox.Of(new BoxF(x1, y1, x2, y2), 0, crowd, ignore);

    private static ScoredBox Dt(float x1, float y1, float x2, float y2, float score) => new(new BoxF(x1, y1, x2, y2), score, 0);

    [Fact]
    public void One_image_with_a_true_positive_a_false_positive_a_loose_hit_and_a_miss_gives_the_hand_computed_AP()
    {
        // Three 100x100 (large) people A, B, C. d1 sits on A (IoU 1), d2 on nothing, d3 on B with IoU 7200/10000 = 0.72;
        // C is missed.
        var image = new ImageDetections(
            [Gt(0, 0, 100, 100), Gt(200, 0, 300, 100), Gt(400, 0, 500, 100)],
            [Dt(0, 0, 100, 100, 0.9f), Dt(600, 0, 700, 100, 0.8f), Dt(200, 0, 300, 72, 0.7f)]);
        var ap = CocoAp.Evaluate([image], classCount: 1);

        // IoU .50-.70 (5 thresholds): TP FP TP -> recall 1/3 1/3 2/3, precision 1 .5 .667, envelope 1 .667 .667:
        // recall points 0..0.33 read 1 (34 points), 0.34..0.66 read 2/3 (33 points), 0.67..1 read 0. AP = 56/101.
        // IoU .75-.95 (5 thresholds): TP FP FP -> 34 points of 1. AP = 34/101.
        Assert.Equal(56.0 / 101, ap.Map50, 12);
        Assert.Equal(34.0 / 101, ap.Ap(iouIndex: 5), 12);
        Assert.Equal(((5 * 56.0) + (5 * 34.0)) / 1010, ap.Map, 12);

        // All truth is large: no small or medium objects, so those ranges are undefined, not zero.
        Assert.Equal(ap.Map, ap.Ap(area: 3), 12);
        Assert.Equal(-1, ap.Ap(area: 1));
        Assert.Equal(-1, ap.Ap(area: 2));
        Assert.Equal(2.0 / 3, ap.RecallAt(0, 0), 12);

        // At an operating threshold the same image counts TP 2, FP 1, FN 1 at IoU .5.
        int[] tp = [0], fp = [0], fn = [0];
        var outcome = DetectionEvaluation.Outcome(new LabelledImage("x", "x.jpg", image.Truth), image.Truth, image.Detections, tp, fp, fn);
        var point = new OperatingPoint(tp, fp, fn);
        Assert.Equal((2, 1, 1), (point.Tp, point.Fp, point.Fn));
        Assert.Equal(2.0 / 3, point.Precision, 12);
        Assert.Equal(2.0 / 3, point.Recall, 12);
        Assert.Equal(new BoxF(400, 0, 500, 100), Assert.Single(outcome.Misses).Box);
        Assert.Equal(0.8f, Assert.Single(outcome.FalsePositives).Score);
    }

    [Fact]
    public void A_recall_point_that_equals_a_reached_recall_reads_that_detections_precision()
    {
        // searchsorted(side='left'): the point 0.5 takes the first detection with recall >= 0.5 (precision 1), 0.51 the next.
        var q = CocoAp.Interpolate([0.5, 1.0], [1.0, 0.5]);
        Assert.Equal(1.0, q[50]);
        Assert.Equal(0.5, q[51]);
        Assert.Equal(0.5, q[100]);
        Assert.Equal(((51 * 1.0) + (50 * 0.5)) / 101, q.Average(), 12);
    }

    [Fact]
    public void Precision_is_made_non_increasing_from_the_right_before_it_is_read()
    {
        // Raw precision 1, .5, .667 dips and recovers: the dip reads the later, higher value.
        var q = CocoAp.Interpolate([1 / 3.0, 1 / 3.0, 2 / 3.0], [1, 0.5, 2 / 3.0]);
        Assert.Equal(1.0, q[33]);
        Assert.Equal(2 / 3.0, q[34], 12);
        Assert.Equal(0.0, q[67]);
    }

    [Fact]
    public void Detections_with_tied_scores_keep_image_order_as_COCO_stable_sort_does()
    {
        // Two images with one person each; both detections score 0.5: image 1's is false, image 2's is true.
        var falseFirst = new ImageDetections([Gt(0, 0, 100, 100)], [Dt(300, 300, 400, 400, 0.5f)]);
        var trueSecond = new ImageDetections([Gt(0, 0, 100, 100)], [Dt(0, 0, 100, 100, 0.5f)]);

        // FP then TP: recall 0 .5, precision 0 .5, envelope .5 .5 -> points 0..0.5 read .5 (51 points). AP50 = 25.5/101.
        Assert.Equal(25.5 / 101, CocoAp.Evaluate([falseFirst, trueSecond], 1).Map50, 12);

        // TP then FP: precision 1 .5 -> points 0..0.5 read 1. AP50 = 51/101.
        Assert.Equal(51.0 / 101, CocoAp.Evaluate([trueSecond, falseFirst], 1).Map50, 12);
    }

    [Fact]
    public void A_crowd_region_absorbs_any_number_of_detections_and_an_ignored_box_is_neither_found_nor_missed()
    {
        // One real person, a crowd region and an ignored person. Two detections inside the crowd (IoU with a crowd box is
        // intersection over the detection's area = 1) and one on the ignored box count neither as TP nor FP.
        var image = new ImageDetections(
            [Gt(0, 0, 100, 100), Gt(200, 0, 600, 400, crowd: true), Gt(700, 0, 800, 100, ignore: true)],
            [Dt(0, 0, 100, 100, 0.6f), Dt(220, 20, 320, 120, 0.9f), Dt(400, 200, 500, 300, 0.8f), Dt(700, 0, 800, 100, 0.95f)]);
        var ap = CocoAp.Evaluate([image], 1);
        Assert.Equal(1.0, ap.Map, 12);

        int[] tp = [0], fp = [0], fn = [0];
        DetectionEvaluation.Outcome(new LabelledImage("x", "x.jpg", image.Truth), image.Truth, image.Detections, tp, fp, fn);
        Assert.Equal((1, 0, 0), (tp[0], fp[0], fn[0]));

        // Without the flags the ignored box is a found person, the crowd a missed one and its two detections false
        // positives: TP FP FP TP over 3 people, envelope 1 .5 .5 .5 -> (34 x 1 + 33 x .5) / 101 = .5.
        var plain = new ImageDetections([.. image.Truth.Select(g => g with { Crowd = false, Ignore = false })], image.Detections);
        Assert.Equal(0.5, CocoAp.Evaluate([plain], 1).Map50, 12);
    }

    [Fact]
    public void A_detection_prefers_a_real_person_to_an_ignored_one_it_overlaps_more()
    {
        // COCO sorts ignored truth last and stops looking once a real box is matched: the detection takes the real
        // person (IoU 8000/12000 = 0.67) although it overlaps the ignored one more (IoU 1).
        var truth = new[] { Gt(0, 0, 100, 100, ignore: true), Gt(0, 20, 100, 120) };
        var (match, ignored, _) = CocoAp.Match(truth, [true, false], [Dt(0, 0, 100, 100, 0.9f)], 0.5);
        Assert.Equal(1, match[0]);
        Assert.False(ignored[0]);
    }

    [Fact]
    public void A_class_without_ground_truth_is_left_out_of_the_mean()
    {
        var cls1 = new ScoredBox(new BoxF(0, 0, 10, 10), 0.9f, 1);
        var image = new ImageDetections([Gt(0, 0, 100, 100)], [Dt(0, 0, 100, 100, 0.9f), cls1]);
        var ap = CocoAp.Evaluate([image], 2);
        Assert.Equal(1.0, ap.Map, 12);
        Assert.Equal(-1, ap.Ap(1));
        Assert.Null(ap.PrecisionCurve(1));
    }
}
