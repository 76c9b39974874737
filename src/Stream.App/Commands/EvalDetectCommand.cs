using System.CommandLine;
using Streaming.Detect;
using Streaming.Eval;

namespace Streaming.App.Commands;

/// <summary><c>stream eval detect</c>: accuracy (COCO AP, P/R at the operating threshold) and speed of one or more detectors on labelled images.</summary>
internal static class EvalDetectCommand
{
    public static void Register(Command eval)
    {
        ArgumentNullException.ThrowIfNull(eval);
        eval.Subcommands.Add(Create());
    }

    private static Command Create()
    {
        var defaults = new DetectOptions();
        var images = new Option<DirectoryInfo>("--images") { Description = "Folder of the labelled images (for MOTChallenge: the sequence's img1/).", Required = true };
        var labels = new Option<string>("--labels") { Description = "COCO JSON (instances_*.json), a folder of YOLO txt files (with data.yaml, classes.txt or *.names) or a MOTChallenge gt.txt / sequence folder.", Required = true };
        var models = new Option<string[]>("--model") { Description = "ONNX detector; repeat to compare (named A, B, ...).", DefaultValueFactory = _ => [defaults.ModelPath] };
        var classes = new Option<string[]>("--classes") { Description = "Classes to evaluate, by the labels' names (comma-separated or repeated); default: all of the labels'.", AllowMultipleArgumentsPerToken = true };
        var outDir = new Option<DirectoryInfo>("--out") { Description = "Folder for metrics.json, pr.png and worst/.", DefaultValueFactory = _ => new DirectoryInfo("eval-detect") };
        var score = new Option<float>("--score") { Description = "Operating Detect:ScoreThreshold for precision, recall, speed and worst/ (AP runs at 0.001).", DefaultValueFactory = _ => defaults.ScoreThreshold };
        var provider = new Option<ExecutionProviderKind>("--provider") { Description = "auto, tensorrt, cuda or cpu (FP16 is compared too where TensorRT runs).", DefaultValueFactory = _ => defaults.Provider };
        var modelLabels = new Option<string?>("--model-labels") { Description = "The models' class names, one per line (Detect:LabelsFile); default: the model's names metadata, else COCO's 80." };
        var head = new Option<HeadKind>("--head") { Description = "Output head: auto, yolox, yolov5, yolov8 (Detect:Head).", DefaultValueFactory = _ => HeadKind.Auto };
        var batch = new Option<int>("--batch") { Description = "Pictures per Detect call (Detect:MaxBatch).", DefaultValueFactory = _ => defaults.MaxBatch };
        var worst = new Option<int>("--worst") { Description = "How many worst images (misses + false detections) to draw per model.", DefaultValueFactory = _ => 12 };
        var command = new Command("detect", "Detector accuracy on labelled images (COCO AP@.5, AP@[.5:.95], per class and size; P/R at the operating threshold) beside its images/s, through the Detect stage's own pre- and post-processing.")
        {
            images, labels, models, classes, outDir, score, provider, modelLabels, head, batch, worst,
        };
        command.SetAction((parse, ct) =>
        {
            var settings = new DetectionEvalSettings
            {
                Models = parse.GetValue(models)!,
                Classes = [.. (parse.GetValue(classes) ?? []).SelectMany(c => c.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))],
                ScoreThreshold = parse.GetValue(score),
                Provider = parse.GetValue(provider),
                Batch = parse.GetValue(batch),
                ModelLabelsFile = parse.GetValue(modelLabels),
                Head = parse.GetValue(head),
            };
            try
            {
                var set = LabelReader.Read(parse.GetValue(labels)!, parse.GetValue(images)!.FullName);
                Console.WriteLine($"labels: {set.Format}, {set.Images.Count} labelled images, {set.Images.Sum(i => i.Boxes.Count)} boxes, classes: {string.Join(", ", set.Classes)}");
                Unpaired("images without labels (not evaluated)", set.ImagesWithoutLabels);
                Unpaired("labels without images (not evaluated)", set.LabelsWithoutImages);
                if (set.Images.Count == 0)
                {
                    Console.Error.WriteLine("eval detect: no image has labels: check that --images and --labels name the same files");
                    return Task.FromResult(2);
                }

                var results = DetectionEvaluation.Run(set, settings, Console.WriteLine, ct);
                foreach (var model in results)
                {
                    Console.Write(DetectionReport.Table(model, settings.ScoreThreshold));
                }

                var dir = parse.GetValue(outDir)!.FullName;
                DetectionReport.Write(dir, set, results, settings, parse.GetValue(worst));
                Console.WriteLine($"wrote {Path.Combine(dir, "metrics.json")}, pr.png, worst/");
                Console.WriteLine(DetectionReport.Comparison(results));
                return Task.FromResult(0);
            }
            catch (Exception ex) when (ex is LabelFormatException or DetectModelException)
            {
                Console.Error.WriteLine($"eval detect: {ex.Message}");
                return Task.FromResult(2);
            }
        });
        return command;
    }

    private static void Unpaired(string what, IReadOnlyList<string> files)
    {
        if (files.Count == 0)
        {
            return;
        }

        var shown = string.Join(", ", files.Take(20));
        Console.WriteLine($"{what}: {files.Count}: {shown}{(files.Count > 20 ? ", ... (all in metrics.json)" : string.Empty)}");
    }
}
