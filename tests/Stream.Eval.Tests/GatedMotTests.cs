using Streaming.Core;
using Streaming.Track;
using Xunit.Abstractions;

namespace Streaming.Eval.Tests;

public class GatedMotTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("TUD-Stadtmitte")]
    [InlineData("TUD-Campus")]
    public void Eval_mot_gated_by_motion_stays_within_one_HOTA_point_of_the_ungated_run_on_the_shared_sequences(string sequence)
    {
        var dir = SharedMot.Sequence(sequence);
        var info = SeqInfo.Read(dir);
        var gt = MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt"));
        var detections = MotFile.Read(Path.Combine(dir, "det", "det.txt"));

        // What 'stream eval mot --seq S --detections S/det/det.txt [--gate motion]' runs.
        var ungated = MotScorer.Score(gt, MotRunner.RunOnDetections(info, detections, new TrackOptions()));
        using var gate = new MotGate(dir, info, new MotionOptions());
        var gated = MotScorer.Score(gt, MotRunner.RunOnDetections(info, detections, new TrackOptions(), TrackerKind.ByteTrack, gate));

        var summary = $"{sequence}: ungated HOTA {100 * ungated.Hota:0.00}, gated HOTA {100 * gated.Hota:0.00}; gate: {gate.Inferred} inferred, {gate.Gated} gated";
        output.WriteLine(summary);
        Assert.Equal(info.Length, gate.Inferred + gate.Gated);
        Assert.True(100 * (ungated.Hota - gated.Hota) <= 1.0, summary);
    }
}
