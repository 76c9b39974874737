using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// Issue 23: <c>stream analyze</c> runs the pipeline on recordings with no Kafka or Redis, and the classes are the
/// model's own, as a custom model with its own labels file names them.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class AnalyzeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_model_with_its_own_labels_file_names_its_classes_in_the_events_and_a_camera_tracks_them_by_those_names()
    {
        var dir = Directory.CreateTempSubdirectory("stream-analyze-").FullName;
        try
        {
            // YOLOX-Nano with a labels file that renames COCO's classes: person is "walker" here.
            var coco = Streaming.Core.CocoClasses.Names;
            var labels = Path.Combine(dir, "labels.txt");
            await File.WriteAllLinesAsync(labels, coco.Select(n => n == "person" ? "walker" : "renamed-" + n.Replace(' ', '-')));
            var clip = RepoPaths.Sample("indoor_people_one_by_one.mp4");

            var (code, stdout, stderr) = await StreamProcess.CommandAsync(
                ["analyze", clip, "--out", Path.Combine(dir, "out"), "--objects", "walker", "--set", "Detect:LabelsFile=" + labels,
                 "--set", "Detect:ModelPath=" + RepoPaths.Model("yolox_nano.onnx"), "--set", "Detect:Provider=cpu"], timeout: TimeSpan.FromSeconds(180));
            output.WriteLine(stdout);
            output.WriteLine(stderr);
            Assert.Equal(0, code);

            var events = (await File.ReadAllLinesAsync(Path.Combine(dir, "out", "events.jsonl"))).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var started = events.Where(e => e.GetProperty("kind").GetString() == "track_started").ToList();
            Assert.NotEmpty(started);
            Assert.All(started, e => Assert.Equal("walker", e.GetProperty("label").GetString()));
            Assert.Contains("alerts: walker " + started.Count, stdout, StringComparison.Ordinal);
            // Every frame of the 30 s clip went through, and the run ended by itself at the end of the file.
            Assert.Contains("300 frames", stdout, StringComparison.Ordinal);
            Assert.Contains(events, e => e.GetProperty("kind").GetString() == "camera_status" && e.GetProperty("state").GetString() == "stopped");

            // COCO's name is not a class of this model: one line says so and names the model's labels, and nothing is tracked.
            var (coded, _, errors) = await StreamProcess.CommandAsync(
                ["analyze", clip, "--out", Path.Combine(dir, "out2"), "--objects", "person", "--set", "Detect:LabelsFile=" + labels,
                 "--set", "Detect:ModelPath=" + RepoPaths.Model("yolox_nano.onnx"), "--set", "Detect:Provider=cpu"], timeout: TimeSpan.FromSeconds(180));
            Assert.Equal(0, coded);
            Assert.Single(errors.Split('\n'), l => l.Contains("Objects:Track names 'person', which is not a class of the model; use one of its labels (walker, renamed-bicycle", StringComparison.Ordinal));
            Assert.DoesNotContain("track_started", await File.ReadAllTextAsync(Path.Combine(dir, "out2", "events.jsonl")), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Issue 23's goals through the whole pipeline: a MOTChallenge sequence played as a recording, default config with
    /// <c>Objects: person</c>, scored by <c>stream eval alerts</c> against its ground truth.
    /// </summary>
    [Theory]
    [InlineData("tud_stadtmitte_25fps.mp4", "TUD-Stadtmitte", "Full", 0.95)]
    [InlineData("tud_stadtmitte_25fps.mp4", "TUD-Stadtmitte", "Native", 0.95)]
    [InlineData("tud_campus_25fps.mp4", "TUD-Campus", "Full", 0.83)] // its sixth person is never detected apart from the fifth (docs/track.md)
    public async Task A_recorded_sequence_alerts_each_person_once_with_no_false_alert_at_Full_and_Native_pacing_alike(string clip, string sequence, string pacing, double minRecall)
    {
        var dir = Directory.CreateTempSubdirectory("stream-analyze-alerts-").FullName;
        try
        {
            var (code, stdout, stderr) = await StreamProcess.CommandAsync(
                ["analyze", RepoPaths.Sample(clip), "--out", dir, "--objects", "person", "--pacing", pacing,
                 "--set", "Track:UpdateIntervalSeconds=0.2",
                 "--set", "Detect:ModelPath=" + RepoPaths.Model("yolox_nano.onnx"), "--set", "Detect:Provider=cpu"], timeout: TimeSpan.FromSeconds(180));
            output.WriteLine(stdout);
            output.WriteLine(stderr);
            Assert.Equal(0, code);

            var gt = Path.Combine(SharedMot.Sequence(sequence), "gt", "gt.txt");
            var (evalCode, scored, evalErrors) = await StreamProcess.CommandAsync(
                ["eval", "alerts", "--gt", gt, "--events", Path.Combine(dir, "events.jsonl"), "--fps", "25"], timeout: TimeSpan.FromSeconds(60));
            output.WriteLine(scored);
            output.WriteLine(evalErrors);
            Assert.Equal(0, evalCode);
            var summary = scored.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
            double Figure(string name) => double.Parse(Regex.Match(summary, name + @" ([0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
            output.WriteLine($"RESULT alerts {sequence} {pacing}: {summary}");

            Assert.True(Figure("repeats") <= 1.15, $"more than 1.15 alerts per person: {summary}");
            Assert.True(Figure("precision") >= 0.95, $"false alerts: {summary}");
            Assert.True(Figure("recall") >= minRecall, $"people without an alert: {summary}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task An_analysis_killed_with_kill_9_keeps_every_event_it_had_written_each_a_whole_line()
    {
        var dir = Directory.CreateTempSubdirectory("stream-analyze-kill-").FullName;
        try
        {
            // The 30 s indoor clip at its own pace: its first alert comes about 7 s in, long before the end.
            using var process = Process.Start(StreamProcess.Command(
                ["analyze", RepoPaths.Sample("indoor_people_one_by_one.mp4"), "--out", dir, "--objects", "person", "--pacing", "Native",
                 "--set", "Detect:ModelPath=" + RepoPaths.Model("yolox_nano.onnx"), "--set", "Detect:Provider=cpu"]))!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            var events = Path.Combine(dir, "events.jsonl");
            string Written()
            {
                using var file = new FileStream(events, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(file);
                return reader.ReadToEnd();
            }

            var clock = Stopwatch.StartNew();
            while (!(File.Exists(events) && Written().Contains("\"track_started\"", StringComparison.Ordinal)))
            {
                if (process.HasExited)
                {
                    Assert.Fail($"analyze ended before a track_started reached the file:\n{await stderr}");
                }

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no track_started in events.jsonl within 60 s of a running analysis");
                await Task.Delay(200);
            }

            Assert.False(process.HasExited, "analyze had already finished: the kill would prove nothing");
            process.Kill(); // SIGKILL
            await process.WaitForExitAsync();
            output.WriteLine(await stdout);
            output.WriteLine(await stderr);

            // Every line the file holds is a whole event, and the alert seen before the kill is still there.
            var lines = Written().Split('\n');
            Assert.Equal(string.Empty, lines[^1]);
            var kept = lines[..^1].Select(l => JsonDocument.Parse(l).RootElement).ToList();
            output.WriteLine($"RESULT analyze-kill: {kept.Count} events kept after kill -9 at {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.Contains(kept, e => e.GetProperty("kind").GetString() == "track_started");

            // ... written while the file was still being read: the camera had not stopped (its end of file) when killed.
            Assert.DoesNotContain(kept, e => e.GetProperty("kind").GetString() == "camera_status" && e.GetProperty("state").GetString() == "stopped");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Analyze_writes_a_clip_for_every_ended_track_of_a_recording_those_still_open_at_its_end_included_each_readable_from_a_keyframe()
    {
        var dir = Directory.CreateTempSubdirectory("stream-analyze-clips-").FullName;
        try
        {
            // People walk in one by one: tracks end during the 30 s, and the last ones are still open when the file ends.
            var (code, stdout, stderr) = await StreamProcess.CommandAsync(
                ["analyze", RepoPaths.Sample("indoor_people_one_by_one.mp4"), "--out", dir, "--objects", "person",
                 "--set", "Detect:ModelPath=" + RepoPaths.Model("yolox_nano.onnx"), "--set", "Detect:Provider=cpu"], timeout: TimeSpan.FromSeconds(180));
            output.WriteLine(stdout);
            output.WriteLine(stderr);
            Assert.Equal(0, code);

            var events = (await File.ReadAllLinesAsync(Path.Combine(dir, "events.jsonl"))).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var ended = events.Where(e => e.GetProperty("kind").GetString() == "track_ended").ToList();
            var lateClips = events.Where(e => e.GetProperty("kind").GetString() == "clip_ready").Select(e => e.GetProperty("track_id").GetInt64()).ToHashSet();
            string? ClipKey(JsonElement e) => e.TryGetProperty("clip_key", out var k) ? k.GetString() : null;
            var atEnd = ended.Where(e => e.GetProperty("reason").GetString() == "shutdown").ToList();
            output.WriteLine($"RESULT analyze-clips: {ended.Count} tracks ended ({atEnd.Count} open at the end of the file), {ended.Count(e => ClipKey(e) is not null)} with clip_key, {lateClips.Count} clip_ready");
            Assert.NotEmpty(atEnd);
            Assert.True(ended.Count > atEnd.Count, "no track ended before the end of the file");
            Assert.All(ended, e => Assert.True(ClipKey(e) is not null || lateClips.Contains(e.GetProperty("track_id").GetInt64()),
                $"track {e.GetProperty("track_id")} ({e.GetProperty("reason")}) has no clip"));
            Assert.Contains($"clips: {ended.Count} in ", stdout, StringComparison.Ordinal);

            foreach (var e in ended.Where(e => ClipKey(e) is not null))
            {
                var path = Path.Combine(dir, "clips", ClipKey(e)!);
                var (frames, errors) = Ffprobe.DecodeAll(path);
                Assert.True(errors.Length == 0, $"ffprobe on {ClipKey(e)}: {errors}");
                Assert.NotEmpty(frames);
                Assert.True(frames[0].Key, $"{ClipKey(e)} does not start with a keyframe");
                var seconds = e.GetProperty("clip_seconds").GetDouble();
                var span = frames[^1].Time - frames[0].Time;
                Assert.True(Math.Abs(span - seconds) <= 0.15, $"{ClipKey(e)}: {span:0.00} s of frames, clip_seconds {seconds}");
                // The track's own time is in it: first_seen to last_seen (at most MaxSeconds, 30 s).
                var tracked = (e.GetProperty("last_seen").GetDateTimeOffset() - e.GetProperty("first_seen").GetDateTimeOffset()).TotalSeconds;
                Assert.True(seconds >= Math.Min(tracked, 30) - 0.2, $"{ClipKey(e)}: {seconds} s for a track seen {tracked:0.00} s");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
