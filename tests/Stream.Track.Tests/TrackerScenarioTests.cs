using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

/// <summary>Drives a tracker with scripted detections at a given frame rate and records what it reports.</summary>
internal sealed class Script(ByteTracker tracker, double fps)
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public long Frame { get; private set; }

    public List<List<TrackedObject>> Tracks { get; } = [];

    public List<PipelineEvent> Events { get; } = [];

    public List<bool> Kept { get; } = [];

    public DateTimeOffset Now => T0 + TimeSpan.FromSeconds(Frame / fps);

    public List<TrackedObject> Step(params Detection[] detections)
    {
        var tracks = new List<TrackedObject>();
        Kept.Add(tracker.Update(detections, Now, Frame, tracks, Events));
        Tracks.Add(tracks);
        Frame++;
        return tracks;
    }

    public static Detection Person(float cx, float bottom, float score = 0.9f, float h = 100) => new(BoxF.FromCenter(cx, bottom - h / 2, h * 0.4f, h), score, 0);

    public static Detection Car(float cx, float bottom, float score = 0.9f, float h = 100) => new(BoxF.FromCenter(cx, bottom - h / 2, h * 0.4f, h), score, 2);

    /// <summary>Id of the confirmed track whose box is closest to (cx, bottom), or null.</summary>
    public static long? IdNear(List<TrackedObject> tracks, float cx, float bottom, int classId = 0)
    {
        TrackedObject? best = null;
        var bestD = 40f;
        foreach (var t in tracks)
        {
            if (t.State != TrackState.Confirmed || t.ClassId != classId)
            {
                continue;
            }

            var d = MathF.Abs(t.Box.CenterX - cx) + MathF.Abs(t.Box.Y2 - bottom);
            if (d < bestD)
            {
                bestD = d;
                best = t;
            }
        }

        return best?.TrackId;
    }
}

public class TrackerScenarioTests
{
    private static ByteTracker NewTracker(TrackOptions? options = null, CameraGeometryOptions? geometry = null) =>
        new("cam", options ?? new TrackOptions(), geometry);

    [Fact]
    public void Two_objects_crossing_keep_their_ids()
    {
        var s = new Script(NewTracker(), 30);
        long? a = null, b = null;
        for (var f = 0; f < 90; f++)
        {
            var xa = 100 + 8f * f; // left to right
            var xb = 820 - 8f * f; // right to left, a little lower: they overlap while passing
            var dets = new List<Detection> { Script.Person(xa, 300) };

            // The far one (b, higher bottom... here a is lower = closer) is hidden for a few frames at the crossing.
            if (f is < 43 or > 47)
            {
                dets.Add(Script.Person(xb, 290, 0.85f));
            }

            var tracks = s.Step([.. dets]);
            if (f == 5)
            {
                a = Script.IdNear(tracks, xa, 300);
                b = Script.IdNear(tracks, xb, 290);
            }

            if (f == 89)
            {
                Assert.Equal(a, Script.IdNear(tracks, xa, 300));
                Assert.Equal(b, Script.IdNear(tracks, xb, 290));
            }
        }

        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.NotEqual(a, b);
        Assert.Equal(2, s.Events.Count(e => e.Kind == EventKind.TrackStarted));
    }

    [Theory]
    [InlineData(30.0)]
    [InlineData(10.0)]
    public void An_object_occluded_for_less_than_the_buffer_comes_back_with_the_same_id(double fps)
    {
        var s = new Script(NewTracker(), fps);
        var speed = 60f / (float)fps; // 60 px per second at any frame rate
        var hidden = (int)Math.Round(1.0 * fps); // 1.0 s < 1.5 s buffer
        long? id = null;
        var f = 0;
        for (; f < 2 * fps; f++)
        {
            var seen = Script.IdNear(s.Step(Script.Person(100 + speed * f, 400)), 100 + speed * f, 400);
            id ??= seen;
        }

        for (var k = 0; k < hidden; k++, f++)
        {
            var lost = s.Step();
            Assert.All(lost, t => Assert.Equal(TrackState.Lost, t.State));
        }

        var back = s.Step(Script.Person(100 + speed * f, 400));
        Assert.NotNull(id);
        Assert.Equal(id, Script.IdNear(back, 100 + speed * f, 400));
        Assert.DoesNotContain(s.Events, e => e.Kind == EventKind.TrackEnded);
    }

    [Theory]
    [InlineData(30.0)]
    [InlineData(10.0)]
    public void Without_relinking_an_object_occluded_longer_than_the_buffer_gets_a_new_id_and_the_old_track_ends(double fps)
    {
        var s = new Script(NewTracker(new TrackOptions { RelinkSeconds = 0 }), fps);
        var speed = 60f / (float)fps;
        var f = 0;
        long? first = null;
        for (; f < fps; f++)
        {
            var seen = Script.IdNear(s.Step(Script.Person(100 + speed * f, 400)), 100 + speed * f, 400);
            first ??= seen;
        }

        for (var k = 0; k < 2 * fps; k++, f++)
        {
            s.Step();
        }

        var ended = Assert.Single(s.Events, e => e.Kind == EventKind.TrackEnded);
        Assert.Equal(first, ended.TrackId);
        Assert.Equal("person", ended.Label);
        Assert.Equal("lost", ended.Reason);

        for (var k = 0; k < 3; k++, f++)
        {
            s.Step(Script.Person(100 + speed * f, 400));
        }

        var second = Script.IdNear(s.Tracks[^1], 100 + speed * (f - 1), 400);
        Assert.NotNull(second);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void A_low_score_detection_continues_a_track_but_never_starts_one()
    {
        var s = new Script(NewTracker(), 30);
        for (var f = 0; f < 30; f++)
        {
            var tracks = s.Step(Script.Person(200 + 3 * f, 300, score: 0.3f));
            Assert.Empty(tracks);
        }

        Assert.Empty(s.Events);

        var t = new Script(NewTracker(), 30);
        long? id = null;
        for (var f = 0; f < 60; f++)
        {
            var score = f < 10 ? 0.9f : 0.3f; // confident first, then only weak detections
            var tracks = t.Step(Script.Person(200 + 3 * f, 300, score));
            var now = Assert.Single(tracks);
            Assert.Equal(TrackState.Confirmed, now.State);
            id ??= now.TrackId;
            Assert.Equal(id, now.TrackId);
        }
    }

    [Fact]
    public void A_person_never_becomes_a_car()
    {
        var s = new Script(NewTracker(), 30);
        long? person = null;
        for (var f = 0; f < 20; f++)
        {
            var seen = Script.IdNear(s.Step(Script.Person(300 + 2 * f, 400)), 300 + 2 * f, 400);
            person ??= seen;
        }

        // The person's detection is replaced, at the same place, by a car.
        List<TrackedObject> tracks = [];
        for (var f = 20; f < 30; f++)
        {
            tracks = s.Step(Script.Car(300 + 2 * f, 400));
        }

        var car = Assert.Single(tracks, t => t.ClassId == 2);
        Assert.NotEqual(person, car.TrackId);
        var lostPerson = Assert.Single(tracks, t => t.ClassId == 0);
        Assert.Equal(person, lostPerson.TrackId);
        Assert.Equal(TrackState.Lost, lostPerson.State);
        Assert.All(s.Events.Where(e => e.TrackId == person), e => Assert.Equal(0, e.ClassId));
    }

    [Fact]
    public void Track_events_carry_camera_id_class_times_best_score_and_the_best_frame()
    {
        var s = new Script(NewTracker(new TrackOptions { ConfirmSeconds = 0 }), 30); // a 5-frame track: about its events, not the start delay
        s.Step(); // an empty first frame, so the next track follows the MinHits rule
        var scores = new[] { 0.7f, 0.72f, 0.95f, 0.8f, 0.75f };
        for (var f = 0; f < scores.Length; f++)
        {
            s.Step(Script.Person(100 + 2 * f, 300, scores[f]));
        }

        for (var f = 0; f < 100; f++)
        {
            s.Step(); // past the relink window (3 s), after which the lost track ends
        }

        var started = Assert.Single(s.Events, e => e.Kind == EventKind.TrackStarted);
        Assert.Equal(2, started.FrameSequence); // confirmed on its second hit (frame 2)
        Assert.True(s.Kept[2]);
        Assert.Equal("cam", started.CameraId);

        var ended = Assert.Single(s.Events, e => e.Kind == EventKind.TrackEnded);
        Assert.Equal(started.TrackId, ended.TrackId);
        Assert.Equal(0.95f, ended.Score);
        Assert.Equal(3, ended.FrameSequence); // the frame of the best detection, which was kept
        Assert.True(s.Kept[3]);
        Assert.False(s.Kept[4]);
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero) + TimeSpan.FromSeconds(1 / 30.0), ended.FirstSeen);
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero) + TimeSpan.FromSeconds(5 / 30.0), ended.LastSeen);
        Assert.Equal("person", ended.Label);
    }

    [Fact]
    public void A_tentative_track_missed_once_is_dropped_without_events()
    {
        var s = new Script(NewTracker(), 30);
        s.Step();
        s.Step(Script.Person(500, 500)); // one confident false positive
        for (var f = 0; f < 60; f++)
        {
            Assert.Empty(s.Step());
        }

        Assert.Empty(s.Events);
    }

    [Fact]
    public void Degenerate_and_NaN_detections_are_ignored_without_harming_tracks()
    {
        var s = new Script(NewTracker(), 30);
        long? id = null;
        for (var f = 0; f < 30; f++)
        {
            var tracks = s.Step(
                Script.Person(100 + 3 * f, 300),
                new Detection(new BoxF(float.NaN, 0, 10, 10), 0.9f, 0),
                new Detection(new BoxF(50, 50, 50, 80), 0.9f, 0),
                new Detection(new BoxF(10, 10, 20, 20), float.NaN, 0));
            var only = Assert.Single(tracks);
            id ??= only.TrackId;
            Assert.Equal(id, only.TrackId);
            Assert.True(float.IsFinite(only.Box.X1));
        }
    }
}
