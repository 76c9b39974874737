using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Ingest.Tests;

/// <summary>A real <see cref="CameraManager"/> over a real frame bus, as the host wires it.</summary>
internal sealed class IngestHarness : IAsyncDisposable
{
    /// <param name="clips">Event clips' settings (clip buffers kept by the cameras); null: clips off.</param>
    public IngestHarness(IngestOptions? options = null, int capacityPerCamera = 4, TimeProvider? time = null, ClipOptions? clips = null)
    {
        Bus = new FrameBus(capacityPerCamera);
        Status = Channel.CreateUnbounded<CameraStatusChange>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
        Manager = new CameraManager(Bus, Status.Writer, Options.Create(options ?? new IngestOptions()), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            _meters, time ?? TimeProvider.System, Pool, Options.Create(clips ?? new ClipOptions { Enabled = false }));
    }

    private readonly StandaloneMeterFactory _meters = new();

    public FrameBus Bus { get; }

    /// <summary>This harness's own pixel pool: empty again once the cameras stopped and their queued frames were drained.</summary>
    public FrameBufferPool Pool { get; } = new();

    public Channel<CameraStatusChange> Status { get; }

    public CameraManager Manager { get; }

    public CameraFeed Feed(string id) => Bus.Feeds.Single(f => f.CameraId == id);

    public CameraStatus Camera(string id) => Manager.Get(id) ?? throw new InvalidOperationException($"no camera {id}");

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> and the cameras' states.</summary>
    public async Task<TimeSpan> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                var states = string.Join("; ", Manager.Snapshot().Select(s => $"{s.Id}={s.State} decoded={s.FramesDecoded} error={s.LastError}"));
                Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting for {what} ({states})");
            }

            await Task.Delay(20);
        }

        return clock.Elapsed;
    }

    /// <summary>Drains every frame queued for a camera (disposing them) and returns how many there were.</summary>
    public int Drain(string id)
    {
        var n = 0;
        foreach (var feed in Bus.Feeds.Where(f => f.CameraId == id))
        {
            while (feed.Reader.TryRead(out var frame))
            {
                frame.Dispose();
                n++;
            }
        }

        return n;
    }

    public async ValueTask DisposeAsync()
    {
        await Manager.DisposeAsync();
        _meters.Dispose();
        foreach (var feed in Bus.Feeds)
        {
            while (feed.Reader.TryRead(out var frame))
            {
                frame.Dispose();
            }
        }

        Assert.True(Pool.OutstandingCount == 0, $"{Pool.OutstandingCount} frame buffer(s) still rented after the cameras stopped: a frame was not disposed");
    }
}
