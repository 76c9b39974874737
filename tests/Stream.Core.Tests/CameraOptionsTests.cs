using System.Collections;
using System.Reflection;
using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class CameraOptionsTests
{
    [Fact]
    public void A_cloned_camera_keeps_every_setting_zones_lines_and_objects_included_in_lists_of_its_own()
    {
        var camera = new CameraOptions
        {
            Id = "gate", Url = "rtsp://h/p", MaxFps = 5, Width = 640, Height = 360, Loop = true, Pacing = FilePacing.Full,
            HwAccel = "cuda", Enabled = false, SkipFrames = SkipFrames.NonRef, Gate = GateMode.Motion, MotionMasks = ["0,0,1,0,1,1"],
            Zones = [new ZoneOptions { Name = "bay", Points = [new(0, 0), new(1, 0), new(1, 1)] }],
            Lines = [new LineOptions { Name = "door", From = new(0, 0), To = new(1, 1) }],
            Objects = new ObjectsOptions { Track = ["person"], Filters = { ["person"] = new ObjectFilterOptions { MinScore = 0.4 } } },
        };

        var copy = camera.Clone();

        // Every public settable property: a property added later and forgotten in Clone fails here.
        foreach (var property in typeof(CameraOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var (a, b) = (property.GetValue(camera), property.GetValue(copy));
            if (a is ObjectsOptions objects)
            {
                Assert.Equal(objects.Track, ((ObjectsOptions)b!).Track);
                Assert.Equal(objects.Filters, ((ObjectsOptions)b!).Filters);
                Assert.NotSame(objects.Track, ((ObjectsOptions)b!).Track);
            }
            else if (a is IEnumerable list and not string)
            {
                Assert.Equal(list.Cast<object>(), ((IEnumerable)b!).Cast<object>());
                Assert.NotSame(a, b);
            }
            else
            {
                Assert.Equal(a, b);
            }
        }
    }

    [Fact]
    public void A_recordings_frame_is_on_its_media_time_from_the_runs_start_and_a_live_frame_on_its_capture_time()
    {
        var epoch = DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000);
        using var recorded = Frame.Rent("rec", 7, 2, 2, epoch + TimeSpan.FromMinutes(3), pts: TimeSpan.FromSeconds(1), isLive: false);
        recorded.Epoch = epoch.ToUnixTimeMilliseconds();
        using var live = Frame.Rent("cam", 7, 2, 2, epoch + TimeSpan.FromMinutes(3));
        live.Epoch = epoch.ToUnixTimeMilliseconds();

        // Decoded three minutes into the run (at full speed, or late), the recording's frame is still 1 s in.
        Assert.Equal(epoch + TimeSpan.FromSeconds(1), recorded.MediaTime);
        Assert.Equal(epoch + TimeSpan.FromMinutes(3), live.MediaTime);
    }
}
