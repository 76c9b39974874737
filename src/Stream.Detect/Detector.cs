using System.Diagnostics;
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
/// suppresses the boxes, mapped back to each picture's own pixels. A detector has one or more lanes, each with its own
/// tensors: one lane can be pre-processed while another runs the model (see <see cref="DetectService"/>). The
/// <c>Detect</c> methods use lane 0. Not thread-safe within a lane: one caller per lane at a time.
/// </summary>
public sealed class Detector : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly float _scoreThreshold;
    private readonly float _nmsThreshold;
    private readonly int _maxDetections;
    private readonly bool[] _classMask;
    private readonly int _slotFloats;
    private readonly int _outputFloats;
    private readonly int _runBatch;
    private readonly float[] _input;
    private readonly float[] _output;
    private readonly Mat[] _scratch;
    private readonly LetterboxTransform[] _transforms;
    private readonly List<Detection>[] _candidates;
    private readonly List<Detection>[] _kept;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    // Per lane. For a dynamic model: index n-1 holds the tensors of an n-picture batch. For a fixed-batch model: index j holds chunk j.
    private readonly OrtValue[][][] _inputArgs;
    private readonly OrtValue[][][] _outputArgs;
    private readonly Action<int>[] _prepareSlot;
    private readonly IReadOnlyList<Mat>?[] _pending;
    private readonly int[] _pendingStart;
    private bool _disposed;

    private Detector(InferenceSession session, ModelDescription model, DetectOptions options, int lanes)
    {
        Lanes = lanes;
        _session = session;
        _scoreThreshold = options.ScoreThreshold;
        _nmsThreshold = options.NmsThreshold;
        _maxDetections = options.MaxDetections;
        Model = model;
        _classMask = DetectorModel.ClassMask(options.Classes, model.Labels);
        _runBatch = model.FixedBatch ?? options.MaxBatch;
        Capacity = model.FixedBatch is { } fixedBatch
            ? (options.MaxBatch + fixedBatch - 1) / fixedBatch * fixedBatch
            : options.MaxBatch;
        _slotFloats = 3 * model.InputWidth * model.InputHeight;
        _outputFloats = model.OutputDim1 * model.OutputDim2;
        var slots = lanes * Capacity;
        _input = GC.AllocateArray<float>(slots * _slotFloats, pinned: true);
        _output = GC.AllocateArray<float>(slots * _outputFloats, pinned: true);
        _scratch = new Mat[slots];
        _transforms = new LetterboxTransform[slots];
        _candidates = new List<Detection>[slots];
        _kept = new List<Detection>[slots];
        for (var i = 0; i < slots; i++)
        {
            _scratch[i] = new Mat();
            _candidates[i] = new List<Detection>(256);
            _kept[i] = new List<Detection>(64);
        }

        _inputNames = [model.InputName];
        _outputNames = [model.OutputName];
        var variants = model.FixedBatch is null ? Capacity : Capacity / _runBatch;
        _inputArgs = new OrtValue[lanes][][];
        _outputArgs = new OrtValue[lanes][][];
        _prepareSlot = new Action<int>[lanes];
        _pending = new IReadOnlyList<Mat>?[lanes];
        _pendingStart = new int[lanes];
        for (var lane = 0; lane < lanes; lane++)
        {
            _inputArgs[lane] = new OrtValue[variants][];
            _outputArgs[lane] = new OrtValue[variants][];
            for (var v = 0; v < variants; v++)
            {
                var (offset, batch) = model.FixedBatch is null ? (0, v + 1) : (v * _runBatch, _runBatch);
                offset += lane * Capacity;
                _inputArgs[lane][v] = TensorArgs(_input, offset * _slotFloats, [batch, 3, model.InputHeight, model.InputWidth]);
                _outputArgs[lane][v] = TensorArgs(_output, offset * _outputFloats, [batch, model.OutputDim1, model.OutputDim2]);
            }

            var l = lane;
            _prepareSlot[lane] = i => Prepare(l * Capacity + i, _pending[l]![_pendingStart[l] + i]);
        }
    }

    private static OrtValue[] TensorArgs(float[] buffer, int start, long[] shape)
    {
        var length = (int)(shape.Aggregate(1L, (a, b) => a * b));
        return [OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(buffer, start, length), shape)];
    }

    /// <summary>Opens the model named by <paramref name="options"/>; throws <see cref="DetectModelException"/> with a one-line message when it cannot be used.</summary>
    public static Detector Load(DetectOptions options, ILogger? logger = null, int lanes = 1)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(lanes);
        logger ??= NullLogger.Instance;
        var errors = DetectOptions.Validator.Problems(options);
        if (errors.Count > 0)
        {
            throw new DetectModelException(string.Join("; ", errors));
        }

        var (session, provider, reason) = DetectorModel.Open(options, logger);
        try
        {
            var model = DetectorModel.Describe(session, options, provider, reason, logger);
            var detector = new Detector(session, model, options, lanes);
            DetectLog.ModelLoaded(logger, Path.GetFileName(model.Path), model.Head.Kind, model.InputWidth, model.InputHeight,
                model.FixedBatch is { } b ? $"static {b}" : "dynamic", model.ClassCount, provider, reason);
            return detector;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public ModelDescription Model { get; }

    /// <summary>Most pictures handled by one internal pass (larger lists are split).</summary>
    public int Capacity { get; }

    /// <summary>Independent sets of tensors (one can be filled while another runs).</summary>
    public int Lanes { get; }

    public IReadOnlyList<string> Labels => Model.Labels;

    /// <summary>Timings of the last call.</summary>
    public DetectTimings LastTimings { get; private set; }

    /// <summary>Runs the model once on blank pictures at full batch, so that the first real frame does not pay for lazy initialisation.</summary>
    public TimeSpan WarmUp()
    {
        var start = Stopwatch.GetTimestamp();
        Array.Fill(_input, Model.Head.PadValue * Model.Head.Scale);
        for (var lane = 0; lane < Lanes; lane++)
        {
            Infer(lane, Capacity);
        }

        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>Detects objects in one BGR picture; boxes are in its pixels.</summary>
    public Detection[] Detect(Mat image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var results = new Detection[1][];
        Detect([image], results);
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
            var t0 = Stopwatch.GetTimestamp();
            Preprocess(0, images, start, count);
            var t1 = Stopwatch.GetTimestamp();
            Infer(0, count);
            var t2 = Stopwatch.GetTimestamp();
            Postprocess(0, count, results.Slice(start, count));
            var t3 = Stopwatch.GetTimestamp();
            pre += Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
            infer += Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds;
            post += Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds;
        }

        LastTimings = new DetectTimings(pre, infer, post, images.Count);
    }

    /// <summary>Letterboxes images[start..start+count) into the batch tensor of <paramref name="lane"/>, in parallel.</summary>
    public void Preprocess(int lane, IReadOnlyList<Mat> images, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckLane(lane, count);
        if (count == 1)
        {
            Prepare(lane * Capacity, images[start]);
            return;
        }

        _pending[lane] = images;
        _pendingStart[lane] = start;
        try
        {
            Parallel.For(0, count, _prepareSlot[lane]);
        }
        finally
        {
            _pending[lane] = null;
        }
    }

    /// <summary>Runs the session on the first <paramref name="count"/> prepared pictures of <paramref name="lane"/>.</summary>
    public void Infer(int lane, int count)
    {
        CheckLane(lane, count);
        if (Model.FixedBatch is null)
        {
            _session.Run(_runOptions, _inputNames, _inputArgs[lane][count - 1], _outputNames, _outputArgs[lane][count - 1]);
            return;
        }

        for (var chunk = 0; chunk * _runBatch < count; chunk++)
        {
            _session.Run(_runOptions, _inputNames, _inputArgs[lane][chunk], _outputNames, _outputArgs[lane][chunk]);
        }
    }

    private void CheckLane(int lane, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(lane);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(lane, Lanes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Capacity);
    }

    /// <summary>Bare <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue})"/> on the prepared tensors, for benchmarks.</summary>
    internal InferenceSession Session => _session;

    internal (OrtValue[] Inputs, OrtValue[] Outputs, string[] InputNames, string[] OutputNames, RunOptions RunOptions) RunArguments(int variant) =>
        (_inputArgs[0][variant], _outputArgs[0][variant], _inputNames, _outputNames, _runOptions);

    /// <summary>Decodes, filters and suppresses the outputs of the first <paramref name="count"/> pictures of <paramref name="lane"/>.</summary>
    public void Postprocess(int lane, int count, Span<Detection[]> results)
    {
        CheckLane(lane, count);

        // Sequential on purpose: decoding one picture takes a fraction of a millisecond, less than handing work to pool threads.
        for (var i = 0; i < count; i++)
        {
            var slot = lane * Capacity + i;
            FinishSlot(slot);
            var kept = _kept[slot];
            var array = kept.Count == 0 ? [] : new Detection[kept.Count];
            for (var k = 0; k < kept.Count; k++)
            {
                var d = kept[k];
                array[k] = d with { Box = _transforms[slot].ToSource(d.Box) };
            }

            results[i] = array;
        }
    }

    private void FinishSlot(int slot)
    {
        var candidates = _candidates[slot];
        var kept = _kept[slot];
        candidates.Clear();
        kept.Clear();
        var output = new ReadOnlySpan<float>(_output, slot * _outputFloats, _outputFloats);
        YoloDecoder.Decode(Model.Head.Kind, output, Model.OutputDim1, Model.OutputDim2, Model.InputWidth, Model.InputHeight,
            _scoreThreshold, _classMask, candidates);
        Nms.Apply(candidates, _nmsThreshold, _maxDetections, kept);
    }

    private void Prepare(int slot, Mat image)
    {
        if (image.Type() != MatType.CV_8UC3 || image.Empty())
        {
            throw new ArgumentException($"Detect needs BGR 8-bit 3-channel pictures, got {image.Type()} {image.Width}x{image.Height}");
        }

        var head = Model.Head;
        var transform = LetterboxTransform.For(image.Width, image.Height, Model.InputWidth, Model.InputHeight, head.Centered,
            out var rw, out var rh);
        _transforms[slot] = transform;
        var source = image;
        if (rw != image.Width || rh != image.Height)
        {
            // The one resize: into this slot's pooled scratch picture (reallocated only when the size changes).
            Cv2.Resize(image, _scratch[slot], new Size(rw, rh), 0, 0, InterpolationFlags.Linear);
            source = _scratch[slot];
        }

        var tensor = new Span<float>(_input, slot * _slotFloats, _slotFloats);
        Letterbox.WritePlanar(source, tensor, Model.InputWidth, Model.InputHeight, (int)transform.PadX, (int)transform.PadY,
            head.Rgb, head.Scale, head.PadValue);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var args in _inputArgs.Concat(_outputArgs).SelectMany(lane => lane))
        {
            foreach (var value in args)
            {
                value.Dispose();
            }
        }

        foreach (var mat in _scratch)
        {
            mat.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
    }
}
