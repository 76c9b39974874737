using Microsoft.Extensions.Logging;

namespace Streaming.Detect;

/// <summary>
/// Every log line of the Detect stage, one place with event ids 3001-3099. Each component logs under its own category:
/// <see cref="DetectService"/> (batches, start, finish) and <see cref="Detector"/> (model, providers, memory).
/// </summary>
internal static partial class DetectLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Detect: model {Model} ({Head} head, input {Width}x{Height}, {Batch} batch, {Classes} classes) on ONNX Runtime {Provider}: {Reason}")]
    public static partial void ModelLoaded(ILogger logger, string model, HeadKind head, int width, int height, string batch, int classes, string provider, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Detect: execution provider {Provider} not used: {Reason}")]
    public static partial void ProviderUnavailable(ILogger logger, string provider, string reason);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Detect: warmed up in {Milliseconds:F0} ms (batch {Batch}, {Runs} run(s) at once)")]
    public static partial void WarmedUp(ILogger logger, double milliseconds, int batch, int runs);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "Detect: a batch of {Count} frames failed and was dropped")]
    public static partial void BatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Detect: finished after {Frames} frames ({Stale} stale frames dropped)")]
    public static partial void Finished(ILogger logger, long frames, long stale);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Detect: the labels file has {Labels} names but the model has {Classes} classes")]
    public static partial void LabelCountMismatch(ILogger logger, int labels, int classes);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Detect: CUDA page-locked host memory is not available ({Reason}); batches are copied from pageable memory")]
    public static partial void PinnedMemoryUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning, Message = "Detect: Provider auto fell back to {Provider}: {Reasons}")]
    public static partial void AutoFellBack(ILogger logger, string provider, string reasons);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Information, Message = "Detect: building TensorRT engine for {Batches}, first start only, cached at {CacheDir}")]
    public static partial void BuildingTensorRtEngine(ILogger logger, string batches, string cacheDir);
}
