using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Testing;

namespace Streaming.Ingest.Tests;

/// <summary>Runtime camera control, watchdog, process ownership and metrics.</summary>
public class RegistryTests
{
    /// <summary>
    /// This test process's ffmpeg children whose command line mentions <paramref name="port"/>, plus any zombie ffmpeg
    /// child at all (a zombie has no command line, and any zombie is a leak). Linux /proc.
    /// </summary>
    private static List<int> FfmpegChildren(int port)
    {
        var needle = ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/";
        var me = Environment.ProcessId;
        var list = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var name = stat[(stat.IndexOf('(') + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                var ppid = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
                if (ppid != me || name != "ffmpeg")
                {
                    continue;
                }

                var zombie = fields[0] == "Z";
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (zombie || cmdline.Contains(needle, StringComparison.Ordinal))
                {
                    list.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }

        return list;
    }

    /// <summary>
    /// Established TCP connections to 127.0.0.1:<paramref name="port"/> (the client side: remote port = the server's),
    /// from /proc/net/tcp: one per camera connected over RTSP/TCP, whatever decodes it.
    /// </summary>
    private static int CameraConnections(int port)
    {
        var remote = ":" + port.ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
        return File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(f => f.Length > 3 && f[2].EndsWith(remote, StringComparison.Ordinal) && f[3] == "01");
    }

    [Fact]
    public async Task A_disabled_camera_closes_its_connection_stays_listed_with_its_configuration_and_streams_again_when_enabled()
    {
        await using var server = await RtspServerFixture.StartNewAsync(mounts: 1);
        await using var ingest = new IngestHarness();
        await ingest.Manager.AddAsync(new CameraOptions { Id = "one", Url = server.Url(1) });
        await ingest.WaitUntilAsync(() => ingest.Camera("one").State == CameraState.Streaming, TimeSpan.FromSeconds(10), "one streaming");
        var feed = ingest.Feed("one");

        Assert.True(await ingest.Manager.SetEnabledAsync("one", enabled: false));
        var disabled = ingest.Camera("one");
        Assert.False(disabled.Enabled);
        Assert.Equal(CameraState.Stopped, disabled.State);
        Assert.True(disabled.FramesDecoded > 0, "a disabled camera keeps its counters");
        await ingest.WaitUntilAsync(() => CameraConnections(server.Port) == 0, TimeSpan.FromSeconds(2), "the disabled camera's connection closed");
        ingest.Drain("one");
        await feed.Reader.Completion.WaitAsync(TimeSpan.FromSeconds(2));
        var draining = await Assert.ThrowsAsync<InvalidOperationException>(() => ingest.Manager.SetEnabledAsync("one", enabled: true));
        Assert.Contains("retry shortly", draining.Message, StringComparison.Ordinal);
        Assert.False(ingest.Camera("one").Enabled);
        ingest.Bus.Remove(feed); // what Detect's reader does with a drained, completed feed
        Assert.True(await ingest.Manager.SetEnabledAsync("one", enabled: false), "disabling a disabled camera is no error");
        var dup = await Assert.ThrowsAsync<ArgumentException>(() => ingest.Manager.AddAsync(new CameraOptions { Id = "one", Url = server.Url(1) }));
        Assert.Contains("already exists", dup.Message, StringComparison.Ordinal);

        Assert.True(await ingest.Manager.SetEnabledAsync("one", enabled: true));
        await ingest.WaitUntilAsync(() => ingest.Camera("one") is { State: CameraState.Streaming, Enabled: true }, TimeSpan.FromSeconds(10), "one streaming again");
        Assert.Equal(1, CameraConnections(server.Port));
        Assert.False(await ingest.Manager.SetEnabledAsync("nobody", enabled: true));

        // A camera added disabled is listed and not started; removing it forgets it.
        await ingest.Manager.AddAsync(new CameraOptions { Id = "two", Url = server.Url(1), Enabled = false });
        Assert.Equal(["one", "two"], ingest.Manager.Snapshot().Select(s => s.Id));
        Assert.Equal(CameraState.Stopped, ingest.Camera("two").State);
        Assert.Equal(1, CameraConnections(server.Port));
        Assert.True(await ingest.Manager.RemoveAsync("two"));
        Assert.Null(ingest.Manager.Get("two"));
    }

    [Fact]
    public async Task Cameras_can_be_added_and_removed_at_runtime_and_removing_one_leaves_no_connection_and_no_ffmpeg_process()
    {
        await using var server = await RtspServerFixture.StartNewAsync(mounts: 2);
        await using var ingest = new IngestHarness();
        await ingest.Manager.AddAsync(new CameraOptions { Id = "one", Url = server.Url(1) });
        await ingest.WaitUntilAsync(() => ingest.Camera("one").State == CameraState.Streaming, TimeSpan.FromSeconds(10), "one streaming");
        await ingest.Manager.AddAsync(new CameraOptions { Id = "two", Url = server.Url(2) });
        await ingest.WaitUntilAsync(() => ingest.Camera("two").State == CameraState.Streaming, TimeSpan.FromSeconds(10), "two streaming");
        Assert.Equal(2, CameraConnections(server.Port));
        Assert.Empty(FfmpegChildren(server.Port)); // decoded in-process
        var dup = await Assert.ThrowsAsync<ArgumentException>(() => ingest.Manager.AddAsync(new CameraOptions { Id = "one", Url = server.Url(2) }));
        Assert.Contains("already exists", dup.Message, StringComparison.Ordinal);

        var feed = ingest.Feed("one");
        Assert.True(await ingest.Manager.RemoveAsync("one"));
        Assert.Null(ingest.Manager.Get("one"));
        Assert.Equal(new[] { "two" }, ingest.Manager.Snapshot().Select(s => s.Id));
        Assert.True(feed.Reader.Completion.IsCompleted || feed.Count > 0, "the removed camera's feed is completed");
        ingest.Drain("one");
        await feed.Reader.Completion.WaitAsync(TimeSpan.FromSeconds(2));
        await ingest.WaitUntilAsync(() => CameraConnections(server.Port) == 1, TimeSpan.FromSeconds(2), "the removed camera's connection closed");
        Assert.False(await ingest.Manager.RemoveAsync("one"));

        var two = ingest.Camera("two").FramesDecoded;
        await ingest.WaitUntilAsync(() => ingest.Camera("two").FramesDecoded > two + 10, TimeSpan.FromSeconds(5), "two keeps streaming");
        await ingest.Manager.StopAllAsync();
        Assert.Equal(0, CameraConnections(server.Port));
        Assert.Empty(FfmpegChildren(server.Port));
        Assert.All(ingest.Manager.Snapshot(), s => Assert.Equal(CameraState.Stopped, s.State));
    }

    [Fact]
    public async Task A_camera_whose_server_accepts_but_never_sends_is_restarted_by_the_watchdog_after_WatchdogSeconds_of_the_clock_and_never_blocks_shutdown()
    {
        await using var silent = new SilentTcpServer();
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var options = new IngestOptions { WatchdogSeconds = 2, SocketTimeoutSeconds = 60, OpenTimeoutSeconds = 60 };
        await using var ingest = new IngestHarness(options, time: time);
        await ingest.Manager.AddAsync(new CameraOptions { Id = "mute", Url = $"rtsp://127.0.0.1:{silent.Port}/cam1" });
        await ingest.WaitUntilAsync(() => silent.Accepted >= 1 && ingest.Camera("mute").State == CameraState.Connecting, TimeSpan.FromSeconds(10), "the camera connecting");

        // 1.9 s of the clock pass, in the watchdog's own steps: no restart yet, however long that takes in real time.
        for (var i = 0; i < 19; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        await Task.Delay(300);
        Assert.Equal(0, ingest.Camera("mute").Reconnects);
        Assert.Equal(CameraState.Connecting, ingest.Camera("mute").State);

        // Past 2 s: the watchdog aborts the connection and the camera goes into backoff, naming why.
        time.Advance(TimeSpan.FromMilliseconds(600));
        await ingest.WaitUntilAsync(() => ingest.Camera("mute").Reconnects >= 1, TimeSpan.FromSeconds(10), "a watchdog restart");
        var status = ingest.Camera("mute");
        Assert.Equal(CameraState.Backoff, status.State);
        Assert.Contains("no frame for 2", status.LastError, StringComparison.Ordinal);
        Assert.Contains("watchdog", status.LastError, StringComparison.Ordinal);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await ingest.Manager.StopAllAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"shutdown took {clock.Elapsed}");
        Assert.Empty(FfmpegChildren(silent.Port));
    }

    [Fact]
    public async Task Metrics_report_frames_reconnects_and_state_per_camera()
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        await using var _ = services;
        var bus = new FrameBus(2);
        var manager = new CameraManager(bus, null, Options.Create(new IngestOptions()), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
            services.GetRequiredService<IMeterFactory>(), TimeProvider.System, new FrameBufferPool(), Options.Create(new ClipOptions()));
        await using var __ = manager;
        await manager.AddAsync(new CameraOptions { Id = "m", Url = RepoPaths.Sample("test_360p.mp4"), Loop = true });
        await manager.AddAsync(new CameraOptions { Id = "down", Url = $"rtsp://127.0.0.1:{FreePort.Next()}/x" });
        var deadline = DateTime.UtcNow.AddSeconds(8);
        while ((manager.Get("m")!.FramesDecoded < 5 || manager.Get("down")!.Reconnects < 1) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var seen = new Dictionary<(string, string), double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Telemetry.IngestMeter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var t in tags)
            {
                if (t.Key == Telemetry.CameraTag)
                {
                    seen[(i.Name, (string)t.Value!)] = v;
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.True(seen[("stream.ingest.frames", "m")] >= 5);
        Assert.True(seen[("stream.ingest.reconnects", "down")] >= 1);
        Assert.True(seen.ContainsKey(("stream.ingest.dropped", "m")));
        Assert.Equal((int)CameraState.Streaming, seen[("stream.ingest.camera_state", "m")]);
        Assert.Contains(seen[("stream.ingest.camera_state", "down")], new double[] { (int)CameraState.Backoff, (int)CameraState.Connecting });
        while (bus.Feeds.Single(f => f.CameraId == "m").Reader.TryRead(out var f))
        {
            f.Dispose();
        }
    }
}
