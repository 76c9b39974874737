using Streaming.Core;
using Streaming.Sink;

namespace Streaming.Sink.Tests;

/// <summary>Issue 11: a frame key names the camera run, so a restarted camera never overwrites a picture an earlier event points to.</summary>
public class FrameKeyEpochTests
{
    [Fact]
    public void An_events_frame_key_names_its_camera_run_and_the_event_names_the_worker()
    {
        var e = new PipelineEvent { Kind = EventKind.TrackStarted, CameraId = "dock-1", Time = DateTimeOffset.UnixEpoch, FrameSequence = 7, TrackId = 1, Epoch = 1_790_000_000_123 };
        var message = EventMessage.From(e, "frame", "w2");
        Assert.Equal("frame:dock-1:1790000000123:7", message.FrameKey);
        Assert.Equal("w2", message.Worker);
        Assert.Equal(1_790_000_000_123, message.Epoch);

        // Without an epoch (no run known) the key and the JSON stay as before: no worker, no epoch field.
        var old = EventMessage.From(e with { Epoch = null }, "frame");
        Assert.Equal("frame:dock-1:7", old.FrameKey);
        var json = System.Text.Encoding.UTF8.GetString(old.ToUtf8());
        Assert.DoesNotContain("\"epoch\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"worker\"", json, StringComparison.Ordinal);
    }
}
