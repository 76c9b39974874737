using System.Text.Json;
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
}
