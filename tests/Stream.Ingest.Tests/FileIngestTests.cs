using System.Diagnostics;
using System.Globalization;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Testing;

namespace Streaming.Ingest.Tests;

/// <summary>File sources through every file decoder (the system FFmpeg libraries in-process, the default; the ffmpeg pipe; OpenCV VideoCapture).</summary>
public class FileIngestTests
{
    /// <summary>The file's frame count as ffprobe decodes it (independent of the code under test).</summary>
    private static long ProbeFrameCount(string path)
    {
        var info = new ProcessStartInfo("ffprobe") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path })
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return long.Parse(text, CultureInfo.InvariantCulture);
    }

    [Theory]
    [InlineData(FileDecoder.OpenCv)]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.Libav)]
    public async Task A_file_at_full_speed_under_a_slow_reader_loses_no_frame(FileDecoder decoder)
    {
        var path = RepoPaths.Sample("test_360p.mp4");
        var expected = ProbeFrameCount(path);
        await using var ingest = new IngestHarness(new IngestOptions { FileDecoder = decoder }, capacityPerCamera: 2);
        await ingest.Manager.AddAsync(new CameraOptions { Id = "file", Url = path, Pacing = FilePacing.Full, Width = 320 });
        var feed = ingest.Feed("file");
        Assert.False(feed.IsLive);

        var sequences = new List<long>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (await feed.Reader.WaitToReadAsync(timeout.Token))
        {
            while (feed.Reader.TryRead(out var frame))
            {
                using (frame)
                {
                    Assert.Equal((320, 180), (frame.Width, frame.Height));
                    Assert.False(frame.IsLive);
                    // Media time: the 25 fps file's frame n is at n * 40 ms.
                    Assert.NotNull(frame.Pts);
                    Assert.InRange(frame.Pts.Value.TotalMilliseconds, (frame.Sequence * 40) - 1, (frame.Sequence * 40) + 1);
                    sequences.Add(frame.Sequence);
                }

                // A reader slower than decoding: the file waits instead of dropping.
                await Task.Delay(2);
            }
        }

        Assert.Equal(expected, sequences.Count);
        Assert.Equal(Enumerable.Range(0, (int)expected).Select(i => (long)i), sequences);
        Assert.Equal(0, feed.Dropped);
        await ingest.WaitUntilAsync(() => ingest.Camera("file").State == CameraState.Stopped, TimeSpan.FromSeconds(5), "stopped at end of file");
        Assert.Equal(expected, ingest.Camera("file").FramesDecoded);
    }

    [Theory]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.OpenCv)]
    [InlineData(FileDecoder.Libav)]
    public async Task A_live_source_under_a_slow_reader_drops_the_oldest_frames_and_counts_them(FileDecoder decoder)
    {
        var path = RepoPaths.Sample("test_360p.mp4");
        await using var ingest = new IngestHarness(new IngestOptions { FileDecoder = decoder }, capacityPerCamera: 2);
        await ingest.Manager.AddAsync(new CameraOptions { Id = "paced", Url = path, Pacing = FilePacing.Native, Loop = true });
        var feed = ingest.Feed("paced");
        Assert.True(feed.IsLive);
        await ingest.WaitUntilAsync(() => ingest.Camera("paced").State == CameraState.Streaming, TimeSpan.FromSeconds(5), "streaming");

        var clock = Stopwatch.StartNew();
        var read = 0;
        var lags = new List<long>();
        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            await Task.Delay(200);
            if (feed.Reader.TryRead(out var frame))
            {
                using (frame)
                {
                    // Drop-oldest: what the reader gets is one of the newest frames, not a stale one.
                    lags.Add(ingest.Camera("paced").FramesDecoded - 1 - frame.Sequence);
                    read++;
                }
            }
        }

        // Every decoded frame was read, dropped or is still queued (read in this order: decoding runs on meanwhile).
        var dropped = feed.Dropped;
        var queued = feed.Count;
        var status = ingest.Camera("paced");
        Assert.True(dropped > 20, $"dropped {dropped}");
        Assert.True(status.FramesDropped >= dropped);
        Assert.All(lags, lag => Assert.InRange(lag, 0, 3));
        Assert.InRange(status.FramesDecoded - (read + dropped + queued), 0, 2);

        // Native pacing: about 25 fps (the file's rate), not as fast as decoding allows.
        Assert.InRange(status.FramesDecoded / clock.Elapsed.TotalSeconds, 15, 35);
    }

    [Theory]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.OpenCv)]
    [InlineData(FileDecoder.Libav)]
    public void An_fps_cap_keeps_one_frame_per_interval_of_media_time_at_the_configured_size(FileDecoder decoder)
    {
        // test_720p.mp4: 25 fps for 10 s (250 frames); capped at 5 fps, about 50 frames 200 ms apart in media time.
        var path = RepoPaths.Sample("test_720p.mp4");
        var count = ProbeFrameCount(path);
        var camera = new CameraOptions { Id = "cap", Url = path, Pacing = FilePacing.Full, MaxFps = 5, Width = 320 };
        using var source = FrameSources.Create(camera, new IngestOptions { FileDecoder = decoder });
        source.Open(CancellationToken.None);
        var pts = new List<TimeSpan>();
        while (source.Read(camera.Id, pts.Count, live: false, CancellationToken.None) is { } frame)
        {
            using (frame)
            {
                Assert.Equal((320, 180), (frame.Width, frame.Height));
                pts.Add(frame.Pts ?? throw new InvalidOperationException("a file frame without PTS"));
            }
        }

        Assert.InRange(pts.Count, (count / 5) - 2, (count / 5) + 2);
        var gaps = pts.Zip(pts.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();
        Assert.All(gaps, g => Assert.InRange(g, 160, 240));
    }

    [Theory]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.OpenCv)]
    [InlineData(FileDecoder.Libav)]
    public async Task A_looping_file_starts_again_at_its_end_with_increasing_sequence_and_pts(FileDecoder decoder)
    {
        var path = RepoPaths.Sample("test_360p.mp4");
        var count = ProbeFrameCount(path);
        await using var ingest = new IngestHarness(new IngestOptions { FileDecoder = decoder }, capacityPerCamera: 4);
        await ingest.Manager.AddAsync(new CameraOptions { Id = "loop", Url = path, Pacing = FilePacing.Full, Loop = true, Width = 160 });
        var feed = ingest.Feed("loop");
        TimeSpan? lastPts = null;
        long n = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (n < count + 30 && await feed.Reader.WaitToReadAsync(timeout.Token))
        {
            while (feed.Reader.TryRead(out var frame))
            {
                using (frame)
                {
                    Assert.Equal(n, frame.Sequence);
                    Assert.True(lastPts is null || frame.Pts > lastPts, $"pts {frame.Pts} after {lastPts}");
                    lastPts = frame.Pts;
                    n++;
                }
            }
        }

        Assert.True(n >= count + 30);
        Assert.Equal(CameraState.Streaming, ingest.Camera("loop").State);
    }

    [Theory]
    [InlineData(FileDecoder.OpenCv)]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.Libav)]
    public async Task A_corrupt_file_fails_its_camera_with_a_one_line_error_and_the_others_keep_running(FileDecoder decoder)
    {
        var dir = Directory.CreateTempSubdirectory("stream-ingest-");
        try
        {
            var corrupt = Path.Combine(dir.FullName, "corrupt.mp4");
            var junk = new byte[200_000];
            new Random(7).NextBytes(junk);
            await File.WriteAllBytesAsync(corrupt, junk);

            await using var ingest = new IngestHarness(new IngestOptions { FileDecoder = decoder });
            await ingest.Manager.AddAsync(new CameraOptions { Id = "good", Url = RepoPaths.Sample("test_360p.mp4"), Loop = true });
            await ingest.Manager.AddAsync(new CameraOptions { Id = "bad", Url = corrupt });
            await ingest.WaitUntilAsync(() => ingest.Camera("bad").State == CameraState.Failed, TimeSpan.FromSeconds(10), "bad camera failed");
            var error = ingest.Camera("bad").LastError;
            Assert.NotNull(error);
            Assert.True(error.StartsWith($"camera 'bad' ({corrupt}): file ", StringComparison.Ordinal), error);
            Assert.Contains("corrupt or not a video", error, StringComparison.Ordinal);
            Assert.Contains("replace it", error, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error);
            Assert.Equal(0, ingest.Camera("bad").Reconnects);

            var good = ingest.Camera("good").FramesDecoded;
            await ingest.WaitUntilAsync(() => ingest.Camera("good").FramesDecoded > good + 10, TimeSpan.FromSeconds(5), "good camera goes on");
            Assert.Equal(CameraState.Streaming, ingest.Camera("good").State);
            Assert.Equal(CameraState.Failed, ingest.Camera("bad").State);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    // The default decoder. (The ffmpeg pipe and VideoCapture play a cut file's intact part and loop it without an error.)
    [Fact]
    public async Task A_file_cut_in_the_middle_that_fails_the_same_way_on_every_pass_ends_as_failed_with_one_line()
    {
        var dir = Directory.CreateTempSubdirectory("stream-ingest-");
        try
        {
            // A faststart MP4 (index first) cut halfway: it plays its first frames, then decoding fails, on every pass.
            var cut = await DamagedMedia.CutInTheMiddleAsync("test_360p.mp4", dir.FullName);

            await using var ingest = new IngestHarness(new IngestOptions { FileDecoder = FileDecoder.Libav });
            await ingest.Manager.AddAsync(new CameraOptions { Id = "cut", Url = cut, Loop = true });
            // Full speed: the reader keeps up (drains) so that the camera reaches the broken part of each pass.
            bool Failed()
            {
                ingest.Drain("cut");
                return ingest.Camera("cut").State == CameraState.Failed;
            }

            await ingest.WaitUntilAsync(Failed, TimeSpan.FromSeconds(30), "the cut file's camera failed");
            var status = ingest.Camera("cut");
            Assert.NotNull(status.LastError);
            Assert.StartsWith($"camera 'cut' ({cut}): the file fails the same way on every pass", status.LastError, StringComparison.Ordinal);
            Assert.Contains("replace it or re-encode it", status.LastError, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', status.LastError);
            Assert.True(status.FramesDecoded > 0, "the frames before the cut were delivered");
            Assert.Equal(2, status.Reconnects); // three passes, each broken at the same frame, then no more retries
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Adding_a_camera_with_a_missing_file_or_unknown_scheme_is_refused_with_the_fix()
    {
        await using var ingest = new IngestHarness();
        var missing = await Assert.ThrowsAsync<ArgumentException>(() => ingest.Manager.AddAsync(new CameraOptions { Id = "m", Url = "/nope/x.mp4" }));
        Assert.Contains("camera 'm': file '/nope/x.mp4' not found", missing.Message, StringComparison.Ordinal);
        var scheme = await Assert.ThrowsAsync<ArgumentException>(() => ingest.Manager.AddAsync(new CameraOptions { Id = "s", Url = "srt://127.0.0.1:9/x" }));
        Assert.Contains("unknown URL scheme 'srt'", scheme.Message, StringComparison.Ordinal);
        Assert.Empty(ingest.Manager.Snapshot());
        Assert.Empty(ingest.Bus.Feeds);
    }
}
