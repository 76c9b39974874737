using System.Globalization;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using OpenCvSharp;
using Streaming.Detect;

// gpubench --model M --image I --batch 1,2,4,8,16,32 --iterations 40 --provider cuda,tensorrt --precision fp32,fp16
// One line per batch size, provider and precision (DetectBenchmark's row: images/s of the stage path, of the sequential
// path and of bare InferenceSession.Run, and their ratio), then a summary per provider and precision.
var settings = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["--model"] = "yolox_nano_dynamic.onnx",
    ["--image"] = "dog.jpg",
    ["--batch"] = "1,2,4,8,16,32",
    ["--iterations"] = "40",
    ["--provider"] = "cuda,tensorrt",
    ["--precision"] = "fp32,fp16",
    ["--size"] = "1280x960",
};
for (var i = 0; i + 1 < args.Length; i += 2)
{
    if (!settings.ContainsKey(args[i]))
    {
        Console.Error.WriteLine($"error: unknown option {args[i]}: the options are {string.Join(", ", settings.Keys)}");
        return 2;
    }

    settings[args[i]] = args[i + 1];
}

static List<string> List(string value) => [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
var batches = List(settings["--batch"]).Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToList();
var iterations = int.Parse(settings["--iterations"], CultureInfo.InvariantCulture);
var wh = settings["--size"].Split('x');
using var picture = Cv2.ImRead(settings["--image"], ImreadModes.Color);
using Streaming.Bench;
if (picture.Empty())
{
    Console.Error.WriteLine($"error: cannot read picture '{settings["--image"]}': pass --image");
    return 2;
}

var frames = DetectBenchmark.MakeFrames(picture, batches.Max(), int.Parse(wh[0], CultureInfo.InvariantCulture), int.Parse(wh[1], CultureInfo.InvariantCulture));
var logger = new ConsoleLines();
Console.WriteLine($"gpubench: {Detector.Flavor} package, {Environment.ProcessorCount} cores, {iterations} batches per size and path, model {Path.GetFileName(settings["--model"])}");
var failed = false;
foreach (var provider in List(settings["--provider"]).Select(p => Enum.Parse<ExecutionProviderKind>(p, ignoreCase: true)))
{
    foreach (var precision in List(settings["--precision"]))
    {
        var fp16 = precision.Equals("fp16", StringComparison.OrdinalIgnoreCase);
        if (fp16 && provider != ExecutionProviderKind.TensorRt)
        {
            Console.WriteLine($"{provider} {precision}: skipped (FP16 of an FP32 model is a TensorRT setting, Detect:Fp16)");
            continue;
        }

        var rows = new List<DetectBenchRow>();
        try
        {
            foreach (var batch in batches)
            {
                var options = new DetectOptions { ModelPath = settings["--model"], Provider = provider, Fp16 = fp16, TensorRtCacheDir = "trt-cache" };
                var row = DetectBenchmark.Run(options, frames, batch, iterations, logger);
                Console.Write($"{precision} ");
                DetectBenchmark.Print(Console.Out, row);
                rows.Add(row);
            }
        }
        catch (DetectModelException ex)
        {
            Console.WriteLine($"{provider} {precision}: not run: {ex.Message}");
            failed = true;
            continue;
        }

        var one = rows.Find(r => r.Batch == 1);
        var eight = rows.Find(r => r.Batch == 8);
        var worst = rows.MinBy(r => r.Ratio)!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"summary {provider} {precision}: batch 8 / batch 1 images/s {(one is null || eight is null ? "n/a" : (eight.PipelinedImagesPerSecond / one.PipelinedImagesPerSecond).ToString("F2", CultureInfo.InvariantCulture) + "x")} (goal >= 3x); stage path / bare Run lowest {worst.Ratio:F3} at batch {worst.Batch} (goal >= 0.9)"));
    }
}

frames.ForEach(f => f.Dispose());
return failed ? 1 : 0;

/// <summary>Log lines to stdout, one per line, so that the TensorRT build progress shows between the rows.</summary>
internal sealed class ConsoleLines : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Console.WriteLine($"  log {logLevel}: {formatter(state, exception)}");
        }
    }
}
