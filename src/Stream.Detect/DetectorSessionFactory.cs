using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Streaming.Detect;

/// <summary>
/// Opens the model's ONNX Runtime session on an execution provider: the configured one, or for <c>auto</c> TensorRT,
/// then CUDA, then the CPU, whichever this build of ONNX Runtime and the machine offer first; with the session options
/// of <see cref="DetectOptions"/> (threads, spinning) and TensorRT's settings (engine and timing caches, FP16, INT8,
/// one batch profile). A provider that cannot start is said in one line naming the missing library and the fix.
/// </summary>
internal static partial class DetectorSessionFactory
{
    [GeneratedRegex(@"([\w.+-]+\.so(?:\.\d+)*)\s*:\s*cannot open shared object file")]
    private static partial Regex MissingLibraryPattern();

#if ORT_GPU
    private const string BuildHint = "";
#else
    private const string BuildHint = "; build with -p:OnnxRuntimeFlavor=Gpu for CUDA/TensorRT";
#endif

    public static (InferenceSession Session, ExecutionProviderKind Provider, string Reason) Open(DetectOptions options, ILogger logger)
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
                    DetectLog.AutoFellBack(logger, provider.DisplayName(), string.Join("; ", skipped));
                }

                return (session, provider, reason);
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
                        $"Detect:Provider {provider.DisplayName()} cannot start: {missing} ({Shorten(message)}): {Fix(provider)}, or set Detect:Provider to auto or cpu", ex);
                }

                skipped.Add($"{provider.DisplayName()} unavailable ({missing}{BuildHint})");
                DetectLog.ProviderUnavailable(logger, provider.DisplayName(), message);
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

    internal static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string Shorten(string message) => message.Length <= 160 ? message : message[..160] + "...";
}
