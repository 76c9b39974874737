using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>What was learned about a model when it was loaded: its input, output, head and class names.</summary>
public sealed record ModelDescription(
    string Path,
    string InputName,
    string OutputName,
    int InputWidth,
    int InputHeight,
    int? FixedBatch,
    int OutputDim1,
    int OutputDim2,
    HeadProfile Head,
    IReadOnlyList<string> Labels,
    string Provider,
    string ProviderReason)
{
    /// <summary>Number of classes the head scores.</summary>
    public int ClassCount => Labels.Count;

    public bool DynamicBatch => FixedBatch is null;

    /// <summary>The execution provider the session runs on (<see cref="Provider"/> is its name).</summary>
    public ExecutionProviderKind ProviderKind => DetectorModel.KindOf(Provider);
}

/// <summary>Opens an ONNX model with the best execution provider available and reads its description.</summary>
internal static partial class DetectorModel
{
    [GeneratedRegex(@"(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|""((?:[^""\\]|\\.)*)"")")]
    private static partial Regex UltralyticsNames();

    [GeneratedRegex(@"([\w.+-]+\.so(?:\.\d+)*)\s*:\s*cannot open shared object file")]
    private static partial Regex MissingLibraryPattern();

    public static (InferenceSession Session, string Provider, string Reason) Open(DetectOptions options, ILogger logger)
    {
        var path = options.ResolvedModelPath;
        if (!File.Exists(path))
        {
            throw new DetectModelException($"Detect model '{path}' not found: run scripts/setup.sh or set Detect:ModelPath");
        }

        var order = options.Provider switch
        {
            ExecutionProviderKind.Auto => new[] { ExecutionProviderKind.TensorRt, ExecutionProviderKind.Cuda, ExecutionProviderKind.Cpu },
            var one => [one],
        };
        var skipped = new List<string>();
        foreach (var provider in order)
        {
            SessionOptions? sessionOptions = null;
            try
            {
                sessionOptions = CreateSessionOptions(options, provider, logger);
                var session = new InferenceSession(path, sessionOptions);
                var reason = options.Provider == ExecutionProviderKind.Auto
                    ? (skipped.Count == 0 ? "first choice of auto" : "auto fell back: " + string.Join("; ", skipped))
                    : "configured";
                if (skipped.Count > 0)
                {
                    DetectLog.AutoFellBack(logger, Name(provider), string.Join("; ", skipped));
                }

                return (session, Name(provider), reason);
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or NotSupportedException or TypeInitializationException)
            {
                var message = OneLine(ex.Message);
                if (provider == ExecutionProviderKind.Cpu)
                {
                    throw new DetectModelException(
                        $"Detect model '{path}' is not a usable ONNX model ({message}): set Detect:ModelPath to a YOLO ONNX export", ex);
                }

                var missing = MissingLibrary(provider, message);
                if (order.Length == 1)
                {
                    throw new DetectModelException(
                        $"Detect:Provider {Name(provider)} cannot start: {missing} ({Shorten(message)}): {Fix(provider)}, or set Detect:Provider to auto or cpu", ex);
                }

                skipped.Add($"{Name(provider)} unavailable ({missing}{BuildHint})");
                DetectLog.ProviderUnavailable(logger, Name(provider), message);
            }
            finally
            {
                sessionOptions?.Dispose();
            }
        }

        throw new InvalidOperationException("unreachable: the CPU provider is always tried last");
    }

    /// <summary>Which library kept a provider from loading, in words: the first missing shared library named by the loader, else what the build lacks.</summary>
    internal static string MissingLibrary(ExecutionProviderKind provider, string message)
    {
        var match = MissingLibraryPattern().Match(message);
        if (match.Success)
        {
            return $"{match.Groups[1].Value} is missing";
        }

        var library = provider == ExecutionProviderKind.TensorRt ? "libonnxruntime_providers_tensorrt.so" : "libonnxruntime_providers_cuda.so";
#if ORT_GPU
        return message.Contains("CUDA", StringComparison.OrdinalIgnoreCase) && message.Contains("device", StringComparison.OrdinalIgnoreCase)
            ? "no CUDA device or driver (libcuda.so.1) answers"
            : $"{library} did not load";
#else
        return $"{library} is not in the CPU package of ONNX Runtime";
#endif
    }

#if ORT_GPU
    private static string Fix(ExecutionProviderKind provider) => provider == ExecutionProviderKind.TensorRt
        ? "install TensorRT 10 for CUDA 13 (libnvinfer) next to the CUDA 13 runtime, cuBLAS and cuDNN 9, and add their lib folders to LD_LIBRARY_PATH"
        : "install the NVIDIA driver, the CUDA 13 runtime, cuBLAS and cuDNN 9 (CUDA toolkit, or the nvidia-*-cu13 Python wheels) and add their lib folders to LD_LIBRARY_PATH";
#else
    private static string Fix(ExecutionProviderKind provider) =>
        $"this is the CPU build of ONNX Runtime: build with -p:OnnxRuntimeFlavor=Gpu on a machine with {(provider == ExecutionProviderKind.TensorRt ? "TensorRT and " : string.Empty)}CUDA";
#endif

    private static SessionOptions CreateSessionOptions(DetectOptions options, ExecutionProviderKind provider, ILogger logger)
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreadsOn(provider),
            InterOpNumThreads = options.InterOpThreads,
        };
        if (!options.AllowSpinning)
        {
            // Idle ONNX Runtime threads sleep instead of spinning, leaving the cores to decoding and pre-processing between runs.
            so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        }

        try
        {
            var device = options.DeviceId.ToString(CultureInfo.InvariantCulture);
            switch (provider)
            {
                case ExecutionProviderKind.TensorRt:
                {
                    // The CPU package has the same managed API; without the native provider these calls throw, which is how auto falls back.
                    using var trt = new OrtTensorRTProviderOptions();
                    var settings = TensorRtSettings(options, device);
                    trt.UpdateOptions(settings);
                    so.AppendExecutionProvider_Tensorrt(trt);

                    // Nodes TensorRT does not take run on CUDA rather than the CPU.
                    using var cudaFallback = new OrtCUDAProviderOptions();
                    cudaFallback.UpdateOptions(new Dictionary<string, string> { ["device_id"] = device });
                    so.AppendExecutionProvider_CUDA(cudaFallback);
                    AnnounceEngineBuild(options, settings, logger); // the providers loaded: the session about to open builds the engine
                    break;
                }

                case ExecutionProviderKind.Cuda:
                {
                    using var cuda = new OrtCUDAProviderOptions();
                    cuda.UpdateOptions(new Dictionary<string, string> { ["device_id"] = device });
                    so.AppendExecutionProvider_CUDA(cuda);
                    break;
                }

                default:
                    break;
            }

            return so;
        }
        catch
        {
            so.Dispose();
            throw;
        }
    }

    /// <summary>
    /// TensorRT's settings: engine and timing caches in <see cref="DetectOptions.TensorRtCacheDir"/>, FP16 when asked,
    /// INT8 only with calibration (a table, or a quantized QDQ model), and one batch profile 1..MaxBatch.
    /// </summary>
    internal static Dictionary<string, string> TensorRtSettings(DetectOptions options, string device)
    {
        var cache = Path.GetFullPath(options.TensorRtCacheDir);
        var settings = new Dictionary<string, string>
        {
            ["device_id"] = device,
            ["trt_fp16_enable"] = options.Fp16 ? "1" : "0",
            ["trt_engine_cache_enable"] = "1",
            ["trt_engine_cache_path"] = cache,
            ["trt_timing_cache_enable"] = options.TensorRtTimingCache ? "1" : "0",
            ["trt_timing_cache_path"] = cache,
        };
        if (options.Int8)
        {
            foreach (var (key, value) in Int8Settings(options))
            {
                settings[key] = value;
            }
        }

        var profile = TensorRtProfile(options);
        if (profile is { } p)
        {
            settings["trt_profile_min_shapes"] = p.Min;
            settings["trt_profile_opt_shapes"] = p.Opt;
            settings["trt_profile_max_shapes"] = p.Max;
        }

        Directory.CreateDirectory(cache);
        return settings;
    }

    /// <summary>Says, before the session builds it, that the first start builds the TensorRT engine and where it is cached (nothing once an engine is cached).</summary>
    internal static void AnnounceEngineBuild(DetectOptions options, Dictionary<string, string> settings, ILogger logger)
    {
        var cache = settings["trt_engine_cache_path"];
        if (!Directory.EnumerateFiles(cache, "*.engine").Any())
        {
            DetectLog.BuildingTensorRtEngine(logger, settings.ContainsKey("trt_profile_min_shapes") ? $"batch 1..{options.MaxBatch}" : "the model's fixed batch", cache);
        }
    }

    /// <summary>INT8 needs calibration: a TensorRT calibration table, or a model quantized with QuantizeLinear/DequantizeLinear nodes.</summary>
    private static IEnumerable<KeyValuePair<string, string>> Int8Settings(DetectOptions options)
    {
        yield return new("trt_int8_enable", "1");
        if (options.Int8CalibrationTable is { Length: > 0 } table)
        {
            var full = Path.GetFullPath(table);
            if (!File.Exists(full))
            {
                throw new DetectModelException($"Detect:Int8CalibrationTable '{full}' not found: point it at the calibration table TensorRT wrote for this model, or turn Detect:Int8 off");
            }

            yield return new("trt_int8_calibration_table_name", full);
            yield break;
        }

        if (!CarriesQuantization(options.ResolvedModelPath))
        {
            throw new DetectModelException($"Detect:Int8 is on but model '{options.ResolvedModelPath}' carries no INT8 calibration (no QuantizeLinear nodes) and Detect:Int8CalibrationTable is not set: give a calibration table, export a QDQ-quantized model, or use Detect:Fp16 instead");
        }
    }

    /// <summary>Whether the model has QuantizeLinear nodes (a QDQ model carries its own INT8 scales); op types are plain strings in the ONNX file.</summary>
    internal static bool CarriesQuantization(string modelPath)
    {
        var needle = "QuantizeLinear"u8;
        using var file = File.OpenRead(modelPath);
        var buffer = new byte[1 << 20];
        var carry = 0;
        int read;
        while ((read = file.Read(buffer, carry, buffer.Length - carry)) > 0)
        {
            var span = buffer.AsSpan(0, carry + read);
            if (span.IndexOf(needle) >= 0)
            {
                return true;
            }

            carry = Math.Min(needle.Length - 1, span.Length);
            span[^carry..].CopyTo(buffer);
        }

        return false;
    }

    /// <summary>
    /// A fixed optimisation profile (1 / MaxBatch / MaxBatch) so TensorRT builds one engine for every batch size the
    /// stage uses and never rebuilds at run time. Only for dynamic-batch models; the input name and size are read from
    /// the model itself with a metadata-only CPU session.
    /// </summary>
    private static (string Min, string Opt, string Max)? TensorRtProfile(DetectOptions options)
    {
        using var probe = new InferenceSession(options.ResolvedModelPath);
        var input = probe.InputMetadata.First();
        var dims = input.Value.Dimensions;
        if (dims.Length != 4 || dims[0] > 0)
        {
            return null;
        }

        var h = dims[2] > 0 ? dims[2] : (options.InputSize > 0 ? options.InputSize : 640);
        var w = dims[3] > 0 ? dims[3] : (options.InputSize > 0 ? options.InputSize : 640);
        string Shape(int batch) => string.Create(CultureInfo.InvariantCulture, $"{input.Key}:{batch}x{dims[1]}x{h}x{w}");
        return (Shape(1), Shape(options.MaxBatch), Shape(options.MaxBatch));
    }

    public static ModelDescription Describe(InferenceSession session, DetectOptions options, string provider, string reason, ILogger logger)
    {
        var path = options.ResolvedModelPath;
        var (inputName, input) = session.InputMetadata.First();
        var (outputName, output) = session.OutputMetadata.First();
        if (!input.IsTensor || input.ElementDataType != TensorElementType.Float)
        {
            throw new DetectModelException($"Detect model '{path}': input '{inputName}' is not a float32 tensor ({input.ElementDataType}): export the model with a float32 image input");
        }

        var inDims = input.Dimensions;
        if (inDims.Length != 4 || inDims[1] != 3)
        {
            var layout = inDims.Length == 4 && inDims[3] == 3 ? " (NHWC)" : string.Empty;
            throw new DetectModelException($"Detect model '{path}': input '{inputName}' has shape [{Dims(inDims)}]{layout}; an NCHW image input N x 3 x H x W is needed: export the model with an NCHW input");
        }

        var height = Side(inDims[2], options, path, "height");
        var width = Side(inDims[3], options, path, "width");
        int? fixedBatch = inDims[0] > 0 ? inDims[0] : null;

        var outDims = output.Dimensions;
        if (!output.IsTensor || output.ElementDataType != TensorElementType.Float || outDims.Length != 3)
        {
            throw new DetectModelException($"Detect model '{path}': output '{outputName}' has shape [{Dims(outDims)}], which matches no known head (supported: {HeadProfile.SupportedShapes(width, height)}); set Detect:Head if the model is one of these");
        }

        int dim1 = outDims[1], dim2 = outDims[2];
        if (dim1 <= 0 || dim2 <= 0)
        {
            // Symbolic axes besides the batch: learn the real sizes from one run on a blank picture.
            (dim1, dim2) = ProbeOutput(session, inputName, outputName, width, height);
        }

        HeadKind head;
        if (options.Head != HeadKind.Auto)
        {
            head = options.Head;
        }
        else
        {
            head = HeadProfile.Recognise(dim1, dim2, width, height)
                ?? throw new DetectModelException($"Detect model '{path}': output '{outputName}' has shape [{Dims(outDims)}] (per image {dim1} x {dim2}), which matches no known head for a {width}x{height} input (supported: {HeadProfile.SupportedShapes(width, height)}); set Detect:Head (yolox, yolov5, yolov8) if the model is one of these");
        }

        if (head == HeadKind.Yolox && dim1 != HeadProfile.GridCells(width, height))
        {
            throw new DetectModelException($"Detect model '{path}': Detect:Head yolox needs N x {HeadProfile.GridCells(width, height)} x (5+C) for a {width}x{height} input (grid cells over strides 8, 16, 32), the output is [{Dims(outDims)}]: fix Detect:Head or Detect:InputSize");
        }

        var classes = head == HeadKind.Yolov8 ? dim1 - 4 : dim2 - 5;
        if (classes <= 0)
        {
            throw new DetectModelException($"Detect model '{path}': a {head} head needs {(head == HeadKind.Yolov8 ? "4+C rows" : "5+C values per anchor")}, the output has shape [{Dims(outDims)}]: fix Detect:Head");
        }

        var labels = Labels(session, options, classes, logger);
        return new ModelDescription(path, inputName, outputName, width, height, fixedBatch, dim1, dim2,
            HeadProfile.For(head), labels, provider, reason);
    }

    private static int Side(int dim, DetectOptions options, string path, string what)
    {
        if (dim > 0)
        {
            if (options.InputSize > 0 && options.InputSize != dim)
            {
                throw new DetectModelException($"Detect:InputSize is {options.InputSize} but model '{path}' has a fixed input {what} of {dim}: remove Detect:InputSize or export the model with a dynamic size");
            }

            return dim;
        }

        return options.InputSize > 0 ? options.InputSize : 640;
    }

    private static (int, int) ProbeOutput(InferenceSession session, string inputName, string outputName, int width, int height)
    {
        var data = new float[3 * width * height];
        using var value = OrtValue.CreateTensorValueFromMemory(data, [1, 3, height, width]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [inputName], [value], [outputName]);
        var shape = results[0].GetTensorTypeAndShape().Shape;
        return shape.Length == 3 ? ((int)shape[1], (int)shape[2]) : (0, 0);
    }

    private static IReadOnlyList<string> Labels(InferenceSession session, DetectOptions options, int classes, ILogger logger)
    {
        List<string>? names = null;
        if (options.LabelsFile is { Length: > 0 } file)
        {
            names = [.. File.ReadAllLines(Path.GetFullPath(file)).Select(l => l.Trim()).Where(l => l.Length > 0)];
            if (names.Count != classes)
            {
                DetectLog.LabelCountMismatch(logger, names.Count, classes);
            }
        }
        else if (session.ModelMetadata.CustomMetadataMap.TryGetValue("names", out var meta))
        {
            names = ParseNames(meta);
        }

        if (names is null || names.Count == 0)
        {
            names = classes == CocoClasses.Names.Count ? [.. CocoClasses.Names] : [];
        }

        for (var i = names.Count; i < classes; i++)
        {
            names.Add("class" + i.ToString(CultureInfo.InvariantCulture));
        }

        return names.Count > classes ? names[..classes] : names;
    }

    /// <summary>Parses Ultralytics' <c>names</c> metadata, a Python dict such as <c>{0: 'person', 1: 'bicycle'}</c>.</summary>
    public static List<string> ParseNames(string text)
    {
        var byId = new SortedDictionary<int, string>();
        foreach (Match m in UltralyticsNames().Matches(text))
        {
            var id = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            byId[id] = m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value;
        }

        var list = new List<string>();
        foreach (var (id, name) in byId)
        {
            while (list.Count < id)
            {
                list.Add("class" + list.Count.ToString(CultureInfo.InvariantCulture));
            }

            list.Add(name);
        }

        return list;
    }

    /// <summary>Turns the configured class filter (names or ids) into a mask over the model's classes; empty keeps all.</summary>
    public static bool[] ClassMask(IEnumerable<string> filter, IReadOnlyList<string> labels)
    {
        var entries = filter.Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => f.Trim()).ToList();
        if (entries.Count == 0)
        {
            return [];
        }

        var mask = new bool[labels.Count];
        foreach (var entry in entries)
        {
            var id = int.TryParse(entry, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1;
            if (id < 0)
            {
                for (var i = 0; i < labels.Count; i++)
                {
                    if (string.Equals(labels[i], entry, StringComparison.OrdinalIgnoreCase))
                    {
                        id = i;
                        break;
                    }
                }
            }

            if (id < 0 || id >= labels.Count)
            {
                throw new DetectModelException($"Detect:Classes: '{entry}' is not a class of the model (it has {labels.Count}: {string.Join(", ", labels.Take(5))}, ...): use a class name or an id from 0 to {labels.Count - 1}");
            }

            mask[id] = true;
        }

        return mask;
    }

#if ORT_GPU
    private const string BuildHint = "";
#else
    private const string BuildHint = "; build with -p:OnnxRuntimeFlavor=Gpu for CUDA/TensorRT";
#endif

    private static string Name(ExecutionProviderKind kind) => kind switch
    {
        ExecutionProviderKind.TensorRt => "TensorRT",
        ExecutionProviderKind.Cuda => "CUDA",
        _ => "CPU",
    };

    /// <summary>The provider a <see cref="Name"/> names.</summary>
    internal static ExecutionProviderKind KindOf(string name) => name switch
    {
        "TensorRT" => ExecutionProviderKind.TensorRt,
        "CUDA" => ExecutionProviderKind.Cuda,
        _ => ExecutionProviderKind.Cpu,
    };

    private static string Dims(int[] dims) => string.Join(", ", dims.Select(d => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : "?"));

    internal static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string Shorten(string message) => message.Length <= 160 ? message : message[..160] + "...";
}
