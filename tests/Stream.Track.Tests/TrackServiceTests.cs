using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

public class TrackServiceTests
{
    [Fact]
    public async Task Parallel_per_camera_processing_keeps_each_cameras_order_and_isolation()
    {
        var input = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var output = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false });
        using var service = new TrackService(input.Reader, output.Writer, Options.Create(new TrackOptions { QueuePerCamera = 4 }), NullLogger<TrackService>.Instance, new StandaloneMeterFactory(), FrameBufferPool.Shared, new ModelLabels());
        await service.StartAsync(CancellationToken.None);

        string[] cameras = ["a", "b", "c"];
        const int frames = 150;
        var t0 = DateTimeOffset.UnixEpoch;
        var producer = Task.Run(async () =>
        {
            for (var f = 0; f < frames; f++)
            {
                foreach (var cam in cameras)
                {
                    // Camera "a" sees a person walking; "b" sees a car standing; "c" sees nothing.
                    Detection[] dets = cam switch
                    {
                        "a" => [new Detection(BoxF.FromXywh(100 + 2 * f, 100, 40, 100), 0.9f, 0)],
                        "b" => [new Detection(BoxF.FromXywh(100, 100, 40, 100), 0.9f, 2)],
                        _ => [],
                    };
                    var frame = Frame.Rent(cam, f, 8, 8, t0 + TimeSpan.FromSeconds(f / 25.0), isLive: false);
                    await input.Writer.WriteAsync(new DetectedFrame(frame, dets));
                }
            }

            input.Writer.Complete();
        });

        var seen = cameras.ToDictionary(c => c, _ => new List<TrackedFrame>());
        await foreach (var tracked in output.Reader.ReadAllAsync())
        {
            seen[tracked.Frame.CameraId].Add(tracked);
        }

        await producer;
        await service.StopAsync(CancellationToken.None);

        foreach (var cam in cameras)
        {
            var list = seen[cam];
            var pictures = list.Where(t => t.Frame.Width == 8).ToList();
            Assert.Equal(Enumerable.Range(0, frames).Select(i => (long)i), pictures.Select(t => t.Frame.Sequence));
            Assert.All(pictures, t => Assert.NotEqual(0, t.Frame.TrackedTimestamp));
        }

        Assert.All(seen["a"].SelectMany(t => t.Tracks), t => Assert.Equal(0, t.ClassId));
        Assert.Single(seen["a"].SelectMany(t => t.Tracks).Select(t => t.TrackId).Distinct());
        Assert.All(seen["b"].SelectMany(t => t.Tracks), t => Assert.Equal(2, t.ClassId));
        Assert.Empty(seen["c"].SelectMany(t => t.Tracks));

        // At final drain each camera's open track ends, on a carrier frame after the last picture.
        var endA = Assert.Single(seen["a"].SelectMany(t => t.Events), e => e.Kind == EventKind.TrackEnded);
        Assert.Equal("shutdown", endA.Reason);
        Assert.Equal("a", endA.CameraId);
        Assert.False(seen["a"][^1].KeepFrame);
        Assert.Empty(seen["c"].SelectMany(t => t.Events));

        foreach (var t in seen.Values.SelectMany(v => v))
        {
            t.Dispose();
        }
    }

    [Fact]
    public async Task A_stalled_sink_does_not_hang_shutdown_and_queued_frames_are_released()
    {
        var input = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var output = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false });
        using var service = new TrackService(input.Reader, output.Writer, Options.Create(new TrackOptions { QueuePerCamera = 2 }), NullLogger<TrackService>.Instance, new StandaloneMeterFactory(), FrameBufferPool.Shared, new ModelLabels());
        await service.StartAsync(CancellationToken.None);
        var frames = new List<Frame>();
        for (var f = 0; f < 20; f++)
        {
            var frame = Frame.Rent("cam", f, 8, 8, DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds(f / 25.0), isLive: false);
            frames.Add(frame);
            await input.Writer.WriteAsync(new DetectedFrame(frame, [new Detection(BoxF.FromXywh(10, 10, 4, 8), 0.9f, 0)]));
        }

        input.Writer.Complete();
        Assert.True(await output.Reader.WaitToReadAsync()); // the sink's queue is full from here on: the stage is stuck
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var stop = service.StopAsync(timeout.Token);
        Assert.Same(stop, await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(10))));

        // Whatever the sink did not take has been released; the one frame in the output channel is the sink's to dispose.
        Assert.True(output.Reader.TryRead(out var delivered));
        Assert.Equal(frames.Count - 1, frames.Count(f => f.IsDisposed));
        delivered.Dispose();
        Assert.True(output.Reader.Completion.IsCompleted || !output.Reader.TryRead(out _));
    }

    [Fact]
    public async Task The_stage_reports_active_tracks_events_by_kind_and_update_time_per_camera()
    {
        var measurements = new ConcurrentBag<(string Instrument, double Value, string? Camera, string? Kind)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Telemetry.TrackMeter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? camera = null, kind = null;
            foreach (var tag in tags)
            {
                if (tag.Key == Telemetry.CameraTag)
                {
                    camera = tag.Value as string;
                }
                else if (tag.Key == "kind")
                {
                    kind = tag.Value as string;
                }
            }

            measurements.Add((instrument.Name, value, camera, kind));
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        var input = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var output = Channel.CreateUnbounded<TrackedFrame>();
        using var service = new TrackService(input.Reader, output.Writer, Options.Create(new TrackOptions { EndTracksOnDrain = false, ConfirmSeconds = 0 }), NullLogger<TrackService>.Instance, new StandaloneMeterFactory(), FrameBufferPool.Shared, new ModelLabels());
        await service.StartAsync(CancellationToken.None);
        for (var f = 0; f < 10; f++)
        {
            var frame = Frame.Rent("m1", f, 8, 8, DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds(f / 25.0), isLive: false);
            await input.Writer.WriteAsync(new DetectedFrame(frame, [new Detection(BoxF.FromXywh(10, 10, 4, 8), 0.9f, 0), new Detection(BoxF.FromXywh(60, 10, 4, 8), 0.9f, 0)]));
        }

        for (var f = 0; f < 10; f++)
        {
            var tracked = await output.Reader.ReadAsync();
            tracked.Dispose();
        }

        listener.RecordObservableInstruments();
        input.Writer.Complete();
        await service.StopAsync(CancellationToken.None);

        Assert.Contains(measurements, m => m.Instrument == "stream.track.active_tracks" && m.Camera == "m1" && m.Value == 2);
        Assert.Equal(2, measurements.Count(m => m.Instrument == "stream.track.events" && m.Kind == "TrackStarted" && m.Camera == "m1"));
        Assert.Equal(10, measurements.Count(m => m.Instrument == "stream.track.update_duration" && m.Camera == "m1" && m.Value > 0));
    }

    [Fact]
    public async Task A_camera_that_goes_quiet_has_its_open_tracks_ended_as_idle()
    {
        var input = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var output = Channel.CreateUnbounded<TrackedFrame>();
        using var service = new TrackService(input.Reader, output.Writer, Options.Create(new TrackOptions { IdleEndSeconds = 0.3, ConfirmSeconds = 0 }), NullLogger<TrackService>.Instance, new StandaloneMeterFactory(), FrameBufferPool.Shared, new ModelLabels());
        await service.StartAsync(CancellationToken.None);
        for (var f = 0; f < 5; f++)
        {
            var frame = Frame.Rent("q", f, 8, 8, DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds(f / 25.0), isLive: true);
            await input.Writer.WriteAsync(new DetectedFrame(frame, [new Detection(BoxF.FromXywh(10, 10, 4, 8), 0.9f, 0)]));
        }

        // No more frames, input still open: the track ends by itself.
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        PipelineEvent? ended = null;
        while (ended is null)
        {
            using var tracked = await output.Reader.ReadAsync(wait.Token);
            ended = tracked.Events.FirstOrDefault(e => e.Kind == EventKind.TrackEnded);
            if (ended is not null)
            {
                Assert.Empty(tracked.Tracks);
                Assert.False(tracked.KeepFrame);
            }
        }

        Assert.Equal("idle", ended.Reason);
        Assert.Equal("q", ended.CameraId);

        input.Writer.Complete();
        var rest = new List<TrackedFrame>();
        await foreach (var t in output.Reader.ReadAllAsync())
        {
            rest.Add(t);
            t.Dispose();
        }

        Assert.DoesNotContain(rest.SelectMany(t => t.Events), e => e.Kind == EventKind.TrackEnded);
        await service.StopAsync(CancellationToken.None);
    }
}
