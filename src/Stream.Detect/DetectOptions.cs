using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>Which ONNX Runtime execution provider runs the model.</summary>
public enum ExecutionProviderKind
{
    /// <summary>TensorRT, else CUDA, else CPU: whichever the installed ONNX Runtime build and the machine offer first.</summary>
    Auto,
    TensorRt,
    Cuda,
    Cpu,
}

/// <summary>The layout of the model's output (how boxes and scores are encoded).</summary>
public enum HeadKind
{
    /// <summary>Recognised from the output shape.</summary>
    Auto,

    /// <summary>YOLOX raw grid: N x anchors x (5+C) of (grid dx, dy, log w, log h, obj, classes), strides 8/16/32.</summary>
    Yolox,

    /// <summary>YOLOv5: N x anchors x (5+C) of decoded (cx, cy, w, h, obj, classes) in input pixels.</summary>
    Yolov5,

    /// <summary>YOLOv8 / YOLO11: N x (4+C) x anchors of decoded (cx, cy, w, h, classes), no objectness.</summary>
    Yolov8,
}

/// <summary>Options of the Detect stage (config section <c>Detect</c>).</summary>
public sealed class DetectOptions : IGateSettings
{
    public const string Section = "Detect";

    /// <summary>The ONNX model. Relative paths are resolved against the current directory.</summary>
    [Required(ErrorMessage = "{0} is empty: set it to an ONNX model, e.g. models/yolox_nano.onnx (run scripts/setup.sh to fetch it)")]
    public string ModelPath { get; set; } = "models/yolox_nano.onnx";

    public ExecutionProviderKind Provider { get; set; } = ExecutionProviderKind.Auto;

    /// <summary>GPU ordinal for the CUDA and TensorRT providers.</summary>
    [Range(0, 64)]
    public int DeviceId { get; set; }

    /// <summary>Threads ONNX Runtime uses inside one operator (0: ONNX Runtime's default, one per core).</summary>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; }

    /// <summary>Threads running independent operators in parallel (0: default).</summary>
    [Range(0, 1024)]
    public int InterOpThreads { get; set; }

    /// <summary>
    /// Let idle ONNX Runtime threads spin-wait for the next run. Off by default: in a pipeline the cores are shared with
    /// decoding and pre-processing, and spinning threads take them away between runs.
    /// </summary>
    public bool AllowSpinning { get; set; }

    /// <summary>TensorRT engine cache directory (engines are reused across runs instead of rebuilt).</summary>
    [Required(ErrorMessage = "{0} is empty: set it to a writable directory for TensorRT engines, e.g. models/trt-cache")]
    public string TensorRtCacheDir { get; set; } = "models/trt-cache";

    /// <summary>TensorRT timing cache (speeds up building engines for new shapes).</summary>
    public bool TensorRtTimingCache { get; set; } = true;

    /// <summary>Let TensorRT run in half precision (faster on tensor cores, boxes and scores move by a little: see docs/detect.md).</summary>
    public bool Fp16 { get; set; }

    /// <summary>
    /// Let TensorRT run in 8-bit integers. Needs calibration: <see cref="Int8CalibrationTable"/>, or a QDQ-quantized
    /// model; without either the start stops with a one-line error.
    /// </summary>
    public bool Int8 { get; set; }

    /// <summary>A TensorRT INT8 calibration table for the model (used with <see cref="Int8"/>).</summary>
    [MaxLength(4096)]
    public string? Int8CalibrationTable { get; set; }

    /// <summary>Most frames per inference call. A dynamic-batch model runs them as one batch; a static one frame by frame.</summary>
    [Range(1, 256)]
    public int MaxBatch { get; set; } = 4;

    /// <summary>
    /// Batches the model runs at the same time, each in its own set of tensors, while one more batch is gathered and
    /// letterboxed; frames still leave Detect in order per camera. 0 (auto): 1 on a GPU, which keeps itself busy that
    /// way; on the CPU 2 (on two cores or more), each with <see cref="IntraOpThreads"/> = cores / 2 unless that is set,
    /// because one run of a small model does not keep every core busy. What that buys depends on the machine
    /// (docs/bench.md, "Concurrent runs": 1.0-1.48x the cameras over the 2-core machines measured).
    /// </summary>
    [Range(0, 16)]
    public int ConcurrentRuns { get; set; }

    /// <summary>What <see cref="ConcurrentRuns"/> comes to on <paramref name="provider"/> (CPU or a GPU provider).</summary>
    public int ConcurrentRunsOn(ExecutionProviderKind provider) => ConcurrentRuns > 0
        ? ConcurrentRuns
        : provider == ExecutionProviderKind.Cpu ? Math.Min(2, Environment.ProcessorCount) : 1;

    /// <summary>ONNX Runtime's intra-op threads per run on <paramref name="provider"/>: <see cref="IntraOpThreads"/>, or for concurrent CPU runs the cores shared out between them (0: ONNX Runtime's default).</summary>
    public int IntraOpThreadsOn(ExecutionProviderKind provider)
    {
        var runs = ConcurrentRunsOn(provider);
        return IntraOpThreads > 0 || provider != ExecutionProviderKind.Cpu || runs == 1
            ? IntraOpThreads
            : Math.Max(1, Environment.ProcessorCount / runs);
    }

    /// <summary>A batch is flushed this long after its first frame arrived even when not full.</summary>
    [Range(0, 10_000)]
    public int MaxWaitMs { get; set; } = 10;

    /// <summary>At most this many frames of one camera per batch, so a fast camera cannot starve the others.</summary>
    [Range(1, 256)]
    public int MaxPerCamera { get; set; } = 2;

    /// <summary>Live frames older than this (capture to batch) are dropped before inference and counted (0: never).</summary>
    [Range(0, 3_600_000)]
    public int StalenessMs { get; set; } = 1000;

    /// <summary>Minimum score (objectness x class score for YOLOX/YOLOv5) a detection needs.</summary>
    [Range(0.0, 1.0)]
    public float ScoreThreshold { get; set; } = 0.3f;

    /// <summary>IoU above which a lower-scored box of the same class is suppressed.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public float NmsThreshold { get; set; } = 0.45f;

    /// <summary>Classes to keep, by name ("person") or id ("0"); empty keeps all.</summary>
    public IList<string> Classes { get; } = [];

    /// <summary>Output layout; <see cref="HeadKind.Auto"/> recognises it from the output shape.</summary>
    public HeadKind Head { get; set; } = HeadKind.Auto;

    /// <summary>Class names, one per line, overriding the model's metadata and the COCO default.</summary>
    public string? LabelsFile { get; set; }

    /// <summary>Network input side in pixels for models whose input size is dynamic (0: the model's, else 640).</summary>
    [Range(0, 8192)]
    public int InputSize { get; set; }

    /// <summary>Most detections kept per frame after NMS.</summary>
    [Range(1, 100_000)]
    public int MaxDetections { get; set; } = 300;

    /// <summary>
    /// Motion gate for every camera that does not set its own <c>Gate</c>: <see cref="GateMode.None"/> infers every frame,
    /// <see cref="GateMode.Motion"/> only frames with motion, recent motion or moving detections, and otherwise one per
    /// <see cref="MotionOptions.RefreshSeconds"/> (docs/detect.md).
    /// </summary>
    public GateMode Gate { get; set; } = GateMode.None;

    /// <summary>The motion detector's thresholds and the gate's timing.</summary>
    [ValidateObjectMembers]
    public MotionOptions Motion { get; set; } = new();

    /// <summary>The model path as an absolute path.</summary>
    public string ResolvedModelPath => Path.GetFullPath(ModelPath, Directory.GetCurrentDirectory());

    /// <summary>The whole check of the <c>Detect</c> section (annotations and cross-field rules): the host runs it at start, <see cref="Detector.Load"/> before opening a model.</summary>
    public static SectionValidator<DetectOptions> Validator { get; } = new(Section, new DetectOptionsValidator(), new DetectOptionsRules());
}

/// <summary>DataAnnotations of <see cref="DetectOptions"/>, written by the options source generator.</summary>
[OptionsValidator]
public sealed partial class DetectOptionsValidator : IValidateOptions<DetectOptions>;

/// <summary>The <c>Detect</c> rules that look outside the section (files present) or span values.</summary>
public sealed class DetectOptionsRules : IValidateOptions<DetectOptions>
{
    public ValidateOptionsResult Validate(string? name, DetectOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.ModelPath) && !File.Exists(options.ResolvedModelPath))
        {
            errors.Add($"Detect:ModelPath: model file '{options.ResolvedModelPath}' not found: run scripts/setup.sh or set Detect:ModelPath");
        }

        if (options.LabelsFile is { Length: > 0 } labels && !File.Exists(Path.GetFullPath(labels)))
        {
            errors.Add($"Detect:LabelsFile: '{Path.GetFullPath(labels)}' not found: fix the path or remove the setting");
        }

        if (options.InputSize % 32 != 0)
        {
            errors.Add($"Detect:InputSize is {options.InputSize}: it must be a multiple of 32 (e.g. 416 or 640), or 0 for the model's own");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
