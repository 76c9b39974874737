using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

/// <summary>Issue 23, section 2: one alert per real object.</summary>
public class AlertTests
{
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
}
