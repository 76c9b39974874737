using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

/// <summary>Issue 11: track ids never repeat for a camera across its runs (restarts, moves), and a moved camera's tracks end "moved".</summary>
public class CameraRunTests
{
    [Fact]
    public async Task A_new_run_of_a_camera_ends_the_old_runs_tracks_with_the_noted_reason_and_starts_its_track_ids_from_its_epoch()
    {
        var input = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var output = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false });
        var reasons = new CameraStopReasons();
        using var service = new TrackService(input.Reader, output.Writer, Options.Create(new TrackOptions { QueuePerCamera = 4 }),
            NullLogger<TrackService>.Instance, new StandaloneMeterFactory(), FrameBufferPool.Shared, new ModelLabels(), reasons);
        await service.StartAsync(CancellationToken.None);

        const long firstRun = 1_790_000_000_000;
        const long secondRun = firstRun + 60_000;
        var t0 = DateTimeOffset.FromUnixTimeMilliseconds(firstRun);
        var producer = Task.Run(async () =>
        {
            // The same person in both runs; each run's frame sequence starts at 0 again.
            foreach (var (epoch, start) in new[] { (firstRun, t0), (secondRun, t0.AddMinutes(1)) })
            {
                if (epoch == secondRun)
                {
                    reasons.Set("cam", "moved");
                }

                for (var f = 0; f < 30; f++)
                {
                    var frame = Frame.Rent("cam", f, 8, 8, start + TimeSpan.FromSeconds(f / 25.0), isLive: false);
                    frame.Epoch = epoch;
                    await input.Writer.WriteAsync(new DetectedFrame(frame, [new Detection(BoxF.FromXywh(100 + f, 100, 40, 100), 0.9f, 0)]));
                }
            }

            input.Writer.Complete();
        });

        var events = await TrackedOutput.EventsAsync(output.Reader, producer, service);

        var started = events.Where(e => e.Kind == EventKind.TrackStarted).ToList();
        Assert.Equal(2, started.Count);
        Assert.Equal([(firstRun * 1000) + 1, (secondRun * 1000) + 1], started.Select(e => e.TrackId!.Value));
        Assert.Equal([firstRun, secondRun], started.Select(e => e.Epoch!.Value));

        var ended = events.Where(e => e.Kind == EventKind.TrackEnded).ToList();
        Assert.Equal([("moved", firstRun), ("shutdown", secondRun)], ended.Select(e => (e.Reason!, e.Epoch!.Value)));
        Assert.Equal(started.Select(e => e.TrackId), ended.Select(e => e.TrackId));
    }

    [Fact]
    public async Task Zones_in_a_cameras_own_entry_apply_to_the_runs_that_carry_it_in_place_of_its_Track_Cameras_entry()
    {
        static CameraGeometryOptions Everywhere(string name) => new()
        {
            Zones = [new ZoneOptions { Name = name, Points = [new(0, 0), new(10_000, 0), new(10_000, 10_000), new(0, 10_000)] }],
        };

        var input = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var output = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false });
        var options = new TrackOptions { QueuePerCamera = 4, Cameras = { ["cam"] = Everywhere("from-config") } };
        using var service = new TrackService(input.Reader, output.Writer, Options.Create(options), NullLogger<TrackService>.Instance, new StandaloneMeterFactory(), FrameBufferPool.Shared, new ModelLabels());
        await service.StartAsync(CancellationToken.None);

        const long firstRun = 1_790_000_000_000;
        const long secondRun = firstRun + 60_000;
        const long thirdRun = secondRun + 60_000;
        var t0 = DateTimeOffset.FromUnixTimeMilliseconds(firstRun);
        var producer = Task.Run(async () =>
        {
            foreach (var (epoch, start) in new[] { (firstRun, t0), (secondRun, t0.AddMinutes(1)), (thirdRun, t0.AddMinutes(2)) })
            {
                // The second run's frames carry a camera entry with a zone of its own (as ingest stamps them); the third's an entry without.
                var entry = new CameraOptions { Id = "cam", Url = "rtsp://h/p" };
                if (epoch == secondRun)
                {
                    entry.Zones = Everywhere("from-entry").Zones;
                }

                for (var f = 0; f < 30; f++)
                {
                    var frame = Frame.Rent("cam", f, 8, 8, start + TimeSpan.FromSeconds(f / 25.0), isLive: false);
                    frame.Epoch = epoch;
                    frame.Camera = entry;
                    await input.Writer.WriteAsync(new DetectedFrame(frame, [new Detection(BoxF.FromXywh(100 + f, 100, 40, 100), 0.9f, 0)]));
                }
            }

            input.Writer.Complete();
        });

        var events = await TrackedOutput.EventsAsync(output.Reader, producer, service);

        Assert.Equal([("from-config", firstRun), ("from-entry", secondRun), ("from-config", thirdRun)],
            events.Where(e => e.Kind == EventKind.ZoneEntered).Select(e => (e.Zone!, e.Epoch!.Value)));
    }
}
