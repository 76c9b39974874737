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
/// suppresses the boxes, mapped back to each picture's own pixels. Not thread-safe: one caller at a time.
/// </summary>
public sealed class Detector : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly DetectOptions _options;
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

    // For a dynamic model: index n-1 holds the tensors of an n-picture batch. For a fixed-batch model: index j holds chunk j.
    private readonly OrtValue[][] _inputArgs;
    private readonly OrtValue[][] _outputArgs;
    private readonly Action<int> _prepareSlot;
    private readonly Action<int> _finishSlot;
    private IReadOnlyList<Mat>? _pending;
    private int _pendingStart;
    private bool _disposed;

    private Detector(InferenceSession session, ModelDescription model, DetectOptions options)
    {
        _session = session;
        _options = options;
        Model = model;
        _classMask = DetectorModel.ClassMask(options.Classes, model.Labels);
        _runBatch = model.FixedBatch ?? options.MaxBatch;
        Capacity = model.FixedBatch is { } fixedBatch
            ? (options.MaxBatch + fixedBatch - 1) / fixedBatch * fixedBatch
            : options.MaxBatch;
        _slotFloats = 3 * model.InputWidth * model.InputHeight;
        _outputFloats = model.OutputDim1 * model.OutputDim2;
        _input = GC.AllocateArray<float>(Capacity * _slotFloats, pinned: true);
        _output = GC.AllocateArray<float>(Capacity * _outputFloats, pinned: true);
        _scratch = new Mat[Capacity];
        _transforms = new LetterboxTransform[Capacity];
        _candidates = new List<Detection>[Capacity];
        _kept = new List<Detection>[Capacity];
        for (var i = 0; i < Capacity; i++)
        {
            _scratch[i] = new Mat();
            _candidates[i] = new List<Detection>(256);
            _kept[i] = new List<Detection>(64);
        }

        _inputNames = [model.InputName];
        _outputNames = [model.OutputName];
        var variants = model.FixedBatch is null ? Capacity : Capacity / _runBatch;
        _inputArgs = new OrtValue[variants][];
        _outputArgs = new OrtValue[variants][];
        for (var v = 0; v < variants; v++)
        {
            var (offset, batch) = model.FixedBatch is null ? (0, v + 1) : (v * _runBatch, _runBatch);
            _inputArgs[v] =
            [
                OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                    new Memory<float>(_input, offset * _slotFloats, batch * _slotFloats),
                    [batch, 3, model.InputHeight, model.InputWidth]),
            ];
            _outputArgs[v] =
            [
                OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                    new Memory<float>(_output, offset * _outputFloats, batch * _outputFloats),
                    [batch, model.OutputDim1, model.OutputDim2]),
            ];
        }

        _prepareSlot = i => Prepare(i, _pending![_pendingStart + i]);
        _finishSlot = FinishSlot;
    }

    /// <summary>Opens the model named by <paramref name="options"/>; throws <see cref="DetectModelException"/> with a one-line message when it cannot be used.</summary>
    public static Detector Load(DetectOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new DetectModelException(errors[0]);
        }

        var (session, provider, reason) = DetectorModel.Open(options, logger);
        try
        {
            var model = DetectorModel.Describe(session, options, provider, reason, logger);
            var detector = new Detector(session, model, options);
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

    public IReadOnlyList<string> Labels => Model.Labels;

    /// <summary>Timings of the last call.</summary>
    public DetectTimings LastTimings { get; private set; }

    /// <summary>Runs the model once on blank pictures at full batch, so that the first real frame does not pay for lazy initialisation.</summary>
    public TimeSpan WarmUp()
    {
        var start = Stopwatch.GetTimestamp();
        Array.Fill(_input, Model.Head.PadValue * Model.Head.Scale);
        Infer(Capacity);
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
            Preprocess(images, start, count);
            var t1 = Stopwatch.GetTimestamp();
            Infer(count);
            var t2 = Stopwatch.GetTimestamp();
            Postprocess(count, results.Slice(start, count));
            var t3 = Stopwatch.GetTimestamp();
            pre += Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
            infer += Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds;
            post += Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds;
        }

        LastTimings = new DetectTimings(pre, infer, post, images.Count);
    }

    /// <summary>Letterboxes images[start..start+count) into the batch tensor, in parallel.</summary>
    internal void Preprocess(IReadOnlyList<Mat> images, int start, int count)
    {
        if (count == 1)
        {
            Prepare(0, images[start]);
            return;
        }

        _pending = images;
        _pendingStart = start;
        try
        {
            Parallel.For(0, count, _prepareSlot);
        }
        finally
        {
            _pending = null;
        }
    }

    /// <summary>Runs the session on the first <paramref name="count"/> prepared pictures.</summary>
    internal void Infer(int count)
    {
        if (Model.FixedBatch is null)
        {
            _session.Run(_runOptions, _inputNames, _inputArgs[count - 1], _outputNames, _outputArgs[count - 1]);
            return;
        }

        for (var chunk = 0; chunk * _runBatch < count; chunk++)
        {
            _session.Run(_runOptions, _inputNames, _inputArgs[chunk], _outputNames, _outputArgs[chunk]);
        }
    }

    /// <summary>Bare <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue})"/> on the prepared tensors, for benchmarks.</summary>
    internal InferenceSession Session => _session;

    internal (OrtValue[] Inputs, OrtValue[] Outputs, string[] InputNames, string[] OutputNames, RunOptions RunOptions) RunArguments(int variant) =>
        (_inputArgs[variant], _outputArgs[variant], _inputNames, _outputNames, _runOptions);

    /// <summary>Decodes, filters and suppresses the outputs of the first <paramref name="count"/> pictures.</summary>
    internal void Postprocess(int count, Span<Detection[]> results)
    {
        if (count == 1)
        {
            FinishSlot(0);
        }
        else
        {
            Parallel.For(0, count, _finishSlot);
        }

        for (var i = 0; i < count; i++)
        {
            var kept = _kept[i];
            var array = kept.Count == 0 ? [] : new Detection[kept.Count];
            for (var k = 0; k < kept.Count; k++)
            {
                var d = kept[k];
                array[k] = d with { Box = _transforms[i].ToSource(d.Box) };
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
            _options.ScoreThreshold, _classMask, candidates);
        Nms.Apply(candidates, _options.NmsThreshold, _options.MaxDetections, kept);
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
        foreach (var args in _inputArgs.Concat(_outputArgs))
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
