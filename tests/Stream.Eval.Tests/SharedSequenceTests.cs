using Streaming.Testing;
using Streaming.Track;

namespace Streaming.Eval.Tests;

public class SharedSequenceTests
{
    [Theory]
    [InlineData("TUD-Stadtmitte")]
    [InlineData("TUD-Campus")]
    public void Eval_mot_on_the_shared_detections_is_at_least_as_good_as_the_reference_ByteTrack_on_HOTA_and_IDF1(string sequence)
    {
        var dir = SharedMot.Sequence(sequence);
        var gt = MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt"));
        var reference = MotScorer.Score(gt, MotFile.Read(Path.Combine(dir, "reference", "bytetrack.txt")));

        // What 'stream eval mot --seq S --detections S/det/det.txt' runs, with the default options.
        var tracks = MotRunner.RunOnDetections(SeqInfo.Read(dir), MotFile.Read(Path.Combine(dir, "det", "det.txt")), new TrackOptions());
        var stream = MotScorer.Score(gt, tracks);

        var summary = $"{sequence}: Stream HOTA {100 * stream.Hota:0.00} IDF1 {100 * stream.Idf1:0.00} IDSW {stream.IdSwitches}; "
            + $"reference HOTA {100 * reference.Hota:0.00} IDF1 {100 * reference.Idf1:0.00} IDSW {reference.IdSwitches}";
        Assert.True(stream.Hota >= reference.Hota, summary);
        Assert.True(stream.Idf1 >= reference.Idf1, summary);
    }
}
