using Microsoft.Extensions.Configuration;
using Streaming.Detect;
using Streaming.Testing;

namespace Streaming.Detect.Tests;

public class DetectOptionsTests
{
    [Fact]
    public void Default_options_point_at_the_setup_model_and_are_valid_from_the_repository_root()
    {
        var options = new DetectOptions();
        Assert.Equal("models/yolox_nano.onnx", options.ModelPath);
        Assert.Equal((4, 10, 2), (options.MaxBatch, options.MaxWaitMs, options.MaxPerCamera));
        Assert.Equal((0.3f, 0.45f), (options.ScoreThreshold, options.NmsThreshold));

        options.ModelPath = Path.Combine(RepoPaths.Models, "yolox_nano.onnx");
        Assert.Empty(DetectOptions.Validator.Problems(options));
    }

    [Fact]
    public void Bad_settings_fail_validation_at_start_with_one_line_each()
    {
        var options = new DetectOptions { ModelPath = "/no/such/model.onnx", MaxBatch = 0, ScoreThreshold = 2f, InputSize = 100 };

        var result = DetectOptions.Validator.Validate(null, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Equal(4, failures.Count);
        Assert.All(failures, f => Assert.DoesNotContain('\n', f));
        Assert.Contains(failures, f => f.Contains("/no/such/model.onnx", StringComparison.Ordinal) && f.Contains("scripts/setup.sh", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Detect:MaxBatch", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Detect:ScoreThreshold", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Detect:InputSize", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_bind_from_the_Detect_config_section()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Detect:ModelPath"] = "models/yolox_nano_dynamic.onnx",
            ["Detect:Provider"] = "tensorrt",
            ["Detect:Head"] = "yolov8",
            ["Detect:MaxBatch"] = "8",
            ["Detect:Classes:0"] = "person",
            ["Detect:Classes:1"] = "car",
            ["Detect:Fp16"] = "true",
        }).Build();
        var options = new DetectOptions();

        config.GetSection(DetectOptions.Section).Bind(options);

        Assert.Equal("models/yolox_nano_dynamic.onnx", options.ModelPath);
        Assert.Equal(ExecutionProviderKind.TensorRt, options.Provider);
        Assert.Equal(HeadKind.Yolov8, options.Head);
        Assert.Equal(8, options.MaxBatch);
        Assert.Equal(["person", "car"], options.Classes);
        Assert.True(options.Fp16);
    }
}
