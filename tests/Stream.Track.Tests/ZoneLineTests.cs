using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

public class ZoneLineTests
{
    private static CameraGeometryOptions Geometry() => new()
    {
        Zones =
        [
            new ZoneOptions
            {
                Name = "door",
                Points = [new(400, 200), new(600, 200), new(600, 600), new(400, 600)],
            },
        ],
        Lines =
        [
            // Downward vertical line at x = 1000: walking left to right goes from its right-hand side to its left: "out".
            new LineOptions { Name = "gate", From = new(1000, 0), To = new(1000, 1000), MarginPixels = 8 },
        ],
    };

    [Fact]
    public void Walking_through_a_zone_gives_one_enter_and_one_exit_with_the_dwell_time()
    {
        var s = new Script(new ByteTracker("cam", new TrackOptions(), Geometry()), 30);
        for (var f = 0; f < 150; f++)
        {
            s.Step(Script.Person(200 + 5 * f, 400)); // 150 px/s; inside x in (400, 600): 40 frames = 1.333 s
        }

        var entered = Assert.Single(s.Events, e => e.Kind == EventKind.ZoneEntered);
        var exited = Assert.Single(s.Events, e => e.Kind == EventKind.ZoneExited);
        Assert.Equal("door", entered.Zone);
        Assert.Equal("door", exited.Zone);
        Assert.Equal(entered.TrackId, exited.TrackId);
        Assert.InRange(exited.DwellSeconds!.Value, 40 / 30.0 - 0.1, 40 / 30.0 + 0.1);
        Assert.True(s.Kept[(int)entered.FrameSequence!.Value]);
        Assert.True(exited.Time > entered.Time);
    }

    [Fact]
    public void A_track_that_ends_inside_a_zone_exits_it_when_it_ends()
    {
        var s = new Script(new ByteTracker("cam", new TrackOptions(), Geometry()), 30);
        for (var f = 0; f < 30; f++)
        {
            s.Step(Script.Person(500, 400));
        }

        for (var f = 0; f < 100; f++)
        {
            s.Step(); // past the relink window (3 s), after which the lost track ends
        }

        var exited = Assert.Single(s.Events, e => e.Kind == EventKind.ZoneExited);
        Assert.Equal("track-ended", exited.Reason);
        Assert.InRange(exited.DwellSeconds!.Value, 0.9, 1.0);
        Assert.Single(s.Events, e => e.Kind == EventKind.TrackEnded);
    }

    [Fact]
    public void Crossing_a_directed_line_counts_once_with_its_direction()
    {
        var s = new Script(new ByteTracker("cam", new TrackOptions(), Geometry()), 30);
        for (var f = 0; f < 100; f++)
        {
            s.Step(Script.Person(800 + 5 * f, 700)); // left to right across x = 1000
        }

        var crossed = Assert.Single(s.Events, e => e.Kind == EventKind.LineCrossed);
        Assert.Equal("gate", crossed.Line);
        Assert.Equal("out", crossed.Direction);

        var back = new Script(new ByteTracker("cam", new TrackOptions(), Geometry()), 30);
        for (var f = 0; f < 100; f++)
        {
            back.Step(Script.Person(1200 - 5 * f, 700));
        }

        Assert.Equal("in", Assert.Single(back.Events, e => e.Kind == EventKind.LineCrossed).Direction);
    }

    [Fact]
    public void Jitter_on_the_line_produces_exactly_one_crossing()
    {
        var tracker = new ByteTracker("cam", new TrackOptions(), Geometry());
        var s = new Script(tracker, 30);
        var rng = new Random(7);
        for (var f = 0; f < 20; f++)
        {
            s.Step(Script.Person(900 + 5 * f, 700));
        }

        // Standing on the line for two seconds: the box centre wobbles +-6 px around x = 1000 (inside the 8 px margin),
        // and every 7th frame one detection jumps 20 px to the other side and back (shorter than ConfirmFrames).
        for (var f = 0; f < 60; f++)
        {
            var x = 1000 + (float)(rng.NextDouble() * 12 - 6);
            if (f % 7 == 3)
            {
                x += (f / 7) % 2 == 0 ? -20 : 20;
            }

            s.Step(Script.Person(x, 700));
        }

        for (var f = 0; f < 40; f++)
        {
            s.Step(Script.Person(1010 + 5 * f, 700));
        }

        var crossed = Assert.Single(s.Events, e => e.Kind == EventKind.LineCrossed);
        Assert.Equal("out", crossed.Direction);
        Assert.Equal(1, tracker.Counts["gate:out"]);
        Assert.Equal(0, tracker.Counts["gate:in"]);
    }

    [Fact]
    public void Passing_beyond_the_end_of_a_line_segment_is_not_a_crossing()
    {
        var s = new Script(new ByteTracker("cam", new TrackOptions(), Geometry()), 30);
        for (var f = 0; f < 100; f++)
        {
            s.Step(Script.Person(800 + 5 * f, 1100, h: 100)); // below the segment's end (y = 1000)
        }

        Assert.DoesNotContain(s.Events, e => e.Kind == EventKind.LineCrossed);
    }

    [Fact]
    public void Periodic_counts_and_updates_are_emitted_when_asked()
    {
        var options = new TrackOptions { CountsIntervalSeconds = 1, UpdateIntervalSeconds = 0.5, ConfirmSeconds = 0 };
        var s = new Script(new ByteTracker("cam", options, Geometry()), 30);
        for (var f = 0; f < 100; f++)
        {
            s.Step(Script.Person(800 + 5 * f, 700));
        }

        var counts = s.Events.Where(e => e.Kind == EventKind.Counts).ToList();
        Assert.Equal(3, counts.Count); // at 1 s, 2 s, 3 s
        Assert.Equal(1, counts[^1].Counts!["gate:out"]);
        Assert.InRange(s.Events.Count(e => e.Kind == EventKind.TrackUpdated), 6, 7);
    }

    [Fact]
    public void Invalid_zone_and_line_configuration_is_rejected_with_the_key_named()
    {
        var options = new TrackOptions();
        options.Cameras["cam"] = new CameraGeometryOptions { Zones = [new ZoneOptions { Name = "z", Points = [new(0, 0), new(1, 1)] }] };
        Assert.Contains("Track:Cameras:cam:Zones:z", Assert.Single(TrackOptions.Validator.Problems(options)), StringComparison.Ordinal);
        options.Cameras["cam"] = new CameraGeometryOptions { Lines = [new LineOptions { Name = "l", From = new(5, 5), To = new(5, 5) }] };
        Assert.Contains("Track:Cameras:cam:Lines:l", Assert.Single(TrackOptions.Validator.Problems(options)), StringComparison.Ordinal);
        Assert.Contains("LowThreshold", Assert.Single(TrackOptions.Validator.Problems(new TrackOptions { LowThreshold = 0.7 })), StringComparison.Ordinal);
    }
}
