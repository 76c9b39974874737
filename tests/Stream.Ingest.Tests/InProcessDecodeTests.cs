using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Testing;

namespace Streaming.Ingest.Tests;

/// <summary>
/// Issue 18, "decode only what is used": network cameras decoded in-process (transport auto, timeouts), frames dropped
/// for MaxFps never converted, and the decoder's skip options, against real streams and files.
/// </summary>
public class InProcessDecodeTests
{
    [Fact]
    public async Task A_camera_with_the_default_transport_streams_from_a_server_that_serves_rtp_over_udp_only()
    {
        Assert.Equal("auto", new IngestOptions().RtspTransport);
        await using var server = await RtspServerFixture.StartNewAsync(mounts: 1, RtspProtocols.Udp);
        var camera = new CameraOptions { Id = "udp-only", Url = server.Url(1) };
        var log = new ListLogger();
        using var source = FrameSources.Create(camera, new IngestOptions(), logger: log);
        var inProcess = Assert.IsType<CaptureFrameSource>(source);
        source.Open(CancellationToken.None);
        Assert.Equal("udp", inProcess.Transport);
        Assert.Equal(RtspServerFixture.ClipSize, (source.Width, source.Height));
        for (var i = 0; i < 10; i++)
        {
            using var frame = source.Read(camera.Id, i, live: true, CancellationToken.None);
            Assert.NotNull(frame);
            Assert.Equal(RtspServerFixture.ClipSize, (frame.Image.Width, frame.Image.Height));
        }

        var fellBack = Assert.Single(log.Lines, l => l.EventId == 2014);
        Assert.Contains("refused RTSP over TCP (461 Unsupported transport); streaming over UDP", fellBack.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_transport_forced_to_tcp_a_udp_only_camera_goes_to_backoff_with_a_line_naming_the_transport_and_the_fix()
    {
        await using var server = await RtspServerFixture.StartNewAsync(mounts: 1, RtspProtocols.Udp);
        await using var ingest = new IngestHarness(new IngestOptions { RtspTransport = "tcp" });
        await ingest.Manager.AddAsync(new CameraOptions { Id = "tcp-forced", Url = server.Url(1, "admin:secret") });
        await ingest.WaitUntilAsync(() => ingest.Camera("tcp-forced") is { State: CameraState.Backoff, LastError: not null }, TimeSpan.FromSeconds(10), "a failed attempt");
        var error = ingest.Camera("tcp-forced").LastError;
        Assert.NotNull(error);
        Assert.Contains("refused RTSP over TCP (Ingest:RtspTransport = tcp; it answered 461 Unsupported transport", error, StringComparison.Ordinal);
        Assert.Contains("set Ingest:RtspTransport to auto (or udp)", error, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error, StringComparison.Ordinal);
        Assert.Equal(0, ingest.Camera("tcp-forced").FramesDecoded);
    }

    [Fact]
    public async Task A_camera_that_accepts_but_never_answers_fails_its_open_after_OpenTimeoutSeconds_naming_the_timeout()
    {
        await using var silent = new SilentTcpServer();
        var camera = new CameraOptions { Id = "mute", Url = $"rtsp://127.0.0.1:{silent.Port}/cam1" };
        using var source = FrameSources.Create(camera, new IngestOptions { OpenTimeoutSeconds = 1, SocketTimeoutSeconds = 60 });
        var clock = Stopwatch.StartNew();
        var ex = Assert.Throws<SourceException>(() => source.Open(CancellationToken.None));
        Assert.True(ex.Recoverable);
        Assert.StartsWith("no answer within 1 s", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:OpenTimeoutSeconds", ex.Message, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_camera_that_stops_sending_mid_stream_fails_its_read_after_SocketTimeoutSeconds()
    {
        await using var server = await RtspServerFixture.StartNewAsync(mounts: 1);
        var camera = new CameraOptions { Id = "frozen", Url = server.Url(1) };
        using var source = FrameSources.Create(camera, new IngestOptions { SocketTimeoutSeconds = 1, OpenTimeoutSeconds = 10 });
        source.Open(CancellationToken.None);
        source.Read(camera.Id, 0, live: true, CancellationToken.None)?.Dispose();
        server.Pause();
        try
        {
            var clock = Stopwatch.StartNew();
            // Frames already decoded ahead come first; then the read waits on the silent socket until its deadline.
            Action readOn = () =>
            {
                for (var i = 1; ; i++)
                {
                    source.Read(camera.Id, i, live: true, CancellationToken.None)?.Dispose();
                }
            };
            var ex = Assert.Throws<SourceException>(readOn);
            Assert.True(ex.Recoverable);
            Assert.Equal("no data from the camera for 1 s (Ingest:SocketTimeoutSeconds); will reconnect", ex.Message);
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(6));
        }
        finally
        {
            server.Resume();
        }
    }

    [Fact]
    public void A_frame_dropped_for_MaxFps_is_decoded_but_never_converted()
    {
        // test_720p.mp4: 25 fps; capped at 5 fps, four decoded pictures in five are released without conversion.
        var camera = new CameraOptions { Id = "cap", Url = RepoPaths.Sample("test_720p.mp4"), Pacing = FilePacing.Full, MaxFps = 5 };
        using var source = FrameSources.Create(camera, new IngestOptions { FileDecoder = FileDecoder.Libav });
        var inProcess = Assert.IsType<CaptureFrameSource>(source);
        source.Open(CancellationToken.None);
        var delivered = 0;
        while (source.Read(camera.Id, delivered, live: false, CancellationToken.None) is { } frame)
        {
            frame.Dispose();
            delivered++;
        }

        var (decoded, converted) = inProcess.DecoderCounts!.Value;
        Assert.Equal(delivered, converted);
        Assert.InRange(decoded, 4.5 * delivered, 5.5 * delivered);
    }

    [Fact]
    public async Task An_rtsp_camera_capped_by_MaxFps_converts_only_the_frames_it_delivers()
    {
        await using var server = await RtspServerFixture.StartNewAsync(mounts: 1);
        var camera = new CameraOptions { Id = "cap-rtsp", Url = server.Url(1), MaxFps = 5 };
        using var source = FrameSources.Create(camera, new IngestOptions());
        var inProcess = Assert.IsType<CaptureFrameSource>(source);
        source.Open(CancellationToken.None);
        for (var i = 0; i < 8; i++)
        {
            source.Read(camera.Id, i, live: true, CancellationToken.None)?.Dispose();
        }

        var (decoded, converted) = inProcess.DecoderCounts!.Value;
        Assert.Equal(8, converted);
        Assert.True(decoded >= 3 * converted, $"{decoded} decoded for {converted} converted at 5 of 25 fps");
    }

    [Fact]
    public void SkipFrames_nonkey_decodes_keyframes_only_at_the_gop_spacing_and_warns_when_MaxFps_asks_for_more()
    {
        // test_360p.mp4: 25 fps, a keyframe every second (GOP 25).
        var path = RepoPaths.Sample("test_360p.mp4");
        var all = DecodeAll(new CameraOptions { Id = "all", Url = path, Pacing = FilePacing.Full }, null);
        var log = new ListLogger();
        var keys = DecodeAll(new CameraOptions { Id = "keys", Url = path, Pacing = FilePacing.Full, SkipFrames = SkipFrames.NonKey, MaxFps = 5 }, log);

        Assert.InRange(keys.Count, 3, all.Count / 20);
        Assert.Equal(TimeSpan.Zero, keys[0]);
        Assert.All(keys.Zip(keys.Skip(1), (a, b) => b - a), gap => Assert.Equal(TimeSpan.FromSeconds(1), gap));
        Assert.All(keys, t => Assert.Contains(t, all));
        var warning = Assert.Single(log.Lines, l => l.EventId == 2013);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("1 frames/s here, fewer than MaxFps 5", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SkipFrames_nonref_skips_the_b_frames_and_keeps_every_reference_frame()
    {
        // A clip with two non-reference B-frames between references (x264 without B-pyramid): 50 frames, 18 references.
        var dir = Directory.CreateTempSubdirectory("stream-nonref-");
        try
        {
            var clip = Path.Combine(dir.FullName, "bframes.mp4");
            using (var encode = Process.Start("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
                       "-c:v", "libx264", "-bf", "2", "-x264-params", "b-pyramid=none:keyint=25", "-pix_fmt", "yuv420p", clip]))
            {
                encode.WaitForExit();
                Assert.Equal(0, encode.ExitCode);
            }

            var all = DecodeAll(new CameraOptions { Id = "all", Url = clip, Pacing = FilePacing.Full }, null);
            var refs = DecodeAll(new CameraOptions { Id = "refs", Url = clip, Pacing = FilePacing.Full, SkipFrames = SkipFrames.NonRef }, null);
            Assert.Equal(50, all.Count);
            Assert.Equal(18, refs.Count);
            Assert.All(refs, t => Assert.Contains(t, all));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static List<TimeSpan> DecodeAll(CameraOptions camera, ILogger? logger)
    {
        using var source = FrameSources.Create(camera, new IngestOptions { FileDecoder = FileDecoder.Libav }, logger: logger);
        source.Open(CancellationToken.None);
        var pts = new List<TimeSpan>();
        while (source.Read(camera.Id, pts.Count, live: false, CancellationToken.None) is { } frame)
        {
            using (frame)
            {
                pts.Add(frame.Pts ?? throw new InvalidOperationException("a file frame without PTS"));
            }
        }

        return pts;
    }
}
