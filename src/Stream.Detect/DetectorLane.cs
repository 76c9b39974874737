using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>
/// Everything one batch needs inside a <see cref="Detector"/>: the letterboxed input tensor and the output tensor in
/// pinned host memory, one IOBinding per batch size (per chunk for a fixed-batch model) bound once over those tensors,
/// and per picture its scratch picture, letterbox transform and decode lists. While one lane runs the model, another can
/// be filled (see <see cref="DetectService"/>). Created by <see cref="Detector.CreateLane"/>; one caller at a time.
/// </summary>
public sealed class DetectorLane : IDisposable
{
    private readonly Detector _detector;
    private readonly HostTensorBuffer _input;
    private readonly HostTensorBuffer _output;
    private readonly int _slotFloats;
    private readonly int _outputFloats;
    private readonly Mat[] _scratch;
    private readonly FrameScaler[] _scalers;
    private readonly LetterboxTransform[] _transforms;
    private readonly List<Detection>[] _candidates;
    private readonly List<Detection>[] _kept;

    // For a dynamic model: index n-1 holds the n-picture batch. For a fixed-batch model: index j holds chunk j.
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs;
    private readonly OrtIoBinding[] _bindings;
    private readonly Action<int> _prepareSlot;
    private IReadOnlyList<Mat>? _pending;
    private IReadOnlyList<Frame>? _pendingFrames;
    private int _pendingStart;
    private bool _disposed;

    internal DetectorLane(Detector detector, HostTensorBuffer input, HostTensorBuffer output)
    {
        _detector = detector;
        _input = input;
        _output = output;
        var model = detector.Model;
        var capacity = detector.Capacity;
        _slotFloats = 3 * model.InputWidth * model.InputHeight;
        _outputFloats = model.OutputDim1 * model.OutputDim2;
        _scratch = new Mat[capacity];
        _scalers = new FrameScaler[capacity];
        _transforms = new LetterboxTransform[capacity];
        _candidates = new List<Detection>[capacity];
        _kept = new List<Detection>[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _scratch[i] = new Mat();
            _scalers[i] = new FrameScaler();
            _candidates[i] = new List<Detection>(256);
            _kept[i] = new List<Detection>(64);
        }

        var runBatch = detector.RunBatch;
        var variants = model.FixedBatch is null ? capacity : capacity / runBatch;
        _inputs = new OrtValue[variants];
        _outputs = new OrtValue[variants];
        _bindings = new OrtIoBinding[variants];
        for (var v = 0; v < variants; v++)
        {
            var (offset, batch) = model.FixedBatch is null ? (0, v + 1) : (v * runBatch, runBatch);
            _inputs[v] = input.View(offset * _slotFloats, [batch, 3, model.InputHeight, model.InputWidth]);
            _outputs[v] = output.View(offset * _outputFloats, [batch, model.OutputDim1, model.OutputDim2]);
            _bindings[v] = detector.Session.CreateIoBinding();
            _bindings[v].BindInput(model.InputName, _inputs[v]);
            _bindings[v].BindOutput(model.OutputName, _outputs[v]);
        }

        _prepareSlot = i =>
        {
            if (_pendingFrames is { } frames)
            {
                Prepare(i, frames[_pendingStart + i]);
            }
            else
            {
                Prepare(i, _pending![_pendingStart + i]);
            }
        };
    }

    /// <summary>Where the input tensor lives: GC-pinned managed memory, or page-locked memory of the CUDA provider (one DMA copy per batch).</summary>
    public string InputMemory => _input.Kind;

    /// <summary>Letterboxes images[start..start+count) into this lane's batch tensor, in parallel.</summary>
    public void Preprocess(IReadOnlyList<Mat> images, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(images);
        PrepareSlots(images, null, start, count);
    }

    /// <summary>
    /// Letterboxes frames[start..start+count) into this lane's batch tensor, in parallel, each from its own pixels: an
    /// I420 frame is scaled plane by plane to the letterbox size and converted there (<see cref="FrameScaler"/>), never
    /// at full resolution.
    /// </summary>
    public void Preprocess(IReadOnlyList<Frame> frames, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(frames);
        PrepareSlots(null, frames, start, count);
    }

    /// <summary>Fills slots 0..count-1 from one of the two lists (the other null): inline for one picture, else in parallel.</summary>
    private void PrepareSlots(IReadOnlyList<Mat>? images, IReadOnlyList<Frame>? frames, int start, int count)
    {
        Check(count);
        (_pending, _pendingFrames, _pendingStart) = (images, frames, start);
        try
        {
            if (count == 1)
            {
                _prepareSlot(0);
            }
            else
            {
                Parallel.For(0, count, _prepareSlot);
            }
        }
        finally
        {
            (_pending, _pendingFrames) = (null, null);
        }
    }

    /// <summary>Runs the model on the first <paramref name="count"/> prepared pictures through the bindings made for that batch size.</summary>
    public void Infer(int count)
    {
        Check(count);
        var session = _detector.Session;
        if (_detector.Model.FixedBatch is null)
        {
            session.RunWithBinding(_detector.RunOptions, _bindings[count - 1]);
            return;
        }

        for (var chunk = 0; chunk * _detector.RunBatch < count; chunk++)
        {
            session.RunWithBinding(_detector.RunOptions, _bindings[chunk]);
        }
    }

    /// <summary>Bare <c>InferenceSession.Run</c> on this lane's tensors, without the bindings: the baseline `stream bench detect` compares the stage path with.</summary>
    public void RunBare(int count)
    {
        Check(count);
        var session = _detector.Session;
        var model = _detector.Model;
        var last = model.FixedBatch is null ? count - 1 : (count - 1) / _detector.RunBatch;
        for (var v = model.FixedBatch is null ? last : 0; v <= last; v++)
        {
            session.Run(_detector.RunOptions, [model.InputName], [_inputs[v]], [model.OutputName], [_outputs[v]]);
        }
    }

    /// <summary>Fills the whole input tensor with the letterbox pad value (for warm-up runs).</summary>
    internal void FillBlank() => _input.Span().Fill(_detector.Model.Head.PadValue * _detector.Model.Head.Scale);

    /// <summary>Decodes, filters and suppresses the outputs of the first <paramref name="count"/> pictures, boxes in each picture's own pixels.</summary>
    public void Postprocess(int count, Span<Detection[]> results)
    {
        Check(count);
        if (results.Length < count)
        {
            throw new ArgumentException("results is shorter than the batch", nameof(results));
        }

        // Sequential on purpose: decoding one picture takes a fraction of a millisecond, less than handing work to pool threads.
        for (var i = 0; i < count; i++)
        {
            var kept = _detector.Decode(_output.Span().Slice(i * _outputFloats, _outputFloats), _candidates[i], _kept[i]);
            var array = kept.Count == 0 ? [] : new Detection[kept.Count];
            for (var k = 0; k < kept.Count; k++)
            {
                var d = kept[k];
                array[k] = d with { Box = _transforms[i].ToSource(d.Box) };
            }

            results[i] = array;
        }
    }

    private void Check(int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _detector.Capacity);
    }

    private void Prepare(int slot, Frame frame)
    {
        if (frame.Format == PixelFormat.Bgr24)
        {
            Prepare(slot, frame.Image);
            return;
        }

        var model = _detector.Model;
        var head = model.Head;
        var transform = LetterboxTransform.For(frame.Width, frame.Height, model.InputWidth, model.InputHeight, head.Centered,
            out var rw, out var rh);
        _transforms[slot] = transform;
        _scalers[slot].Scale(frame, _scratch[slot], rw, rh);
        var tensor = _input.Span().Slice(slot * _slotFloats, _slotFloats);
        Letterbox.WritePlanar(_scratch[slot], tensor, model.InputWidth, model.InputHeight, (int)transform.PadX, (int)transform.PadY,
            head.Rgb, head.Scale, head.PadValue);
    }

    private void Prepare(int slot, Mat image)
    {
        if (image.Type() != MatType.CV_8UC3 || image.Empty())
        {
            throw new ArgumentException($"Detect needs BGR 8-bit 3-channel pictures, got {image.Type()} {image.Width}x{image.Height}");
        }

        var model = _detector.Model;
        var head = model.Head;
        var transform = LetterboxTransform.For(image.Width, image.Height, model.InputWidth, model.InputHeight, head.Centered,
            out var rw, out var rh);
        _transforms[slot] = transform;
        var source = image;
        if (rw != image.Width || rh != image.Height)
        {
            // The one resize: into this slot's pooled scratch picture (reallocated only when the size changes).
            Cv2.Resize(image, _scratch[slot], new Size(rw, rh), 0, 0, InterpolationFlags.Linear);
            source = _scratch[slot];
        }

        var tensor = _input.Span().Slice(slot * _slotFloats, _slotFloats);
        Letterbox.WritePlanar(source, tensor, model.InputWidth, model.InputHeight, (int)transform.PadX, (int)transform.PadY,
            head.Rgb, head.Scale, head.PadValue);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var binding in _bindings)
        {
            binding.Dispose();
        }

        foreach (var value in _inputs.Concat(_outputs))
        {
            value.Dispose();
        }

        foreach (var scaler in _scalers)
        {
            scaler.Dispose();
        }

        foreach (var mat in _scratch)
        {
            mat.Dispose();
        }

        _input.Dispose();
        _output.Dispose();
    }
}

/// <summary>
/// A float tensor buffer in host memory that never moves: page-locked memory from the CUDA provider's pinned allocator
/// when the session runs on a GPU (the device copies it in one DMA transfer), else a GC-pinned array.
/// </summary>
internal sealed unsafe class HostTensorBuffer : IDisposable
{
    private readonly float[]? _array;
    private readonly OrtMemoryAllocation? _allocation;
    private readonly float* _pointer;

    private HostTensorBuffer(float[] array)
    {
        _array = array;
        _pointer = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array));
        Length = array.Length;
        Info = OrtMemoryInfo.DefaultInstance;
        Kind = "pinned managed memory";
    }

    private HostTensorBuffer(OrtMemoryAllocation allocation, int length)
    {
        _allocation = allocation;
        _pointer = (float*)allocation.DangerousGetHandle(); // the handle of an OrtMemoryAllocation is its memory
        Length = length;
        Info = allocation.Info;
        Kind = "CUDA page-locked memory";
    }

    public int Length { get; }

    public OrtMemoryInfo Info { get; }

    public string Kind { get; }

    public static HostTensorBuffer Managed(int length) => new(GC.AllocateArray<float>(length, pinned: true));

    public static HostTensorBuffer FromAllocator(OrtAllocator allocator, int length) =>
        new(allocator.Allocate(checked((uint)length * sizeof(float))), length);

    public Span<float> Span() => new(_pointer, Length);

    /// <summary>A tensor over floats [start, start + product(shape)) of this buffer; the buffer must outlive it.</summary>
    public OrtValue View(int start, long[] shape)
    {
        var floats = shape.Aggregate(1L, (a, b) => a * b);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + floats, Length);
        return OrtValue.CreateTensorValueWithData(Info, TensorElementType.Float, shape, (nint)(_pointer + start), floats * sizeof(float));
    }

    public void Dispose()
    {
        _allocation?.Dispose();
        GC.KeepAlive(_array);
    }
}
