using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

/// <summary>Issue 23, section 2: one alert per real object.</summary>
public class AlertTests
{
    private static readonly CameraGeometryOptions Door = new()
    {
        Zones = [new ZoneOptions { Name = "door", Points = [new(0, 0), new(1000, 0), new(1000, 1000), new(0, 1000)] }],
    };

    [Fact]
    public void Track_updated_events_carry_the_frame_they_describe_and_that_frame_is_kept()
    {
        var s = new Script(new ByteTracker("cam", new TrackOptions { UpdateIntervalSeconds = 0.5 }), 10);
        for (var f = 0; f < 30; f++)
        {
            s.Step(Script.Person(200 + (5 * f), 400));
        }

        var updates = s.Events.Where(e => e.Kind == EventKind.TrackUpdated).ToList();
        Assert.InRange(updates.Count, 4, 6);
        foreach (var u in updates)
        {
            Assert.NotNull(u.FrameSequence);
            Assert.True(s.Kept[(int)u.FrameSequence!.Value], $"frame {u.FrameSequence} of a track_updated was not kept");
        }
    }

    /// <summary>A person walking right at 7 fps, hidden for <paramref name="hiddenSeconds"/>, then seen again further along the path (or at <paramref name="reappearX"/>).</summary>
    private static Script WalkHideAndReappear(TrackOptions options, double hiddenSeconds, float? reappearX = null)
    {
        const double fps = 7;
        var s = new Script(new ByteTracker("cam", options), fps);
        const float speed = 60f / (float)fps; // 60 px/s, a 100 px tall person: 0.6 heights per second
        s.Step();
        var f = 1;
        for (; f < 15; f++)
        {
            s.Step(Script.Person(100 + (speed * f), 400));
        }

        for (var k = 0; k < hiddenSeconds * fps; k++, f++)
        {
            s.Step();
        }

        for (var k = 0; k < 10; k++, f++)
        {
            s.Step(Script.Person((reappearX ?? 100) + (speed * f), 400));
        }

        return s;
    }

    [Theory]
    [InlineData(2)] // the default: a new track is confirmed on its second match, and re-linked then
    [InlineData(1)] // tracks confirmed at birth are re-linked at birth
    public void A_track_lost_and_reappearing_ahead_along_its_path_within_a_few_seconds_keeps_its_id_and_alerts_once(int minHits)
    {
        // Hidden for 2 s: longer than the lost buffer (1.5 s), so only re-linking can find it again.
        var s = WalkHideAndReappear(new TrackOptions { MinHits = minHits }, hiddenSeconds: 2);

        var started = Assert.Single(s.Events, e => e.Kind == EventKind.TrackStarted);
        Assert.DoesNotContain(s.Events, e => e.Kind == EventKind.TrackEnded);
        var id = Assert.Single(s.Tracks[^1], t => t.State == TrackState.Confirmed).TrackId;
        Assert.Equal(started.TrackId, id);

        // The same walk without re-linking: a second alert for the same person.
        var without = WalkHideAndReappear(new TrackOptions { MinHits = minHits, RelinkSeconds = 0 }, hiddenSeconds: 2);
        Assert.Equal(2, without.Events.Count(e => e.Kind == EventKind.TrackStarted));
    }

    [Fact]
    public void A_different_object_appearing_elsewhere_gets_a_new_id_and_its_own_alert()
    {
        // The person vanishes at x ~ 220 heading right; someone appears at x ~ 900, far off its path.
        var s = WalkHideAndReappear(new TrackOptions(), hiddenSeconds: 1, reappearX: 700);

        var started = s.Events.Where(e => e.Kind == EventKind.TrackStarted).ToList();
        Assert.Equal(2, started.Count);
        Assert.NotEqual(started[0].TrackId, started[1].TrackId);
        Assert.Equal(started[1].TrackId, Assert.Single(s.Tracks[^1], t => t.State == TrackState.Confirmed).TrackId);
    }

    /// <summary>
    /// Two people walk right together at 7 fps; the first is hidden for 2 s (behind the other, past the lost buffer) while
    /// the second walks on, then someone appears on the first one's path, walking <paramref name="reappearSpeed"/> px/s.
    /// </summary>
    private static Script PairWithOneHidden(TrackOptions options, float reappearSpeed, CameraGeometryOptions? geometry = null)
    {
        var s = new Script(new ByteTracker("cam", options, geometry), 7);
        const float speed = 60f / 7;
        var f = 0;
        for (; f < 14; f++)
        {
            s.Step(Script.Person(100 + (speed * f), 400), Script.Person(140 + (speed * f), 400));
        }

        for (var k = 0; k < 14; k++, f++)
        {
            s.Step(Script.Person(140 + (speed * f), 400));
        }

        var from = 100 + (speed * f);
        for (var k = 0; k < 10; k++, f++)
        {
            s.Step(Script.Person(from + (reappearSpeed / 7 * k), 400), Script.Person(140 + (speed * f), 400));
        }

        return s;
    }

    [Fact]
    public void A_person_hidden_behind_a_companion_and_seen_again_continues_their_alert_and_zone_instead_of_a_second_alert()
    {
        // Which of the two the new track is cannot be told from geometry (the companion is on the hidden one's path), so
        // its filter is not re-linked; but whichever it is has had an alert: it carries the hidden one's id.
        var s = PairWithOneHidden(new TrackOptions { UpdateIntervalSeconds = 0.5 }, reappearSpeed: 60, Door);

        var started = s.Events.Where(e => e.Kind == EventKind.TrackStarted).ToList();
        Assert.Equal(2, started.Count);
        var hidden = started.OrderBy(e => e.Box!.Value.CenterX).First();
        Assert.Equal(hidden.TrackId, Script.IdNear(s.Tracks[^1], 100 + (60f / 7 * 28) + (60f / 7 * 9), 400));
        Assert.Equal(2, s.Events.Count(e => e.Kind == EventKind.ZoneEntered)); // the zone state went on with the alert
        Assert.DoesNotContain(s.Events, e => e.Kind is EventKind.ZoneExited or EventKind.TrackEnded);

        // Once seen again (frame 28 on), its updates name the first alert: same id, same first_seen.
        var after = s.Events.Where(e => e.TrackId == hidden.TrackId && e.Kind == EventKind.TrackUpdated && e.FrameSequence >= 28).ToList();
        Assert.NotEmpty(after);
        Assert.All(after, e => Assert.Equal(hidden.FirstSeen, e.FirstSeen));

        // Without alert continuation: a third alert for one of the same two people.
        var without = PairWithOneHidden(new TrackOptions { ContinueAlerts = false }, reappearSpeed: 60);
        Assert.Equal(3, without.Events.Count(e => e.Kind == EventKind.TrackStarted));
    }

    [Fact]
    public void Someone_walking_the_other_way_where_a_person_was_lost_gets_their_own_alert()
    {
        var s = PairWithOneHidden(new TrackOptions(), reappearSpeed: -60);

        var started = s.Events.Where(e => e.Kind == EventKind.TrackStarted).ToList();
        Assert.Equal(3, started.Count);
        Assert.Equal(started[^1].TrackId, Script.IdNear(s.Tracks[^1], 100 + (60f / 7 * 28) - (60f / 7 * 9), 400));
    }

    /// <summary>
    /// A person walks right out of a 640 x 480 picture at 7 fps; 0.5 s later someone steps out of a doorway 60 px from
    /// that edge and stands there.
    /// </summary>
    private static Script LeaveAndAnotherAppearsAtTheEdge(ByteTracker tracker)
    {
        var s = new Script(tracker, 7);
        const float speed = 60f / 7;
        var x = 0f;
        for (var f = 0; f < 14; f++)
        {
            x = 520 + (speed * f);
            s.Step(Script.Person(Math.Min(x, 620), 400));
        }

        for (var k = 0; k < 4; k++)
        {
            s.Step();
        }

        for (var k = 0; k < 10; k++)
        {
            s.Step(Script.Person(580, 400));
        }

        return s;
    }

    [Fact]
    public void A_person_who_left_through_the_edge_of_the_picture_is_not_taken_for_someone_appearing_near_it()
    {
        var s = LeaveAndAnotherAppearsAtTheEdge(new ByteTracker("cam", new TrackOptions()) { FrameWidth = 640, FrameHeight = 480 });

        var started = s.Events.Where(e => e.Kind == EventKind.TrackStarted).ToList();
        Assert.Equal(2, started.Count);
        Assert.NotEqual(started[0].TrackId, started[1].TrackId);

        // Not knowing the picture's size, the tracker takes the newcomer for the person who left (re-linked).
        var blind = LeaveAndAnotherAppearsAtTheEdge(new ByteTracker("cam", new TrackOptions()));
        Assert.Single(blind.Events, e => e.Kind == EventKind.TrackStarted);
    }

    [Fact]
    public void An_object_alerts_only_once_it_has_been_tracked_ConfirmSeconds_and_a_shorter_fragment_never_does()
    {
        // Frigate's min_initialized: a fragment seen for 0.3 s (a track lost and found again as a new one inside a group)
        // never alerts; a person seen longer alerts once tracked 0.5 s, on that frame's picture.
        var s = new Script(new ByteTracker("cam", new TrackOptions()), 25);
        s.Step();
        for (var f = 0; f < 8; f++)
        {
            s.Step(Script.Person(200 + f, 400)); // 0.32 s
        }

        for (var f = 0; f < 100; f++)
        {
            s.Step();
        }

        Assert.DoesNotContain(s.Events, e => e.Kind is EventKind.TrackStarted or EventKind.TrackEnded);

        var first = s.Frame;
        for (var f = 0; f < 25; f++)
        {
            s.Step(Script.Person(600 + f, 400)); // 1 s
        }

        var started = Assert.Single(s.Events, e => e.Kind == EventKind.TrackStarted);
        Assert.InRange((started.Time - started.FirstSeen!.Value).TotalSeconds, 0.5, 0.5 + (1.0 / 25) + 1e-6);
        Assert.InRange(started.FrameSequence!.Value - first, 12, 14);
    }

    [Fact]
    public void A_low_score_flicker_never_alerts()
    {
        static Script Flicker(TrackOptions options)
        {
            var s = new Script(new ByteTracker("cam", options), 25);
            s.Step();
            foreach (var score in new[] { 0.62f, 0.55f, 0.6f, 0.52f, 0.65f, 0.5f })
            {
                s.Step(Script.Person(300, 400, score)); // something the detector half believes, for a quarter of a second
            }

            for (var k = 0; k < 100; k++)
            {
                s.Step();
            }

            return s;
        }

        var s = Flicker(new TrackOptions());
        Assert.DoesNotContain(s.Events, e => e.Kind is EventKind.TrackStarted or EventKind.TrackEnded);

        // It is tracked all the same (confirmed by MinHits), and without the confirmation rule it would alert.
        Assert.Contains(s.Tracks[3], t => t.State == TrackState.Confirmed);
        Assert.Single(Flicker(new TrackOptions { ConfirmThreshold = 0, ConfirmSeconds = 0 }).Events, e => e.Kind == EventKind.TrackStarted);
    }

    [Fact]
    public void Zone_events_before_confirmation_are_kept_back_and_emitted_right_after_track_started()
    {
        var s = new Script(new ByteTracker("cam", new TrackOptions(), Door), 25);
        s.Step();
        var scores = new[] { 0.62f, 0.6f, 0.64f, 0.61f, 0.9f, 0.92f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f }; // 0.64 s: past ConfirmSeconds too
        for (var f = 0; f < scores.Length; f++)
        {
            s.Step(Script.Person(300 + f, 400, scores[f]));
        }

        var kinds = s.Events.Select(e => e.Kind).ToList();
        Assert.Equal([EventKind.TrackStarted, EventKind.ZoneEntered], kinds);
        var started = s.Events[0];
        var entered = s.Events[1];
        Assert.Equal(started.TrackId, entered.TrackId);
        Assert.True(entered.FrameSequence < started.FrameSequence, $"zone entered at frame {entered.FrameSequence}, started at {started.FrameSequence}");
        Assert.True(s.Kept[(int)entered.FrameSequence!.Value]); // its picture was kept when it happened
    }

    [Fact]
    public void The_per_class_confirmation_rule_decides_which_objects_may_alert()
    {
        // The camera's rules (as the lead's per-camera Objects filters give them): cars only when at least 20000 px.
        var rules = new Func<int, ConfirmRule>(c => c == 2 ? new ConfirmRule(0.5, 20000, 0) : new ConfirmRule(0.7, 0, 0));
        var tracker = new ByteTracker("cam", new TrackOptions(), confirmRules: rules);
        Assert.Equal(20000, tracker.ConfirmRuleFor(2).MinArea);
        var s = new Script(tracker, 25);
        for (var f = 0; f < 20; f++)
        {
            s.Step(Script.Person(200, 400), Script.Car(600, 400, h: 100)); // the car's box: 40 x 100 = 4000 px
        }

        var started = Assert.Single(s.Events, e => e.Kind == EventKind.TrackStarted);
        Assert.Equal(0, started.ClassId);
    }
}
