using Microsoft.Extensions.Time.Testing;
using Streaming.Core;

namespace Streaming.Detect.Tests;

public class MotionGateTests
{
    private static readonly FrameMotion Still = new(0, false);
    private static readonly FrameMotion Moving = new(0.1f, true);
    private readonly FakeTimeProvider _time = new();

    /// <summary>Frames at 5 fps for <paramref name="seconds"/>: which of them the gate lets the model see.</summary>
    private List<bool> Run(MotionGate gate, double seconds, FrameMotion motion)
    {
        var decisions = new List<bool>();
        for (var t = 0; t < seconds * 5; t++)
        {
            decisions.Add(gate.ShouldInfer("cam", motion));
            _time.Advance(TimeSpan.FromMilliseconds(200));
        }

        return decisions;
    }

    [Fact]
    public void Without_motion_a_camera_is_inferred_once_per_refresh_interval()
    {
        var gate = new MotionGate(new MotionOptions { RefreshSeconds = 1, HoldSeconds = 1 }, _time);
        var decisions = Run(gate, 3, Still);
        Assert.Equal([true, false, false, false, false, true, false, false, false, false, true, false, false, false, false], decisions);
    }

    [Fact]
    public void Motion_is_inferred_and_the_gate_holds_open_for_the_hold_time_after_it()
    {
        var gate = new MotionGate(new MotionOptions { RefreshSeconds = 2, HoldSeconds = 0.5 }, _time);
        var moving = Run(gate, 1, Moving);
        var after = Run(gate, 2, Still);
        Assert.All(moving, Assert.True);
        // 0.5 s of hold after the last moving frame (0.8 s): frames at 1.0 and 1.2 s; then nothing until 2 s after the last inferred one.
        Assert.Equal([true, true, false, false, false, false, false, false, false, false], after);
    }

    [Fact]
    public void A_camera_without_a_motion_measurement_is_always_inferred()
    {
        var gate = new MotionGate(new MotionOptions(), _time);
        for (var i = 0; i < 20; i++)
        {
            Assert.True(gate.ShouldInfer("ungated", null));
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }
    }

    [Fact]
    public void Detections_that_move_keep_the_gate_open_without_pixel_motion()
    {
        var gate = new MotionGate(new MotionOptions { RefreshSeconds = 5, HoldSeconds = 1 }, _time);
        var there = new Detection(new BoxF(100, 100, 150, 200), 0.9f, 0);
        Assert.True(gate.ShouldInfer("cam", Still)); // 0 s: the first look
        gate.Observe("cam", [there]);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.True(gate.ShouldInfer("cam", Still)); // 0.2 s: held open for an object seen for the first time
        gate.Observe("cam", [there]); // in the same place: neither new nor moved
        _time.Advance(TimeSpan.FromMilliseconds(1000));
        Assert.False(gate.ShouldInfer("cam", Still)); // 1.2 s: the hold is over, nothing moved

        _time.Advance(TimeSpan.FromMilliseconds(4000));
        Assert.True(gate.ShouldInfer("cam", Still)); // 5.2 s: refresh look
        gate.Observe("cam", [new Detection(new BoxF(110, 100, 160, 200), 0.9f, 0)]); // 10 px of 100: moved
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.True(gate.ShouldInfer("cam", Still));
        gate.Observe("cam", [new Detection(new BoxF(110, 100, 160, 200), 0.9f, 0)]); // stopped
        _time.Advance(TimeSpan.FromMilliseconds(1200));
        Assert.False(gate.ShouldInfer("cam", Still));
    }

    [Fact]
    public void A_new_object_first_seen_on_a_refresh_look_keeps_the_gate_open_so_that_the_tracker_sees_it_again()
    {
        // A pedestrian 20-40 px tall, too small for the motion detector, walks into an empty scene.
        var gate = new MotionGate(new MotionOptions { RefreshSeconds = 5, HoldSeconds = 0.5 }, _time);
        Assert.True(gate.ShouldInfer("cam", Still));
        gate.Observe("cam", []); // the empty scene
        _time.Advance(TimeSpan.FromMilliseconds(200));
        var between = Run(gate, 4.8, Still); // 0.2-4.8 s
        Assert.All(between, Assert.False);

        Assert.True(gate.ShouldInfer("cam", Still)); // 5 s: refresh look, the pedestrian is there
        gate.Observe("cam", [new Detection(new BoxF(40, 300, 52, 336), 0.66f, 0)]);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal([true, true, false], Run(gate, 0.6, Still)); // 0.5 s held open, then closed again

        // A detection too unsure to count (score under 0.5) does not open it.
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(gate.ShouldInfer("cam", Still));
        gate.Observe("cam", [new Detection(new BoxF(400, 300, 412, 336), 0.3f, 0)]);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.False(gate.ShouldInfer("cam", Still));
    }
}
