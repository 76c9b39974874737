using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenCvSharp;
using Streaming.Detect;
using Streaming.Bench;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Detect stage.</summary>
internal static class DetectCommands
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
        root.Subcommands.Add(CreateDetect());
        bench.Subcommands.Add(CreateBench());
    }

    private static Command CreateDetect()
    {
        var image = new Option<FileInfo>("--image") { Description = "Picture to detect objects in (any format OpenCV reads)", Required = true };
        var model = new Option<string>("--model") { Description = "ONNX model", DefaultValueFactory = _ => new DetectOptions().ModelPath };
        var score = new Option<float>("--score") { Description = "Score threshold", DefaultValueFactory = _ => 0.3f };
        var nms = new Option<float>("--nms") { Description = "NMS IoU threshold", DefaultValueFactory = _ => 0.45f };
        var classes = new Option<string[]>("--classes") { Description = "Keep only these classes (names or ids)", AllowMultipleArgumentsPerToken = true };
        var provider = new Option<ExecutionProviderKind>("--provider") { Description = "auto, tensorrt, cuda or cpu", DefaultValueFactory = _ => ExecutionProviderKind.Auto };
        var head = new Option<HeadKind>("--head") { Description = "Output head: auto, yolox, yolov5, yolov8", DefaultValueFactory = _ => HeadKind.Auto };
        var labels = new Option<string?>("--labels") { Description = "Class names file, one per line" };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {cls, label, score, x1, y1, x2, y2}" };
        var save = new Option<FileInfo?>("--save") { Description = "Also write the picture with the boxes drawn to this file (.jpg, .png)" };
        var command = new Command("detect", "Detects objects in one picture and prints them in the picture's pixels.")
        {
            image, model, score, nms, classes, provider, head, labels, json, save,
        };
        command.SetAction((parseResult, _) =>
        {
            var options = new DetectOptions
            {
                ModelPath = parseResult.GetValue(model)!,
                ScoreThreshold = parseResult.GetValue(score),
                NmsThreshold = parseResult.GetValue(nms),
                Provider = parseResult.GetValue(provider),
                Head = parseResult.GetValue(head),
                LabelsFile = parseResult.GetValue(labels),
                MaxBatch = 1,
            };
            foreach (var c in parseResult.GetValue(classes) ?? [])
            {
                options.Classes.Add(c);
            }

            var path = parseResult.GetValue(image)!.FullName;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"error: picture '{path}' not found: check the --image path");
                return Task.FromResult(2);
            }

            using var picture = Cv2.ImRead(path, ImreadModes.Color);
            if (picture.Empty())
            {
                Console.Error.WriteLine($"error: cannot read picture '{path}': check the path and that it is an image file");
                return Task.FromResult(2);
            }

            try
            {
                using var detector = Detector.Load(options);
                var detections = detector.Detect(picture);
                var rows = detections.Select(d => new DetectionRow(d.ClassId, detector.Labels[d.ClassId], MathF.Round(d.Score, 4),
                    MathF.Round(d.Box.X1, 1), MathF.Round(d.Box.Y1, 1), MathF.Round(d.Box.X2, 1), MathF.Round(d.Box.Y2, 1))).ToList();
                if (parseResult.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(rows, Json));
                }
                else
                {
                    foreach (var r in rows)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{r.label,-14} {r.score:F3}  ({r.x1:F0},{r.y1:F0})-({r.x2:F0},{r.y2:F0})"));
                    }
                }

                if (parseResult.GetValue(save) is { } output)
                {
                    foreach (var d in detections)
                    {
                        Hosting.Web.Overlay.Box(picture, d.Box, string.Create(CultureInfo.InvariantCulture, $"{detector.Labels[d.ClassId]} {d.Score:0.00}"), Hosting.Web.Overlay.ColourOf(d.ClassId));
                    }

                    var written = false;
                    try
                    {
                        written = Cv2.ImWrite(output.FullName, picture);
                    }
                    catch (OpenCVException)
                    {
                    }

                    if (!written)
                    {
                        Console.Error.WriteLine($"error: cannot write '{output.FullName}': --save needs an existing folder and a .jpg or .png name");
                        return Task.FromResult(2);
                    }
                }

                return Task.FromResult(0);
            }
            catch (DetectModelException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return Task.FromResult(2);
            }
        });
        return command;
    }

    private static Command CreateBench()
    {
        var batches = new Option<string>("--batch") { Description = "Batch sizes, comma-separated", DefaultValueFactory = _ => "1,2,4,8" };
        var model = new Option<string?>("--model") { Description = "ONNX model (default: models/yolox_nano.onnx for batch 1, models/yolox_nano_dynamic.onnx above)" };
        var iterations = new Option<int>("--iterations") { Description = "Batches per batch size for each path (paths alternated batch by batch; throughput from the 10th-percentile batch time)", DefaultValueFactory = _ => 40 };
        var image = new Option<string>("--image") { Description = "Picture the benchmark frames are cut from", DefaultValueFactory = _ => "samples/dog.jpg" };
        var size = new Option<string>("--size") { Description = "Frame size WxH (camera frames are letterboxed to the model input)", DefaultValueFactory = _ => "1280x960" };
        var provider = new Option<ExecutionProviderKind>("--provider") { Description = "auto, tensorrt, cuda or cpu", DefaultValueFactory = _ => ExecutionProviderKind.Auto };
        var command = new Command("detect", "Detection throughput per batch size, and the full path's throughput over bare InferenceSession.Run (last line).")
        {
            batches, model, iterations, image, size, provider,
        };
        command.SetAction((parseResult, _) =>
        {
            var sizes = parseResult.GetValue(batches)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
            var wh = parseResult.GetValue(size)!.Split('x');
            var (width, height) = (int.Parse(wh[0], CultureInfo.InvariantCulture), int.Parse(wh[1], CultureInfo.InvariantCulture));
            var imagePath = Path.GetFullPath(parseResult.GetValue(image)!);
            if (!File.Exists(imagePath))
            {
                Console.Error.WriteLine($"error: picture '{imagePath}' not found: run scripts/setup.sh or pass --image");
                return Task.FromResult(2);
            }

            using var picture = Cv2.ImRead(imagePath, ImreadModes.Color);
            if (picture.Empty())
            {
                Console.Error.WriteLine($"error: cannot read picture '{imagePath}': run scripts/setup.sh or pass --image");
                return Task.FromResult(2);
            }

            var frames = DetectBenchmark.MakeFrames(picture, sizes.Max(), width, height);
            try
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"bench detect: {width}x{height} frames, {parseResult.GetValue(iterations)} batches per size and path, {Environment.ProcessorCount} cores"));
                var rows = new List<DetectBenchRow>();
                foreach (var batch in sizes)
                {
                    var options = new DetectOptions
                    {
                        ModelPath = parseResult.GetValue(model) ?? (batch == 1 ? "models/yolox_nano.onnx" : "models/yolox_nano_dynamic.onnx"),
                        Provider = parseResult.GetValue(provider),
                    };
                    var row = DetectBenchmark.Run(options, frames, batch, parseResult.GetValue(iterations));
                    DetectBenchmark.Print(Console.Out, row);
                    rows.Add(row);
                }

                var worst = rows.MinBy(r => r.Ratio)!;
                if (rows.Count > 1)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"batch {rows[^1].Batch} / batch {rows[0].Batch} images/s: {rows[^1].PipelinedImagesPerSecond / rows[0].PipelinedImagesPerSecond:F2}x"));
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"ratio full Detect stage path / bare InferenceSession.Run: {worst.Ratio:F3} (lowest, at batch {worst.Batch}; {string.Join(", ", rows.Select(r => $"b{r.Batch} {r.Ratio:F3}"))}; sequential path {string.Join(", ", rows.Select(r => $"b{r.Batch} {r.SequentialRatio:F3}"))})"));
                return Task.FromResult(0);
            }
            catch (DetectModelException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return Task.FromResult(2);
            }
            finally
            {
                foreach (var f in frames)
                {
                    f.Dispose();
                }
            }
        });
        return command;
    }

    // Lower-case names: this is the JSON contract of `stream detect --json`.
#pragma warning disable IDE1006, CA1812
    private sealed record DetectionRow(int cls, string label, float score, float x1, float y1, float x2, float y2);
#pragma warning restore IDE1006, CA1812
}
