using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Ingest.Motion;

namespace Streaming.Eval;

/// <summary>
/// The motion gate of the pipeline replayed over a MOTChallenge sequence: each frame of <c>img1/</c> goes through the
/// same <see cref="MotionDetector"/> that ingest runs, and the same <see cref="MotionGate"/> that Detect runs decides,
/// on the sequence's own clock (frame k at (k - 1) / frameRate s), whether the detections of the frame are used or the
/// tracker coasts. Lets <c>stream eval mot --gate motion</c> measure what gating costs in tracking quality.
/// </summary>
public sealed class MotGate : IDisposable
{
    private readonly string _directory;
    private readonly SeqInfo _sequence;
    private readonly MotionDetector _detector;
    private readonly SequenceClock _clock = new();
    private readonly MotionGate _gate;

    public MotGate(string sequenceDirectory, SeqInfo sequence, MotionOptions options, IReadOnlyList<MotionMask>? masks = null)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(options);
        _directory = sequenceDirectory;
        _sequence = sequence;
        _detector = new MotionDetector(options, masks);
        _gate = new MotionGate(options, _clock);
    }

    /// <summary>Frames whose detections were used.</summary>
    public int Inferred { get; private set; }

    /// <summary>Frames the gate skipped (the tracker coasted).</summary>
    public int Gated { get; private set; }

    /// <summary>Measures motion on frame <paramref name="frame"/> (1-based) and asks the gate whether the model would look at it.</summary>
    public bool ShouldInfer(int frame)
    {
        var path = Path.Combine(_directory, _sequence.ImageDirectory, frame.ToString("D6", System.Globalization.CultureInfo.InvariantCulture) + _sequence.ImageExtension);
        using var image = Cv2.ImRead(path, ImreadModes.Color);
        if (image.Empty())
        {
            throw new FileNotFoundException($"{path} is missing or not an image: the gated mode measures motion on the sequence's {_sequence.ImageDirectory}/ frames.", path);
        }

        _clock.Seconds = (frame - 1) / Math.Max(_sequence.FrameRate, 1e-3);
        var infer = _gate.ShouldInfer("eval", _detector.Detect(image));
        if (infer)
        {
            Inferred++;
        }
        else
        {
            Gated++;
        }

        return infer;
    }

    /// <summary>The detections of an inferred frame (the gate holds open while they move).</summary>
    public void Observe(IReadOnlyList<Detection> detections) => _gate.Observe("eval", detections);

    public void Dispose() => _detector.Dispose();

    /// <summary>A clock that reads the sequence's time.</summary>
    private sealed class SequenceClock : TimeProvider
    {
        public double Seconds { get; set; }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => (long)(Seconds * TimeSpan.TicksPerSecond) + TimeSpan.TicksPerDay; // never 0

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds(Seconds);
    }
}
