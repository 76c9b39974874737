using System.Text;
using Streaming.Core;
using Streaming.Sink;

namespace Streaming.Sink.Tests;

/// <summary>
/// Issue 26: the sink's clip writer, against a stand-in for Ingest's clip buffers (the real cut is tested in
/// Stream.Ingest.Tests' ClipBufferTests and end to end in Stream.Integration.Tests' ClipTests).
/// </summary>
public sealed class ClipWriterTests : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 5, 20, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("clipwriter-").FullName;
    private readonly StandaloneMeterFactory _meters = new();
    private readonly ListLogger<ClipWriter> _log = new();
    private readonly List<EventMessage> _ready = [];
    private ClipWriter? _writer;

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }

        _meters.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private ClipMetrics Metrics { get; set; } = null!;

    private ClipWriter Start(FakeClips clips, ClipOptions? options = null)
    {
        options ??= new ClipOptions();
        options.Directory = _dir;
        Metrics = new ClipMetrics(_meters);
        _writer = ClipWriter.Start(options, clips, Metrics, (m, _) =>
        {
            lock (_ready)
            {
                _ready.Add(m);
            }

            return ValueTask.CompletedTask;
        }, _log);
        return _writer;
    }

    private static PipelineEvent Ended(long track, double firstSeconds, double lastSeconds) => new()
    {
        Kind = EventKind.TrackEnded,
        CameraId = "gate",
        Time = T0 + TimeSpan.FromSeconds(lastSeconds + 1.5),
        TrackId = track,
        Epoch = 1_796_000_000_000,
        FirstSeen = T0 + TimeSpan.FromSeconds(firstSeconds),
        LastSeen = T0 + TimeSpan.FromSeconds(lastSeconds),
        FrameSequence = 42,
        Label = "person",
        Reason = "lost",
    };

    private static string Json(EventMessage m) => Encoding.UTF8.GetString(m.ToUtf8());

    [Fact]
    public async Task A_clip_ready_in_time_is_named_in_track_ended_with_its_seconds_and_the_event_fits_the_schema()
    {
        var clips = new FakeClips();
        var writer = Start(clips);
        var e = Ended(1_796_000_000_000_007, 10, 14);
        var message = EventMessage.From(e, "frame");

        await writer.AttachAsync(e, message, CancellationToken.None);

        Assert.Equal("gate/1796000000000-1796000000000007.mp4", message.ClipKey);
        Assert.Equal(7.5, message.ClipSeconds);
        Assert.True(File.Exists(Path.Combine(_dir, "gate", "1796000000000-1796000000000007.mp4")));
        Assert.Empty(Directory.GetFiles(_dir, "*.part", SearchOption.AllDirectories));
        // The window: PreSeconds (2) before first_seen, PostSeconds (1.5) after last_seen.
        var (_, from, to) = Assert.Single(clips.Windows);
        Assert.Equal(T0 + TimeSpan.FromSeconds(8), from);
        Assert.Equal(T0 + TimeSpan.FromSeconds(15.5), to);
        Assert.Empty(EventSchema.Validate(Json(message)));
        Assert.Equal(1, Metrics.Written);
    }

    [Fact]
    public async Task A_track_longer_than_MaxSeconds_gets_its_last_MaxSeconds()
    {
        var clips = new FakeClips();
        var writer = Start(clips, new ClipOptions { MaxSeconds = 10 });
        var e = Ended(3, 0, 40);
        await writer.AttachAsync(e, EventMessage.From(e, "frame"), CancellationToken.None);
        var (_, from, to) = Assert.Single(clips.Windows);
        Assert.Equal(TimeSpan.FromSeconds(10), to - from);
        Assert.Equal(T0 + TimeSpan.FromSeconds(41.5), to);
    }

    [Theory]
    [InlineData("io")]
    [InlineData("window")]
    [InlineData("no_buffer")]
    public async Task A_clip_that_fails_leaves_the_event_without_clip_key_and_is_counted_with_its_reason(string reason)
    {
        var clips = new FakeClips
        {
            Cut = (_, _, _, path) =>
            {
                if (reason == "no_buffer")
                {
                    return null;
                }

                File.WriteAllText(path, "half"); // a partial file is left behind by the failing cut
                throw new ClipException(reason, reason == "io" ? "No space left on device" : "the window is older than the clip buffer");
            },
        };
        var writer = Start(clips);
        var e = Ended(5, 1, 2);
        var message = EventMessage.From(e, "frame");

        await writer.AttachAsync(e, message, CancellationToken.None);

        Assert.Null(message.ClipKey);
        Assert.Null(message.ClipSeconds);
        Assert.Empty(EventSchema.Validate(Json(message)));
        Assert.Equal(1, Metrics.Failures);
        Assert.Contains(_log.Entries, l => l.Message.Contains($"({reason})", StringComparison.Ordinal) && l.Message.Contains("without clip_key", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(_dir, "*.mp4", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(_dir, "*.part", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_clip_finished_after_its_track_ended_went_out_is_announced_by_clip_ready()
    {
        using var release = new ManualResetEventSlim();
        var clips = new FakeClips { Before = () => release.Wait(TimeSpan.FromSeconds(10)) };
        var writer = Start(clips, new ClipOptions { WaitMs = 50 });
        var e = Ended(9, 3, 6);
        var message = EventMessage.From(e, "frame");

        await writer.AttachAsync(e, message, CancellationToken.None);
        Assert.Null(message.ClipKey); // it went out without the clip
        release.Set();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline && _ready.Count == 0)
        {
            await Task.Delay(20);
        }

        var ready = Assert.Single(_ready);
        Assert.Equal("clip_ready", ready.Kind);
        Assert.Equal(9, ready.TrackId);
        Assert.Equal(message.Epoch, ready.Epoch);
        Assert.Equal(message.FrameKey, ready.FrameKey);
        Assert.Equal("gate/1796000000000-9.mp4", ready.ClipKey);
        Assert.NotEqual(message.Id, ready.Id);
        Assert.Empty(EventSchema.Validate(Json(ready)));
        Assert.NotEmpty(EventSchema.Validate(Json(ready).Replace("\"clip_key\"", "\"clip_kez\"", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_track_ended_does_not_hold_back_the_frames_behind_it_its_clip_then_comes_as_clip_ready()
    {
        using var release = new ManualResetEventSlim();
        var clips = new FakeClips { Before = () => release.Wait(TimeSpan.FromSeconds(10)) };
        var writer = Start(clips, new ClipOptions { WaitMs = 5000 });
        var waiting = new TaskCompletionSource();

        // Nothing else waiting: the event waits for its clip (here until another frame comes).
        var e = Ended(12, 3, 6);
        var message = EventMessage.From(e, "frame");
        var attach = writer.AttachAsync(e, message, CancellationToken.None, waiting.Task).AsTask();
        await Task.Delay(200);
        Assert.False(attach.IsCompleted, "with no frame waiting, the event waits for its clip");
        waiting.SetResult(); // a frame arrives behind it
        await attach.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Null(message.ClipKey);

        // A frame already waiting: the event does not wait at all.
        var second = Ended(13, 3, 6);
        var secondMessage = EventMessage.From(second, "frame");
        await writer.AttachAsync(second, secondMessage, CancellationToken.None, Task.CompletedTask).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Null(secondMessage.ClipKey);

        release.Set();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline && _ready.Count < 2)
        {
            await Task.Delay(20);
        }

        lock (_ready)
        {
            Assert.Equal([12L, 13L], _ready.Select(r => r.TrackId!.Value).Order());
            Assert.All(_ready, r => Assert.Equal("clip_ready", r.Kind));
        }
    }

    [Fact]
    public async Task The_writer_waits_for_the_post_roll_to_be_buffered_before_it_cuts()
    {
        var clips = new FakeClips { Until = T0 + TimeSpan.FromSeconds(5) };
        var writer = Start(clips, new ClipOptions { WaitMs = 2000 });
        var e = Ended(11, 1, 5);
        var attach = writer.AttachAsync(e, EventMessage.From(e, "frame"), CancellationToken.None).AsTask();
        await Task.Delay(300);
        Assert.Empty(clips.Windows); // 6.5 s is not buffered yet
        clips.Until = T0 + TimeSpan.FromSeconds(7);
        await attach;
        Assert.Single(clips.Windows);
    }

    [Fact]
    public async Task Old_clips_go_by_age_and_then_the_oldest_while_over_MaxBytes()
    {
        var camera = Directory.CreateDirectory(Path.Combine(_dir, "gate")).FullName;
        string Make(string name, int bytes, TimeSpan age)
        {
            var path = Path.Combine(camera, name);
            File.WriteAllBytes(path, new byte[bytes]);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return path;
        }

        var ancient = Make("1-1.mp4", 10, TimeSpan.FromHours(100));
        var old = Make("1-2.mp4", 600_000, TimeSpan.FromHours(3));
        var newer = Make("1-3.mp4", 600_000, TimeSpan.FromHours(2));
        var writer = Start(new FakeClips(), new ClipOptions { MaxBytes = 1_000_000, MaxAgeHours = 72 });
        var e = Ended(4, 1, 2);
        await writer.AttachAsync(e, EventMessage.From(e, "frame"), CancellationToken.None);
        await writer.DisposeAsync();
        _writer = null;

        Assert.False(File.Exists(ancient), "older than MaxAgeHours");
        Assert.False(File.Exists(old), "the oldest, while the clips were over MaxBytes");
        Assert.True(File.Exists(newer));
        Assert.True(File.Exists(Path.Combine(camera, "1796000000000-4.mp4")));
    }

    [Fact]
    public void The_Clips_section_is_checked_with_one_line_naming_the_key_and_the_fix()
    {
        Assert.Empty(ClipOptions.Validator.Problems(new ClipOptions()));
        var problems = ClipOptions.Validator.Problems(new ClipOptions { MaxSeconds = 60, BufferSeconds = 30, PreSeconds = -1, Directory = "" });
        Assert.Contains(problems, p => p.StartsWith("Clips:MaxSeconds (60) is longer than Clips:BufferSeconds (30)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Clips:PreSeconds", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Directory is empty", StringComparison.Ordinal));
        Assert.Equal(3, problems.Count);
    }

    [Fact]
    public async Task A_track_that_lasts_past_MaxSeconds_gets_a_clip_of_its_start_while_it_lasts_announced_by_clip_ready_and_its_end_clip_when_it_ends()
    {
        var clips = new FakeClips();
        var writer = Start(clips, new ClipOptions { MaxSeconds = 10, BufferSeconds = 30, WaitMs = 5000 }); // the end clip is waited for: a loaded machine outwaits the default 300 ms
        const long track = 1_796_000_000_000_009;
        var started = new PipelineEvent
        {
            Kind = EventKind.TrackStarted, CameraId = "gate", Time = T0 + TimeSpan.FromSeconds(5), TrackId = track, Epoch = 1_796_000_000_000,
            FirstSeen = T0 + TimeSpan.FromSeconds(5), FrameSequence = 50, Label = "car",
        };
        await writer.AttachAsync(started, EventMessage.From(started, "frame"), CancellationToken.None);

        // Its start window is first_seen - PreSeconds (2 s) + MaxSeconds (10 s): due at 13 s of media time, on its own camera.
        writer.Watch("gate", T0 + TimeSpan.FromSeconds(12.9));
        writer.Watch("yard", T0 + TimeSpan.FromSeconds(20));
        await Task.Delay(200);
        Assert.Empty(clips.Windows);
        writer.Watch("gate", T0 + TimeSpan.FromSeconds(13));
        var ready = await WaitForReadyAsync(1);
        Assert.Equal((T0 + TimeSpan.FromSeconds(3), T0 + TimeSpan.FromSeconds(13)), (clips.Windows[0].From, clips.Windows[0].To));
        Assert.Equal("clip_ready", ready.Kind);
        Assert.Equal(track, ready.TrackId);
        Assert.Equal("gate/1796000000000-1796000000000009-start.mp4", ready.ClipKey);
        Assert.Equal(10, ready.ClipSeconds);
        Assert.True(File.Exists(Path.Combine(_dir, "gate", "1796000000000-1796000000000009-start.mp4")));

        // Once only, however long it lasts; its end clip (its last MaxSeconds) comes with its track_ended as for any track.
        writer.Watch("gate", T0 + TimeSpan.FromSeconds(30));
        var ended = Ended(track, 5, 40);
        var message = EventMessage.From(ended, "frame");
        await writer.AttachAsync(ended, message, CancellationToken.None);
        Assert.Equal("gate/1796000000000-1796000000000009.mp4", message.ClipKey);
        Assert.Equal(2, clips.Windows.Count);
        Assert.Equal(T0 + TimeSpan.FromSeconds(31.5), clips.Windows[1].From);
        writer.Watch("gate", T0 + TimeSpan.FromSeconds(60));
        await Task.Delay(200);
        Assert.Equal(2, clips.Windows.Count);
        Assert.Single(_ready);
    }

    private async Task<EventMessage> WaitForReadyAsync(int count)
    {
        for (var i = 0; i < 100; i++)
        {
            lock (_ready)
            {
                if (_ready.Count >= count)
                {
                    return _ready[count - 1];
                }
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no clip_ready number {count} within 5 s");
    }

    [Fact]
    public void A_clip_key_cannot_leave_the_clip_directory()
    {
        Assert.Null(ClipWriter.PathFor(_dir, "../x.mp4"));
        Assert.Null(ClipWriter.PathFor(_dir, "/etc/passwd"));
        Assert.Equal(Path.Combine(_dir, "gate", "1-2.mp4"), ClipWriter.PathFor(_dir, "gate/1-2.mp4"));
    }

    /// <summary>Ingest's clip buffers as the writer sees them: a cut writes a small file and lasts first_seen - 2 s to last_seen + 1.5 s.</summary>
    private sealed class FakeClips : ICameraClips
    {
        public List<(string Camera, DateTimeOffset From, DateTimeOffset To)> Windows { get; } = [];

        public DateTimeOffset? Until { get; set; }

        public Action? Before { get; set; }

        public Func<string, DateTimeOffset, DateTimeOffset, string, ClipResult?> Cut { get; set; } = (_, from, to, path) =>
        {
            File.WriteAllBytes(path, new byte[1000]);
            return new ClipResult(from, to, 90, 1000);
        };

        public DateTimeOffset? BufferedUntil(string cameraId, long epoch) => Until;

        public ValueTask<ClipResult?> CutAsync(string cameraId, long epoch, DateTimeOffset from, DateTimeOffset to, string path, CancellationToken cancellationToken)
        {
            Before?.Invoke();
            lock (Windows)
            {
                Windows.Add((cameraId, from, to));
            }

            return ValueTask.FromResult(Cut(cameraId, from, to, path));
        }
    }
}
