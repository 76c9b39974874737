using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>Milliseconds spent in each part of the last <see cref="Detector.Detect(IReadOnlyList{Mat})"/> call.</summary>
public readonly record struct DetectTimings(double PreprocessMs, double InferenceMs, double PostprocessMs, int Images);

/// <summary>
/// A YOLO detector over one ONNX Runtime session: letterboxes pictures straight into a pinned batch tensor, runs the
/// model (real batches for a dynamic-batch model, picture by picture for a static one) and decodes, filters and
/// suppresses the boxes, mapped back to each picture's own pixels. The tensors live in <see cref="DetectorLane"/>s: one
/// lane can be pre-processed while another runs the model (see <see cref="DetectService"/>). The <c>Detect</c> methods
/// use the detector's own lane. Owns every lane it created: disposing the detector disposes them.
/// </summary>
public sealed class Detector : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly TimeProvider _time;
    private readonly float _scoreThreshold;
    private readonly float _nmsThreshold;
    private readonly int _maxDetections;
    private readonly bool[] _classMask;
    private readonly OrtMemoryInfo? _pinnedInfo;
    private readonly OrtAllocator? _pinnedAllocator;
    private readonly List<DetectorLane> _lanes = [];
    private readonly DetectorLane _lane;
    private bool _disposed;

    private Detector(InferenceSession session, ModelDescription model, DetectOptions options, TimeProvider time, ILogger logger)
    {
        _session = session;
        _time = time;
        _scoreThreshold = options.ScoreThreshold;
        _nmsThreshold = options.NmsThreshold;
        _maxDetections = options.MaxDetections;
        Model = model;
        _classMask = DetectorLabels.ClassMask(options.Classes, model.Labels);
        RunBatch = model.FixedBatch ?? options.MaxBatch;
        ConcurrentRuns = options.ConcurrentRunsOn(model.ProviderKind);
        Capacity = model.FixedBatch is { } fixedBatch
            ? (options.MaxBatch + fixedBatch - 1) / fixedBatch * fixedBatch
            : options.MaxBatch;
        if (model.ProviderKind != ExecutionProviderKind.Cpu)
        {
            // The GPU providers copy page-locked host memory to the device in one DMA transfer per batch.
            try
            {
                _pinnedInfo = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA_PINNED, OrtAllocatorType.DeviceAllocator, options.DeviceId, OrtMemType.CpuOutput);
                _pinnedAllocator = new OrtAllocator(session, _pinnedInfo);
            }
            catch (OnnxRuntimeException ex)
            {
                DetectLog.PinnedMemoryUnavailable(logger, DetectorSessionFactory.OneLine(ex.Message));
                _pinnedAllocator?.Dispose();
                _pinnedInfo?.Dispose();
                (_pinnedAllocator, _pinnedInfo) = (null, null);
            }
        }

        _lane = CreateLane();
    }

    /// <summary>Opens the model named by <paramref name="options"/>; throws <see cref="DetectModelException"/> with a one-line message when it cannot be used.</summary>
    public static Detector Load(DetectOptions options, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var errors = DetectOptions.Validator.Problems(options);
        if (errors.Count > 0)
        {
            throw new DetectModelException(string.Join("; ", errors));
        }

        var (session, provider, reason) = DetectorSessionFactory.Open(options, logger);
        try
        {
            var model = ModelInspector.Describe(session, options, provider, reason, logger);
            var detector = new Detector(session, model, options, time ?? TimeProvider.System, logger);
            DetectLog.ModelLoaded(logger, Path.GetFileName(model.Path), model.Head.Kind, model.InputWidth, model.InputHeight,
                model.FixedBatch is { } b ? $"static {b}" : "dynamic", model.ClassCount, model.Provider, reason);
            return detector;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The ONNX Runtime package this build links: "GPU" (CUDA, TensorRT and CPU providers) or "CPU" (CPU provider only).</summary>
#if ORT_GPU
    public const string Flavor = "GPU";
#else
    public const string Flavor = "CPU";
#endif

    public ModelDescription Model { get; }

    /// <summary>Batches the Detect stage keeps in the model at once (<see cref="DetectOptions.ConcurrentRuns"/> on the provider it got).</summary>
    public int ConcurrentRuns { get; }

    /// <summary>Most pictures handled by one internal pass (larger lists are split).</summary>
    public int Capacity { get; }

    public IReadOnlyList<string> Labels => Model.Labels;

    /// <summary>Timings of the last call.</summary>
    public DetectTimings LastTimings { get; private set; }

    /// <summary>Pictures per session run: the fixed batch of a static model, else <see cref="Capacity"/>.</summary>
    internal int RunBatch { get; }

    internal InferenceSession Session => _session;

    internal RunOptions RunOptions => _runOptions;

    /// <summary>A new set of tensors and bindings for <see cref="Capacity"/> pictures; the detector owns and disposes it.</summary>
    public DetectorLane CreateLane()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var slots = Capacity;
        var inputFloats = slots * 3 * Model.InputWidth * Model.InputHeight;
        var outputFloats = slots * Model.OutputDim1 * Model.OutputDim2;
        HostTensorBuffer? input = null, output = null;
        try
        {
            input = _pinnedAllocator is null ? HostTensorBuffer.Managed(inputFloats) : HostTensorBuffer.FromAllocator(_pinnedAllocator, inputFloats);
            output = _pinnedAllocator is null ? HostTensorBuffer.Managed(outputFloats) : HostTensorBuffer.FromAllocator(_pinnedAllocator, outputFloats);
            var lane = new DetectorLane(this, input, output);
            _lanes.Add(lane);
            return lane;
        }
        catch
        {
            input?.Dispose();
            output?.Dispose();
            throw;
        }
    }

    /// <summary>Runs the model once on blank pictures at full batch on each lane, so that the first real frame does not pay for lazy initialisation.</summary>
    public TimeSpan WarmUp(params IReadOnlyList<DetectorLane> lanes)
    {
        ArgumentNullException.ThrowIfNull(lanes);
        var start = _time.GetTimestamp();
        foreach (var lane in lanes.Count == 0 ? [_lane] : lanes)
        {
            lane.FillBlank();
            lane.Infer(Capacity);
        }

        return _time.GetElapsedTime(start);
    }

    /// <summary>Detects objects in one BGR picture; boxes are in its pixels.</summary>
    public Detection[] Detect(Mat image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var results = new Detection[1][];
        Detect([image], results);
        return results[0];
    }

    /// <summary>
    /// Detects objects in one frame, in whatever layout it holds its pixels (an I420 frame is letterboxed from its planes,
    /// as Detect's stage does); boxes are in the frame's pixels.
    /// </summary>
    public Detection[] Detect(Frame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var results = new Detection[1][];
        _lane.Preprocess([frame], 0, 1);
        _lane.Infer(1);
        _lane.Postprocess(1, results);
        return results[0];
    }

    /// <summary>Detects objects in each BGR picture; result i belongs to picture i.</summary>
    public Detection[][] Detect(IReadOnlyList<Mat> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var results = new Detection[images.Count][];
        Detect(images, results);
        return results;
    }

    /// <summary>Detects objects in each BGR picture into <paramref name="results"/> (same order), in passes of at most <see cref="Capacity"/>.</summary>
    public void Detect(IReadOnlyList<Mat> images, Span<Detection[]> results)
    {
        ArgumentNullException.ThrowIfNull(images);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (results.Length < images.Count)
        {
            throw new ArgumentException("results is shorter than images", nameof(results));
        }

        double pre = 0, infer = 0, post = 0;
        for (var start = 0; start < images.Count; start += Capacity)
        {
            var count = Math.Min(Capacity, images.Count - start);
            var t0 = _time.GetTimestamp();
            _lane.Preprocess(images, start, count);
            var t1 = _time.GetTimestamp();
            _lane.Infer(count);
            var t2 = _time.GetTimestamp();
            _lane.Postprocess(count, results.Slice(start, count));
            var t3 = _time.GetTimestamp();
            pre += _time.GetElapsedTime(t0, t1).TotalMilliseconds;
            infer += _time.GetElapsedTime(t1, t2).TotalMilliseconds;
            post += _time.GetElapsedTime(t2, t3).TotalMilliseconds;
        }

        LastTimings = new DetectTimings(pre, infer, post, images.Count);
    }

    /// <summary>Decodes one picture's output into <paramref name="candidates"/>, then keeps the NMS survivors in <paramref name="kept"/> (returned).</summary>
    internal List<Detection> Decode(ReadOnlySpan<float> output, List<Detection> candidates, List<Detection> kept)
    {
        candidates.Clear();
        kept.Clear();
        YoloDecoder.Decode(Model.Head.Kind, output, Model.OutputDim1, Model.OutputDim2, Model.InputWidth, Model.InputHeight,
            _scoreThreshold, _classMask, candidates);
        Nms.Apply(candidates, _nmsThreshold, _maxDetections, kept);
        return kept;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var lane in _lanes)
        {
            lane.Dispose();
        }

        _pinnedAllocator?.Dispose();
        _pinnedInfo?.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
