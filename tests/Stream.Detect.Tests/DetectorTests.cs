using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Testing;
using Streaming.Bench;

namespace Streaming.Detect.Tests;

/// <summary>The two YOLOX-Nano models (static batch 1 and dynamic batch), loaded once for the class.</summary>
public sealed class DetectorFixture : IDisposable
{
    public DetectorFixture()
    {
        Static = Detector.Load(new DetectOptions { ModelPath = RepoPaths.Model("yolox_nano.onnx"), Provider = ExecutionProviderKind.Cpu, MaxBatch = 4 });
        Dynamic = Detector.Load(new DetectOptions { ModelPath = RepoPaths.Model("yolox_nano_dynamic.onnx"), Provider = ExecutionProviderKind.Cpu, MaxBatch = 4 });
        Dog = Cv2.ImRead(RepoPaths.Sample("dog.jpg"), ImreadModes.Color);
    }

    public Detector Static { get; }

    public Detector Dynamic { get; }

    public Mat Dog { get; }

    /// <summary>Four different frames: the dog picture at camera size, mirrored, shifted, and a small one.</summary>
    public List<Mat> FourFrames()
    {
        var frames = DetectBenchmark.MakeFrames(Dog, 3, 1280, 960);
        var small = new Mat();
        Cv2.Resize(Dog, small, new Size(384, 288));
        frames.Add(small);
        return frames;
    }

    public void Dispose()
    {
        Static.Dispose();
        Dynamic.Dispose();
        Dog.Dispose();
    }
}

public class DetectorTests(DetectorFixture fixture) : IClassFixture<DetectorFixture>
{
    [Fact]
    public void Dog_picture_gives_the_reference_detections_within_a_hundredth_and_two_pixels()
    {
        var found = fixture.Static.Detect(fixture.Dog);

        // The reference implementation's figures from the issue (YOLOX-Nano, letterbox 416, score 0.3, NMS 0.45).
        (string Label, float Score, int X1, int Y1, int X2, int Y2)[] reference =
        [
            ("dog", 0.855f, 133, 207, 326, 543),
            ("bicycle", 0.803f, 52, 137, 572, 424),
            ("car", 0.798f, 466, 78, 692, 171),
            ("truck", 0.306f, 464, 78, 683, 173),
        ];
        Assert.Equal(reference.Length, found.Length);
        foreach (var r in reference)
        {
            var d = Assert.Single(found, d => fixture.Static.Labels[d.ClassId] == r.Label);
            Assert.InRange(d.Score, r.Score - 0.01f, r.Score + 0.01f);
            Assert.InRange(d.Box.X1, r.X1 - 2, r.X1 + 2);
            Assert.InRange(d.Box.Y1, r.Y1 - 2, r.Y1 + 2);
            Assert.InRange(d.Box.X2, r.X2 - 2, r.X2 + 2);
            Assert.InRange(d.Box.Y2, r.Y2 - 2, r.Y2 + 2);
        }
    }

    [Fact]
    public void An_I420_frame_is_letterboxed_from_its_planes_and_gives_the_same_detections_as_its_BGR_picture_without_a_full_size_conversion()
    {
        var pool = new FrameBufferPool();
        using var yuv = new Mat();
        Cv2.CvtColor(fixture.Dog, yuv, ColorConversionCodes.BGR2YUV_I420);
        using var frame = Frame.Rent(PixelFormat.I420, "cam", 1, fixture.Dog.Width, fixture.Dog.Height, DateTimeOffset.UtcNow, pool: pool);
        using (var target = Mat.FromPixelData(yuv.Rows, yuv.Cols, MatType.CV_8UC1, frame.PixelPointer))
        {
            yuv.CopyTo(target);
        }

        var fromPlanes = fixture.Static.Detect(frame);
        Assert.Equal(0, pool.BgrConversions);
        Assert.False(frame.HasBgr);

        using var roundTrip = new Mat();
        Cv2.CvtColor(yuv, roundTrip, ColorConversionCodes.YUV2BGR_I420);
        var fromBgr = fixture.Static.Detect(roundTrip);
        // Both paths resample differently (planes first, then colour), so a detection at the score threshold may be on
        // one side of it in one and not in the other; every confident one is found by both, in the same place.
        const float Confident = 0.4f;
        Assert.Equal(fromBgr.Count(d => d.Score >= Confident), fromPlanes.Count(d => d.Score >= Confident));
        Assert.Equal(3, fromPlanes.Count(d => d.Score >= Confident)); // dog, bicycle, car
        foreach (var d in fromBgr.Where(d => d.Score >= Confident))
        {
            var same = Assert.Single(fromPlanes, p => p.ClassId == d.ClassId && p.Box.IoU(d.Box) > 0.5f);
            Assert.InRange(same.Score, d.Score - 0.03f, d.Score + 0.03f);
            Assert.True(same.Box.IoU(d.Box) > 0.95f, $"{fixture.Static.Labels[d.ClassId]}: IoU {same.Box.IoU(d.Box):F3}");
        }
    }

    [Fact]
    public void A_batch_of_four_different_frames_equals_the_four_single_frame_results_in_order()
    {
        var frames = fixture.FourFrames();
        try
        {
            var batch = fixture.Dynamic.Detect(frames);
            Assert.Equal(4, fixture.Dynamic.LastTimings.Images);
            for (var i = 0; i < frames.Count; i++)
            {
                var single = fixture.Dynamic.Detect(frames[i]);
                Assert.NotEmpty(single);
                AssertSame(single, batch[i]);
            }

            // The frames differ, so their results do (mirrored frame 1 has its dog on the other side).
            Assert.NotEqual(Dog(batch[0]).Box.X1, Dog(batch[1]).Box.X1, 0);
        }
        finally
        {
            frames.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public void Static_and_dynamic_models_give_the_same_detections()
    {
        var frames = fixture.FourFrames();
        try
        {
            var fromStatic = fixture.Static.Detect(frames);
            var fromDynamic = fixture.Dynamic.Detect(frames);
            Assert.Equal(1, fixture.Static.Model.FixedBatch);
            Assert.True(fixture.Dynamic.Model.DynamicBatch);
            for (var i = 0; i < frames.Count; i++)
            {
                AssertSame(fromStatic[i], fromDynamic[i]);
            }
        }
        finally
        {
            frames.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public void Model_description_is_read_from_the_model()
    {
        var model = fixture.Static.Model;
        Assert.Equal((416, 416), (model.InputWidth, model.InputHeight));
        Assert.Equal(HeadKind.Yolox, model.Head.Kind);
        Assert.Equal(80, model.ClassCount);
        Assert.Equal("CPU", model.Provider);
        Assert.Equal("images", model.InputName);
    }

    [Fact]
    public void The_model_description_stores_the_provider_as_its_kind_and_derives_the_name_people_read()
    {
        var model = fixture.Static.Model;
        Assert.Equal(ExecutionProviderKind.Cpu, model.ProviderKind);

        // The name follows the kind; nothing parses a name back into a kind.
        Assert.Equal("TensorRT", (model with { ProviderKind = ExecutionProviderKind.TensorRt }).Provider);
        Assert.Equal("CUDA", (model with { ProviderKind = ExecutionProviderKind.Cuda }).Provider);
        Assert.Equal("auto", ExecutionProviderKind.Auto.DisplayName());
        Assert.DoesNotContain(typeof(ModelDescription).GetConstructors().Single().GetParameters(), p => p.ParameterType == typeof(string) && p.Name!.Contains("Provider", StringComparison.Ordinal) && p.Name != "ProviderReason");
        Assert.Equal(1, new DetectOptions().ConcurrentRunsOn((model with { ProviderKind = ExecutionProviderKind.TensorRt }).ProviderKind));
    }

    [Fact]
    public void Class_filter_keeps_only_the_configured_classes()
    {
        using var detector = Detector.Load(new DetectOptions
        {
            ModelPath = RepoPaths.Model("yolox_nano.onnx"),
            Provider = ExecutionProviderKind.Cpu,
            Classes = { "dog", "2" },
        });

        var found = detector.Detect(fixture.Dog);

        Assert.Equal(["car", "dog"], found.Select(d => detector.Labels[d.ClassId]).Order());
    }

    [Fact]
    public void Class_names_come_from_a_labels_file_when_one_is_given()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, CocoClasses.Names.Select((n, i) => i == 16 ? "hound" : n.ToUpperInvariant()));
            using var detector = Detector.Load(new DetectOptions
            {
                ModelPath = RepoPaths.Model("yolox_nano.onnx"),
                Provider = ExecutionProviderKind.Cpu,
                LabelsFile = file,
                Classes = { "hound" },
            });

            var found = Assert.Single(detector.Detect(fixture.Dog));

            Assert.Equal("hound", detector.Labels[found.ClassId]);
            Assert.Equal("PERSON", detector.Labels[0]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Steady_state_detection_allocates_only_the_results()
    {
        var detector = fixture.Static;
        List<Mat> images = [fixture.Dog];
        var results = new Detection[1][];
        detector.Detect(images, results);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++)
        {
            detector.Detect(images, results);
        }

        var perFrame = (GC.GetAllocatedBytesForCurrentThread() - before) / 5;

        // The 2 MB input tensor, the 1.2 MB output and the resized picture are reused; what is left is the result array
        // and ONNX Runtime's small per-run bookkeeping.
        Assert.InRange(perFrame, 0, 8 * 1024);
    }

    private static Detection Dog(Detection[] found) => Assert.Single(found, d => d.ClassId == 16);

    private static void AssertSame(Detection[] expected, Detection[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.Equal(expected[k].ClassId, actual[k].ClassId);
            Assert.Equal(expected[k].Score, actual[k].Score, 4);
            Assert.Equal(expected[k].Box.X1, actual[k].Box.X1, 1);
            Assert.Equal(expected[k].Box.Y1, actual[k].Box.Y1, 1);
            Assert.Equal(expected[k].Box.X2, actual[k].Box.X2, 1);
            Assert.Equal(expected[k].Box.Y2, actual[k].Box.Y2, 1);
        }
    }
}

public class ModelErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stream-detect-").FullName;

    [Fact]
    public void A_missing_model_gives_a_one_line_error_naming_the_path_and_the_fix()
    {
        var path = Path.Combine(_dir, "nope.onnx");
        var ex = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions { ModelPath = path }));
        AssertOneLine(ex.Message);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("scripts/setup.sh", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Detect:ModelPath", ex.Message, StringComparison.Ordinal);

        var errors = DetectOptions.Validator.Problems(new DetectOptions { ModelPath = path });
        AssertOneLine(Assert.Single(errors));
    }

    [Fact]
    public void A_file_that_is_not_onnx_gives_a_one_line_error()
    {
        var path = Path.Combine(_dir, "notes.onnx");
        File.WriteAllText(path, "this is not a model\nsecond line\n");
        var ex = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions { ModelPath = path, Provider = ExecutionProviderKind.Cpu }));
        AssertOneLine(ex.Message);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a usable ONNX model", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_whose_output_shape_matches_no_known_head_gives_a_one_line_error()
    {
        var path = Path.Combine(_dir, "odd.onnx");
        File.WriteAllBytes(path, TinyOnnx.Model(32, 32, [1, 3, 1024]));
        var ex = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions { ModelPath = path, Provider = ExecutionProviderKind.Cpu }));
        AssertOneLine(ex.Message);
        Assert.Contains("[1, 3, 1024]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("matches no known head", ex.Message, StringComparison.Ordinal);
        Assert.Contains("YOLOv8", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Detect:Head", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HeadKind.Yolov8, new long[] { 1, 7, 21 })]
    [InlineData(HeadKind.Yolox, new long[] { 1, 21, 8 })]
    [InlineData(HeadKind.Yolov5, new long[] { 1, 63, 8 })]
    public void A_model_of_each_head_layout_is_recognised_and_takes_class_names_from_its_metadata(HeadKind expected, long[] outputDims)
    {
        // A 32x32 input has 16 + 4 + 1 = 21 grid cells over strides 8, 16, 32; three classes.
        var path = Path.Combine(_dir, expected + ".onnx");
        File.WriteAllBytes(path, TinyOnnx.Model(32, 32, outputDims,
            new Dictionary<string, string> { ["names"] = "{0: 'cat', 1: 'dog', 2: 'bird'}" }));
        using var detector = Detector.Load(new DetectOptions { ModelPath = path, Provider = ExecutionProviderKind.Cpu, ScoreThreshold = 0.01f });

        Assert.Equal(expected, detector.Model.Head.Kind);
        Assert.Equal(["cat", "dog", "bird"], detector.Labels);
        Assert.Equal(expected != HeadKind.Yolox, detector.Model.Head.Rgb);
        using var picture = new OpenCvSharp.Mat(48, 64, OpenCvSharp.MatType.CV_8UC3, OpenCvSharp.Scalar.All(200));
        var found = detector.Detect(picture);

        // The model echoes letterboxed pixels as its output, so some (anchor, class) pairs pass a 0.01 threshold.
        Assert.NotEmpty(found);
        Assert.All(found, d =>
        {
            Assert.InRange(d.ClassId, 0, 2);
            Assert.InRange(d.Box.X1, 0, 64);
            Assert.InRange(d.Box.X2, 0, 64);
            Assert.InRange(d.Box.Y1, 0, 48);
            Assert.InRange(d.Box.Y2, 0, 48);
        });
    }

    [Fact]
    public void A_head_override_that_does_not_fit_the_output_gives_a_one_line_error()
    {
        var path = Path.Combine(_dir, "v8.onnx");
        File.WriteAllBytes(path, TinyOnnx.Model(32, 32, [1, 7, 21]));
        var ex = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions { ModelPath = path, Provider = ExecutionProviderKind.Cpu, Head = HeadKind.Yolox }));
        AssertOneLine(ex.Message);
        Assert.Contains("Detect:Head yolox needs N x 21 x (5+C)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_input_size_that_contradicts_a_fixed_size_model_gives_a_one_line_error()
    {
        var path = Path.Combine(_dir, "flat.onnx");
        File.WriteAllBytes(path, TinyOnnx.Model(32, 32, [1, 3, 1024]));
        var ex = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions { ModelPath = path, Provider = ExecutionProviderKind.Cpu, Head = HeadKind.Yolov8, InputSize = 64 }));
        AssertOneLine(ex.Message);
        Assert.Contains("Detect:InputSize", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_class_in_the_filter_gives_a_one_line_error()
    {
        var ex = Assert.Throws<DetectModelException>(() => Detector.Load(new DetectOptions
        {
            ModelPath = RepoPaths.Model("yolox_nano.onnx"),
            Provider = ExecutionProviderKind.Cpu,
            Classes = { "unicorn" },
        }));
        AssertOneLine(ex.Message);
        Assert.Contains("'unicorn'", ex.Message, StringComparison.Ordinal);
    }

    private static void AssertOneLine(string message)
    {
        Assert.DoesNotContain('\n', message);
        Assert.DoesNotContain('\r', message);
        Assert.NotEmpty(message);
    }

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}
