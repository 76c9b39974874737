using Streaming.Detect;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Eval.Tests;

/// <summary>yolox_nano through the Detect stage's Detector on the shared TUD sequences, scored against their MOT15 ground truth.</summary>
public class DetectionRegressionTests(ITestOutputHelper output)
{
    private static string Sequence(string name)
    {
        var dir = Path.GetFullPath(Path.Combine(RepoPaths.Root, "..", "shared", "mot", name));
        return Directory.Exists(Path.Combine(dir, "img1")) && File.Exists(Path.Combine(dir, "gt", "gt.txt"))
            ? dir
            : throw new DirectoryNotFoundException($"{dir} (img1/, gt/gt.txt) is missing: the shared MOT sequences belong at ../shared/mot beside the repository");
    }

    // Measured once with this code on the CPU provider (score >= 0.001 for AP, Detect defaults otherwise): mAP@.5:.95
    // 0.3158086 / 0.4605652, AP@.5 0.754078 / 0.853064, asserted to 4 decimals; the tolerance is that rounding, which also
    // covers float differences between CPUs' ONNX Runtime kernels, and nothing that a change of behaviour explains.
    [Theory]
    [InlineData("TUD-Campus", 0.3158, 0.7541)]
    [InlineData("TUD-Stadtmitte", 0.4606, 0.8531)]
    public void Person_AP_of_yolox_nano_against_the_MOT_ground_truth_is_the_measured_value(string name, double expectedMap, double expectedMap50)
    {
        var seq = Sequence(name);
        var labels = LabelReader.Read(seq, Path.Combine(seq, "img1"));
        Assert.Empty(labels.ImagesWithoutLabels);
        Assert.Empty(labels.LabelsWithoutImages);
        var settings = new DetectionEvalSettings { Models = [RepoPaths.Model("yolox_nano.onnx")], Provider = ExecutionProviderKind.Cpu };
        var model = Assert.Single(DetectionEvaluation.Run(labels, settings, output.WriteLine));
        output.WriteLine(DetectionReport.Table(model, settings.ScoreThreshold));

        output.WriteLine($"mAP {model.Ap.Map:G17} mAP50 {model.Ap.Map50:G17}");
        Assert.InRange(model.Ap.Map, expectedMap - 0.00005, expectedMap + 0.00005);
        Assert.InRange(model.Ap.Map50, expectedMap50 - 0.00005, expectedMap50 + 0.00005);
    }

    [Fact]
    public void A_model_that_cannot_be_read_gets_the_same_one_line_error_as_stream_run()
    {
        var bad = Path.Combine(Path.GetTempPath(), $"not-a-model-{Guid.NewGuid():N}.onnx");
        File.WriteAllText(bad, "this is not ONNX");
        try
        {
            var seq = Sequence("TUD-Campus");
            var labels = LabelReader.Read(seq, Path.Combine(seq, "img1"));
            var expected = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions { ModelPath = bad, Provider = ExecutionProviderKind.Cpu })).Message;
            var ex = Assert.Throws<DetectModelException>(() =>
                DetectionEvaluation.Run(labels, new DetectionEvalSettings { Models = [bad], Provider = ExecutionProviderKind.Cpu }));
            Assert.Equal(expected, ex.Message);
            Assert.StartsWith($"Detect model '{bad}' is not a usable ONNX model", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', ex.Message);
        }
        finally
        {
            File.Delete(bad);
        }
    }
}
