using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Streaming.Detect;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Detect.Tests;

/// <summary>
/// What each ONNX Runtime flavour does on a machine without a GPU. CI runs this class twice: in the default build and
/// in the GPU flavour (-p:OnnxRuntimeFlavor=Gpu), whose CUDA and TensorRT provider libraries are present but cannot
/// load for want of the CUDA user-space libraries.
/// </summary>
public partial class ProviderTests(ITestOutputHelper output)
{
    /// <summary>No NVIDIA device node: the machine has no GPU (these tests describe that case and return early on a GPU machine).</summary>
    private static bool NoGpu => !File.Exists("/dev/nvidiactl");

    [GeneratedRegex(@"lib[\w.+-]+\.so[\w.]* (is missing|is not in the CPU package of ONNX Runtime)")]
    private static partial Regex NamedLibrary();

    [Fact]
    public void Auto_falls_back_to_the_CPU_and_logs_why_in_one_line_naming_the_missing_library()
    {
        if (!NoGpu)
        {
            return;
        }

        var log = new ListLogger();
        using var detector = Detector.Load(new DetectOptions { ModelPath = RepoPaths.Model("yolox_nano.onnx"), MaxBatch = 1, TensorRtCacheDir = TempCache() }, log);
        var warning = Assert.Single(log.Lines, l => l.Level >= LogLevel.Warning);
        output.WriteLine($"{Detector.Flavor} package: {warning.Message}");

        Assert.Equal("CPU", detector.Model.Provider);
        Assert.Equal(3008, warning.EventId);
        Assert.DoesNotContain('\n', warning.Message);
        Assert.Contains("fell back to CPU", warning.Message, StringComparison.Ordinal);
        Assert.Contains("TensorRT unavailable (", warning.Message, StringComparison.Ordinal);
        Assert.Contains("CUDA unavailable (", warning.Message, StringComparison.Ordinal);
        Assert.Equal(2, NamedLibrary().Matches(warning.Message).Count);
        Assert.DoesNotContain(log.Lines, l => l.EventId == 3009); // no engine is built when TensorRT cannot load
        Assert.NotEmpty(detector.Detect(DogPicture()));
    }

    [Fact]
    public void Provider_cuda_without_a_GPU_stops_the_start_with_one_line_naming_the_missing_CUDA_library_and_the_fix()
    {
        if (!NoGpu)
        {
            return;
        }

        var ex = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions
        {
            ModelPath = RepoPaths.Model("yolox_nano.onnx"),
            Provider = ExecutionProviderKind.Cuda,
        }));
        output.WriteLine($"{Detector.Flavor} package: {ex.Message}");

        Assert.DoesNotContain('\n', ex.Message);
        Assert.StartsWith("Detect:Provider CUDA cannot start: ", ex.Message, StringComparison.Ordinal);
        Assert.Matches(NamedLibrary(), ex.Message);
        Assert.Contains("set Detect:Provider to auto or cpu", ex.Message, StringComparison.Ordinal);
        Assert.Contains(Detector.Flavor == "GPU" ? "LD_LIBRARY_PATH" : "-p:OnnxRuntimeFlavor=Gpu", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Int8_without_calibration_stops_with_a_one_line_error_naming_the_fix()
    {
        Assert.False(DetectorSessionFactory.CarriesQuantization(RepoPaths.Model("yolox_nano.onnx")));
        var ex = Assert.Throws<DetectModelException>(() => DetectorSessionFactory.TensorRtSettings(
            new DetectOptions { ModelPath = RepoPaths.Model("yolox_nano.onnx"), Int8 = true, TensorRtCacheDir = TempCache() }, "0"));

        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("Detect:Int8", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Detect:Int8CalibrationTable", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TensorRT_settings_cache_engines_and_timings_take_one_batch_profile_and_say_the_first_start_builds_the_engine()
    {
        var cache = TempCache();
        var log = new ListLogger();
        var options = new DetectOptions { ModelPath = RepoPaths.Model("yolox_nano_dynamic.onnx"), MaxBatch = 8, Fp16 = true, TensorRtCacheDir = cache };
        var settings = DetectorSessionFactory.TensorRtSettings(options, "0");
        DetectorSessionFactory.AnnounceEngineBuild(options, settings, log);

        Assert.Equal("1", settings["trt_engine_cache_enable"]);
        Assert.Equal(cache, settings["trt_engine_cache_path"]);
        Assert.Equal("1", settings["trt_timing_cache_enable"]);
        Assert.Equal("1", settings["trt_fp16_enable"]);
        Assert.Equal("images:1x3x416x416", settings["trt_profile_min_shapes"]);
        Assert.Equal("images:8x3x416x416", settings["trt_profile_max_shapes"]);
        var line = Assert.Single(log.Lines);
        Assert.Equal($"Detect: building TensorRT engine for batch 1..8, first start only, cached at {cache}", line.Message);

        // Once an engine is cached, later starts say nothing.
        File.WriteAllBytes(Path.Combine(cache, "model.engine"), [1]);
        DetectorSessionFactory.AnnounceEngineBuild(options, settings, log);
        Assert.Single(log.Lines);
    }

    private static OpenCvSharp.Mat DogPicture() => OpenCvSharp.Cv2.ImRead(RepoPaths.Sample("dog.jpg"), OpenCvSharp.ImreadModes.Color);

    private static string TempCache() => Directory.CreateTempSubdirectory("stream-trt-").FullName;
}
