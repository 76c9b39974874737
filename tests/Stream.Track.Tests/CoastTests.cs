using Streaming.Core;

namespace Streaming.Track.Tests;

public class CoastTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch;

    private static DateTimeOffset At(int frame) => T0 + TimeSpan.FromSeconds(frame * 0.1);

    private static (ByteTracker Tracker, long Id) ConfirmedCarMoving(List<PipelineEvent> events)
    {
        var tracker = new ByteTracker("cam", new TrackOptions { LostBufferSeconds = 1.5 });
        var tracks = new List<TrackedObject>();
        for (var f = 0; f < 10; f++)
        {
            tracks.Clear();
            tracker.Update([Car(f)], At(f), f, tracks, events);
        }

        return (tracker, Assert.Single(tracks).TrackId);
    }

    /// <summary>A car 60 px wide moving right by 2 px a frame.</summary>
    private static Detection Car(int frame) => new(new BoxF(100 + (2 * frame), 100, 160 + (2 * frame), 140), 0.9f, 2);

    [Fact]
    public void Tracks_coast_on_uninferred_frames_without_counting_as_missed()
    {
        var events = new List<PipelineEvent>();
        var (tracker, id) = ConfirmedCarMoving(events);
        var tracks = new List<TrackedObject>();

        // 5 s of gated frames, far beyond the 1.5 s lost buffer: the track stays confirmed and follows its prediction.
        for (var f = 10; f < 60; f++)
        {
            tracks.Clear();
            tracker.Coast(At(f), tracks, events);
            var track = Assert.Single(tracks);
            Assert.Equal(TrackState.Confirmed, track.State);
            Assert.Equal(id, track.TrackId);
        }

        Assert.InRange(tracks[0].Box.CenterX, 130 + (2 * 59) - 15, 130 + (2 * 59) + 15);
        Assert.DoesNotContain(events, e => e.Kind == EventKind.TrackEnded);

        // The next inferred frame finds the car where the prediction put it: the same track.
        tracks.Clear();
        tracker.Update([Car(60)], At(60), 60, tracks, events);
        Assert.Equal(id, Assert.Single(tracks).TrackId);
    }

    [Fact]
    public void The_same_time_of_inferred_frames_without_the_car_ends_the_track()
    {
        var events = new List<PipelineEvent>();
        var (tracker, _) = ConfirmedCarMoving(events);
        for (var f = 10; f < 60; f++)
        {
            tracker.Update([], At(f), f, null, events);
        }

        Assert.Contains(events, e => e.Kind == EventKind.TrackEnded);
    }

    [Fact]
    public void A_lost_track_ages_only_on_inferred_frames()
    {
        var events = new List<PipelineEvent>();
        var (tracker, id) = ConfirmedCarMoving(events);
        var tracks = new List<TrackedObject>();

        // Missed on 5 inferred frames (0.5 s), then 3 s gated, then missed on 5 more: 1.0 s of inferred misses < 1.5 s.
        for (var f = 10; f < 15; f++)
        {
            tracker.Update([], At(f), f, null, events);
        }

        for (var f = 15; f < 45; f++)
        {
            tracker.Coast(At(f), null, events);
        }

        for (var f = 45; f < 50; f++)
        {
            tracker.Update([], At(f), f, null, events);
        }

        Assert.DoesNotContain(events, e => e.Kind == EventKind.TrackEnded);
        tracker.Update([Car(50)], At(50), 50, tracks, events);
        Assert.Equal(id, Assert.Single(tracks).TrackId);
    }
}
