using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

/// <summary>
/// Issue 23, section 3: a camera's entry says what it tracks (Objects, per class score and size limits) and where its
/// zones apply, by the model's own class names; Track, events and labels follow it.
/// </summary>
public sealed class CameraObjectsTests
{
    // A model with its own labels (not COCO): class 0 "worker", 1 "forklift", 2 "pallet".
    private static readonly string[] Labels = ["worker", "forklift", "pallet"];

    [Fact]
    public async Task A_camera_alerts_only_on_the_classes_it_tracks_within_their_limits_and_names_them_by_the_models_labels()
    {
        var camera = new CameraOptions
        {
            Id = "dock", Url = "rtsp://h/p",
            Objects = new ObjectsOptions
            {
                Track = ["worker", "forklift"],
                // A forklift smaller than 1 % of the picture is a toy, or a misdetection.
                Filters = { ["forklift"] = new ObjectFilterOptions { MinArea = 0.01, MinScore = 0.7 } },
            },
            Zones = [new ZoneOptions { Name = "aisle", Points = [new(0, 0), new(1000, 0), new(1000, 1000), new(0, 1000)], Objects = ["forklift"] }],
        };

        // Per frame: a worker walking, a pallet (not tracked), a big forklift, and a tiny "forklift" (below MinArea).
        var events = await RunAsync(camera, f =>
        [
            new Detection(BoxF.FromXywh(100 + f, 100, 40, 100), 0.9f, 0),
            new Detection(BoxF.FromXywh(500, 500, 60, 60), 0.9f, 2),
            new Detection(BoxF.FromXywh(300 + f, 300, 200, 150), 0.9f, 1),
            new Detection(BoxF.FromXywh(800, 50, 10, 10), 0.95f, 1),
        ]);

        var started = events.Where(e => e.Kind == EventKind.TrackStarted).ToList();
        Assert.Equal(["forklift", "worker"], started.Select(e => e.Label!).Order());

        // The zone narrows to forklifts: the worker walks through it too, but only the forklift enters.
        Assert.Equal(["forklift"], events.Where(e => e.Kind == EventKind.ZoneEntered).Select(e => e.Label!));
    }

    [Fact]
    public async Task A_class_name_the_model_does_not_have_matches_nothing_and_is_named_once()
    {
        var logger = new TypedLogger(new Streaming.Testing.ListLogger());
        var camera = new CameraOptions { Id = "dock", Url = "rtsp://h/p", Objects = new ObjectsOptions { Track = ["persn"] } };
        var events = await RunAsync(camera, f => [new Detection(BoxF.FromXywh(100 + f, 100, 40, 100), 0.9f, 0)], logger);

        Assert.DoesNotContain(events, e => e.Kind == EventKind.TrackStarted);
        var line = Assert.Single(logger.Inner.Lines, l => l.Message.Contains("persn", StringComparison.Ordinal)).Message;
        Assert.Contains("use one of its labels (worker, forklift, pallet)", line, StringComparison.Ordinal);
    }

    private static async Task<List<PipelineEvent>> RunAsync(CameraOptions camera, Func<int, Detection[]> detections, Microsoft.Extensions.Logging.ILogger<TrackService>? logger = null)
    {
        var input = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var output = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false });
        var labels = new ModelLabels();
        labels.Publish(Labels);
        using var service = new TrackService(input.Reader, output.Writer, Options.Create(new TrackOptions { QueuePerCamera = 4 }),
            logger ?? NullLogger<TrackService>.Instance, new StandaloneMeterFactory(), FrameBufferPool.Shared, labels);
        await service.StartAsync(CancellationToken.None);
        var t0 = DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000);
        var producer = Task.Run(async () =>
        {
            for (var f = 0; f < 30; f++)
            {
                var frame = Frame.Rent(camera.Id, f, 1280, 720, t0 + TimeSpan.FromSeconds(f / 10.0), isLive: false);
                frame.Epoch = t0.ToUnixTimeMilliseconds();
                frame.Camera = camera;
                await input.Writer.WriteAsync(new DetectedFrame(frame, detections(f)));
            }

            input.Writer.Complete();
        });

        return await TrackedOutput.EventsAsync(output.Reader, producer, service);
    }

    private sealed class TypedLogger(Streaming.Testing.ListLogger inner) : Microsoft.Extensions.Logging.ILogger<TrackService>
    {
        public Streaming.Testing.ListLogger Inner { get; } = inner;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
