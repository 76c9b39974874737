using OpenCvSharp;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>Which tracker <see cref="MotRunner"/> runs.</summary>
public enum TrackerKind
{
    /// <summary>This stage's ByteTrack.</summary>
    ByteTrack,

    /// <summary>ByteTrack without the second (low-score) association: roughly SORT (Kalman + Hungarian on confident detections).</summary>
    Sort,

    /// <summary>Naive baseline: greedy IoU matching to the last box, confident detections only, no motion model, no memory.</summary>
    Iou,
}

/// <summary>Runs a tracker over a MOTChallenge sequence and returns tracker rows (person class only).</summary>
public static class MotRunner
{
    /// <summary>COCO class id of person (MOT detections carry no class; they are all persons).</summary>
    public const int PersonClass = 0;

    /// <summary>
    /// Runs on given detections (det.txt rows). Frame k is captured at (k - 1) / frameRate seconds. With a
    /// <paramref name="gate"/>, a frame the motion gate skips is not given its detections: the tracker coasts, as Track
    /// does on a gated frame of the pipeline.
    /// </summary>
    public static List<MotRow> RunOnDetections(SeqInfo sequence, IReadOnlyList<MotRow> detections, TrackOptions options, TrackerKind kind = TrackerKind.ByteTrack,
        MotGate? gate = null)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(options);
        var byFrame = detections.GroupBy(d => d.Frame).ToDictionary(g => g.Key, g => g.Select(d => new Detection(d.Box, d.Confidence, PersonClass)).ToArray());
        var last = Math.Max(sequence.Length, byFrame.Count == 0 ? 0 : byFrame.Keys.Max());
        if (gate is not null && kind == TrackerKind.Iou)
        {
            throw new ArgumentException("the motion gate needs a tracker that can coast: use --tracker bytetrack or sort", nameof(kind));
        }

        var tracker = kind == TrackerKind.Iou ? null : NewTracker(kind, options, sequence);
        var runner = Create(kind, options, sequence, tracker);
        var output = new List<MotRow>();
        var tracks = new List<TrackedObject>();
        for (var frame = 1; frame <= last; frame++)
        {
            var dets = byFrame.GetValueOrDefault(frame) ?? [];
            if (gate is null || gate.ShouldInfer(frame))
            {
                gate?.Observe(dets);
                runner(frame, Time(sequence, frame), dets, output);
            }
            else
            {
                tracks.Clear();
                tracker!.Coast(Time(sequence, frame), tracks, null);
                Emit(frame, tracks, output);
            }
        }

        return output;
    }

    /// <summary>
    /// Runs detection and tracking over the sequence's images (<c>img1/000001.jpg</c> ...), with the detector given
    /// by the caller (the Detect stage's detector, returning boxes in the image's pixels). When <paramref name="detections"/>
    /// is given, every frame's boxes are added to it as det.txt rows (frame, -1, x, y, w, h, score), for later
    /// <see cref="RunOnDetections"/> runs on the same boxes.
    /// </summary>
    public static List<MotRow> RunOnImages(string sequenceDirectory, SeqInfo sequence, Func<Mat, IReadOnlyList<Detection>> detector,
        TrackOptions options, TrackerKind kind = TrackerKind.ByteTrack, List<MotRow>? detections = null)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(detector);
        var runner = Create(kind, options, sequence);
        var output = new List<MotRow>();
        for (var frame = 1; frame <= sequence.Length; frame++)
        {
            var path = Path.Combine(sequenceDirectory, sequence.ImageDirectory, frame.ToString("D6", System.Globalization.CultureInfo.InvariantCulture) + sequence.ImageExtension);
            using var image = Cv2.ImRead(path, ImreadModes.Color);
            if (image.Empty())
            {
                throw new FileNotFoundException($"{path} is missing or not an image; a MOTChallenge sequence has {sequence.Length} frames in {sequence.ImageDirectory}/.", path);
            }

            var found = detector(image);
            if (detections is not null)
            {
                foreach (var d in found)
                {
                    detections.Add(new MotRow(frame, -1, d.Box.X1, d.Box.Y1, d.Box.Width, d.Box.Height, d.Score, -1, -1));
                }
            }

            runner(frame, Time(sequence, frame), [.. found], output);
        }

        return output;
    }

    private static DateTimeOffset Time(SeqInfo sequence, int frame) =>
        DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds((frame - 1) / Math.Max(sequence.FrameRate, 1e-3));

    /// <summary>The ByteTrack (or SORT-like) tracker of a run, knowing the sequence's picture size.</summary>
    private static ByteTracker NewTracker(TrackerKind kind, TrackOptions options, SeqInfo sequence) =>
        new("eval", kind == TrackerKind.Sort ? SortOptions(options) : options) { FrameWidth = sequence.Width, FrameHeight = sequence.Height };

    private static TrackOptions SortOptions(TrackOptions options)
    {
        var o = Clone(options);
        o.LowThreshold = o.HighThreshold;
        return o;
    }

    private static Action<int, DateTimeOffset, Detection[], List<MotRow>> Create(TrackerKind kind, TrackOptions options, SeqInfo sequence, ByteTracker? byteTracker = null)
    {
        switch (kind)
        {
            case TrackerKind.Iou:
            {
                var iou = new IouTracker((float)options.HighThreshold, 0.5f);
                var tracks = new List<TrackedObject>();
                return (frame, _, dets, output) =>
                {
                    tracks.Clear();
                    iou.Update(dets, tracks);
                    Emit(frame, tracks, output);
                };
            }

            default:
            {
                var tracker = byteTracker ?? NewTracker(kind, options, sequence);
                var tracks = new List<TrackedObject>();
                return (frame, time, dets, output) =>
                {
                    tracks.Clear();
                    tracker.Update(dets, time, frame, tracks, null);
                    Emit(frame, tracks, output);
                };
            }
        }
    }

    private static void Emit(int frame, List<TrackedObject> tracks, List<MotRow> output)
    {
        foreach (var t in tracks)
        {
            if (t.State != TrackState.Confirmed || t.ClassId != PersonClass)
            {
                continue;
            }

            output.Add(new MotRow(frame, (int)t.TrackId, t.Box.X1, t.Box.Y1, t.Box.Width, t.Box.Height, t.Score, -1, -1));
        }
    }

    /// <summary>A copy of the scalar options (zones and lines are not used in evaluation).</summary>
    public static TrackOptions Clone(TrackOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return new TrackOptions
        {
            HighThreshold = o.HighThreshold,
            LowThreshold = o.LowThreshold,
            NewTrackThreshold = o.NewTrackThreshold,
            MatchThreshold = o.MatchThreshold,
            LowMatchThreshold = o.LowMatchThreshold,
            TentativeMatchThreshold = o.TentativeMatchThreshold,
            FuseScore = o.FuseScore,
            LostBufferSeconds = o.LostBufferSeconds,
            MinHits = o.MinHits,
            ObservationCentricReupdate = o.ObservationCentricReupdate,
            ConfirmOnFirstFrame = o.ConfirmOnFirstFrame,
            BestScoreImprovement = o.BestScoreImprovement,
            Anchor = o.Anchor,
            ConfirmFrames = o.ConfirmFrames,
        };
    }
}

/// <summary>
/// The naive baseline (the IoU tracker of Bochinski et al. 2017, online form): detections at or above a score are
/// matched greedily, best IoU first, to the last box of each live track; a track not matched in a frame ends.
/// </summary>
public sealed class IouTracker(float minScore, float minIoU)
{
    private readonly List<(long Id, int ClassId, BoxF Box, float Score)> _live = [];
    private long _nextId = 1;

    public void Update(IReadOnlyList<Detection> detections, List<TrackedObject> output)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(output);
        var pairs = new List<(float IoU, int Track, int Det)>();
        for (var t = 0; t < _live.Count; t++)
        {
            for (var d = 0; d < detections.Count; d++)
            {
                var det = detections[d];
                if (det.Score < minScore || det.ClassId != _live[t].ClassId)
                {
                    continue;
                }

                var iou = _live[t].Box.IoU(det.Box);
                if (iou >= minIoU)
                {
                    pairs.Add((iou, t, d));
                }
            }
        }

        pairs.Sort((a, b) => b.IoU.CompareTo(a.IoU));
        var trackUsed = new bool[_live.Count];
        var detUsed = new bool[detections.Count];
        var next = new List<(long Id, int ClassId, BoxF Box, float Score)>();
        foreach (var (_, t, d) in pairs)
        {
            if (trackUsed[t] || detUsed[d])
            {
                continue;
            }

            trackUsed[t] = detUsed[d] = true;
            next.Add((_live[t].Id, _live[t].ClassId, detections[d].Box, detections[d].Score));
        }

        for (var d = 0; d < detections.Count; d++)
        {
            if (!detUsed[d] && detections[d].Score >= minScore)
            {
                next.Add((_nextId++, detections[d].ClassId, detections[d].Box, detections[d].Score));
            }
        }

        _live.Clear();
        _live.AddRange(next);
        foreach (var t in _live)
        {
            output.Add(new TrackedObject(t.Id, t.ClassId, t.Score, t.Box, TrackState.Confirmed));
        }
    }
}
