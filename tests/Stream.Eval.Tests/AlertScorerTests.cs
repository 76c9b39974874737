using System.Globalization;
using System.Text.Json;
using Streaming.Core;
using Streaming.Testing;
using Streaming.Track;
using Xunit.Abstractions;

namespace Streaming.Eval.Tests;

/// <summary>Issue 23, section 2: measuring what the operator gets (<c>stream eval alerts</c>).</summary>
public class AlertScorerTests(ITestOutputHelper output)
{
    private static MotGroundTruth Truth(params (int Frame, int Id, float X)[] rows) =>
        new([.. rows.Select(r => new MotRow(r.Frame, r.Id, r.X, 100, 40, 100, 1, -1, -1))], MotLayout.Mot15, MotBenchmark.Mot15);

    private static AlertEvent At(EventKind kind, long track, int frame, float x) => new(kind, track, 0, frame, BoxF.FromXywh(x, 100, 40, 100));

    [Fact]
    public void An_alert_is_true_when_one_person_overlaps_its_reported_boxes_in_at_least_half_of_the_frames()
    {
        // Person 1 at x = 0 for 2 s at 10 fps; person 2 at x = 300 for 2 s.
        var gt = Truth([.. Enumerable.Range(1, 20).SelectMany(f => new[] { (f, 1, 0f), (f, 2, 300f) })]);
        var events = new[]
        {
            At(EventKind.TrackStarted, 7, 3, 0), At(EventKind.TrackUpdated, 7, 8, 0), At(EventKind.TrackUpdated, 7, 13, 300), At(EventKind.TrackEnded, 7, 15, 300),
            At(EventKind.TrackStarted, 8, 5, 0), At(EventKind.TrackUpdated, 8, 10, 300), At(EventKind.TrackUpdated, 8, 12, 300), At(EventKind.TrackEnded, 8, 18, 300),
            At(EventKind.TrackStarted, 9, 6, 600), At(EventKind.TrackEnded, 9, 9, 0),
        };

        var score = AlertScorer.Score("t", gt, 10, events);

        Assert.Equal(3, score.Alerts);
        Assert.Equal([1, 2, 1], score.Scored.Select(a => a.Identity)); // 2 of 4, 3 of 4, 1 of 2 frames: true; half is enough
        Assert.Equal(2, score.PeopleAlerted);
        Assert.Equal(1.5, score.Repeats); // person 1 got two alerts, person 2 one
        Assert.Equal(0.3, score.MedianDelaySeconds!.Value, 6); // person 1 first alerted at frame 3 (0.2 s), person 2 at frame 5 (0.4 s)
    }

    [Fact]
    public void A_person_counts_once_visible_for_at_least_one_second_and_an_alert_of_nobody_is_false()
    {
        var gt = Truth([.. Enumerable.Range(1, 10).Select(f => (f, 1, 0f)), .. Enumerable.Range(1, 9).Select(f => (f, 2, 300f))]);
        var score = AlertScorer.Score("t", gt, 10, [At(EventKind.TrackStarted, 1, 2, 0), At(EventKind.TrackStarted, 2, 2, 600)]);

        Assert.Equal(1, score.People); // person 2 was seen for 0.9 s only
        Assert.Equal(0.5, score.Precision);
        Assert.Equal(1, score.Recall);
        Assert.EndsWith("other_class_alerts 0", score.Summary(), StringComparison.Ordinal);
    }

    [Fact]
    public void On_TUD_Campus_before_this_work_eval_alerts_finds_what_the_issue_reports_two_of_six_people_without_their_own_alert()
    {
        var dir = SharedMot.Sequence("TUD-Campus");
        var info = SeqInfo.Read(dir);
        var before = new TrackOptions { RelinkSeconds = 0, ConfirmThreshold = 0, ConfirmSeconds = 0, UpdateIntervalSeconds = 0.2 };
        var events = AlertRunner.RunOnDetections(info, MotFile.Read(Path.Combine(dir, "det", "det.txt")), before, new AlertRunOptions());
        var score = AlertRunner.Score(dir, info, events);
        output.WriteLine(score.Summary());

        Assert.Equal(6, score.People);
        Assert.Equal(4, score.PeopleAlerted);
        Assert.Equal(1, score.Alerts - score.TrueAlerts);
    }

    [Fact]
    public void Events_read_back_from_a_file_in_the_Kafka_schema_score_the_same_as_the_in_process_run()
    {
        var dir = SharedMot.Sequence("TUD-Stadtmitte");
        var info = SeqInfo.Read(dir);
        var events = AlertRunner.RunOnDetections(info, MotFile.Read(Path.Combine(dir, "det", "det.txt")), new TrackOptions { UpdateIntervalSeconds = 0.2 }, new AlertRunOptions());
        var path = Path.GetTempFileName();
        try
        {
            // What the sink writes (docs/events.md): snake_case names, frame_seq from 0, box as x1..y2; a camera_status line too.
            File.WriteAllLines(path, [
                "{\"schema_version\":1,\"kind\":\"camera_status\",\"camera_id\":\"c\",\"status\":\"online\"}",
                .. events.Select(e => JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["schema_version"] = 1, ["kind"] = Kind(e.Kind), ["camera_id"] = "c", ["frame_seq"] = e.FrameSequence, ["track_id"] = e.TrackId,
                    ["class_id"] = e.ClassId, ["label"] = e.Label,
                    ["box"] = e.Box is { } b ? new Dictionary<string, float> { ["x1"] = b.X1, ["y1"] = b.Y1, ["x2"] = b.X2, ["y2"] = b.Y2 } : null,
                })),
            ]);

            var inProcess = AlertRunner.Score(dir, info, events);
            var fromFile = AlertScorer.Score(info.Name, MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt")), info.FrameRate, AlertScorer.ReadEvents(path));
            Assert.Equal(inProcess.Summary(), fromFile.Summary());

            // frame = frame_seq + --first-frame: shifting the mapping by 5 frames moves every box off its person.
            var shifted = AlertScorer.Score(info.Name, MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt")), info.FrameRate, AlertScorer.ReadEvents(path, firstFrame: 40));
            Assert.True(shifted.Precision < inProcess.Precision, shifted.Summary());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Kind(EventKind kind) => kind switch
    {
        EventKind.TrackStarted => "track_started",
        EventKind.TrackUpdated => "track_updated",
        EventKind.TrackEnded => "track_ended",
        EventKind.ZoneEntered => "zone_entered",
        EventKind.ZoneExited => "zone_exited",
        EventKind.LineCrossed => "line_crossed",
        _ => kind.ToString().ToLowerInvariant(),
    };

    [Theory]
    [InlineData("TUD-Stadtmitte")]
    [InlineData("TUD-Campus")]
    public void At_7_fps_with_30_percent_of_the_frames_dropped_alerts_per_person_stay_within_20_percent_of_the_run_without_drops(string sequence)
    {
        var dir = SharedMot.Sequence(sequence);
        var info = SeqInfo.Read(dir);
        var detections = MotFile.Read(Path.Combine(dir, "det", "det.txt"));
        var options = new TrackOptions { UpdateIntervalSeconds = 0.2 };
        var full = AlertRunner.Score(dir, info, AlertRunner.RunOnDetections(info, detections, options, new AlertRunOptions(Every: 4)));
        output.WriteLine(full.Summary());
        for (var seed = 1; seed <= 5; seed++)
        {
            var dropped = AlertRunner.Score(dir, info, AlertRunner.RunOnDetections(info, detections, options, new AlertRunOptions(Every: 4, Drop: 0.3, Seed: seed)));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seed {seed}: {dropped.Summary()}"));
            Assert.True(dropped.Alerts <= 1.2 * full.Alerts, $"seed {seed}: {dropped.Alerts} alerts with 30 % dropped against {full.Alerts} without");
        }
    }

    [Theory]
    [InlineData("TUD-Stadtmitte")]
    [InlineData("TUD-Campus")]
    public void At_7_fps_confirmation_before_alerting_gives_fewer_alerts_per_person_and_still_alerts_the_same_people(string sequence)
    {
        var dir = SharedMot.Sequence(sequence);
        var info = SeqInfo.Read(dir);
        var detections = MotFile.Read(Path.Combine(dir, "det", "det.txt"));
        // Confirmation alone: alert continuation, which also lowers the repeats, is off in both runs.
        AlertScore Run(double threshold) => AlertRunner.Score(dir, info, AlertRunner.RunOnDetections(info, detections,
            new TrackOptions { ConfirmThreshold = threshold, UpdateIntervalSeconds = 0.2, ContinueAlerts = false }, new AlertRunOptions(Every: 4)));
        var without = Run(0);
        var with = Run(new TrackOptions().ConfirmThreshold);
        output.WriteLine($"without: {without.Summary()}");
        output.WriteLine($"with:    {with.Summary()}");

        Assert.True(with.Repeats < without.Repeats, $"repeats {with.Repeats:0.00} with confirmation, {without.Repeats:0.00} without");
        Assert.Equal(without.PeopleAlerted, with.PeopleAlerted);
        Assert.True(with.Precision >= without.Precision, $"precision {with.Precision:0.000} with confirmation, {without.Precision:0.000} without");
    }

    [Theory]
    [InlineData("TUD-Stadtmitte", 1)]
    [InlineData("TUD-Stadtmitte", 4)]
    [InlineData("TUD-Campus", 1)]
    [InlineData("TUD-Campus", 4)]
    public void A_new_track_on_the_path_of_a_lost_alerted_one_continues_its_alert_fewer_repeats_and_nobody_left_unalerted(string sequence, int every)
    {
        var dir = SharedMot.Sequence(sequence);
        var info = SeqInfo.Read(dir);
        var detections = MotFile.Read(Path.Combine(dir, "det", "det.txt"));
        AlertScore Run(bool continueAlerts) => AlertRunner.Score(dir, info, AlertRunner.RunOnDetections(info, detections,
            new TrackOptions { ContinueAlerts = continueAlerts, UpdateIntervalSeconds = 0.2 }, new AlertRunOptions(Every: every)));
        var without = Run(false);
        var with = Run(true);
        output.WriteLine($"without: {without.Summary()}");
        output.WriteLine($"with:    {with.Summary()}");

        Assert.True(with.Repeats <= without.Repeats, $"repeats {with.Repeats:0.00} with continuation, {without.Repeats:0.00} without");
        Assert.Equal(without.PeopleAlerted, with.PeopleAlerted);
        Assert.True(with.Precision >= without.Precision, $"precision {with.Precision:0.000} with continuation, {without.Precision:0.000} without");
        if (sequence == "TUD-Stadtmitte")
        {
            // Person 7 walks through the group and loses its track there: alerted twice without continuation.
            Assert.True(with.Repeats < without.Repeats, $"repeats {with.Repeats:0.00} with continuation, {without.Repeats:0.00} without");
            Assert.True(with.Repeats <= 1.15, $"repeats {with.Repeats:0.00}: the issue's goal is 1.15 at most");
        }
    }

    [Theory]
    [InlineData("TUD-Stadtmitte", 60.08, 81.34)]
    [InlineData("TUD-Campus", 46.68, 63.35)]
    public void Relinking_and_confirmation_keep_HOTA_and_IDF1_at_least_at_the_figures_before_them(string sequence, double hota, double idf1)
    {
        var dir = SharedMot.Sequence(sequence);
        var gt = MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt"));
        var tracks = MotRunner.RunOnDetections(SeqInfo.Read(dir), MotFile.Read(Path.Combine(dir, "det", "det.txt")), new TrackOptions());
        var score = MotScorer.Score(gt, tracks);
        var summary = string.Create(CultureInfo.InvariantCulture, $"{sequence}: HOTA {100 * score.Hota:0.00} IDF1 {100 * score.Idf1:0.00} (before: {hota} / {idf1})");
        output.WriteLine(summary);
        Assert.True(Math.Round(100 * score.Hota, 2) >= hota, summary);
        Assert.True(Math.Round(100 * score.Idf1, 2) >= idf1, summary);
    }
}
