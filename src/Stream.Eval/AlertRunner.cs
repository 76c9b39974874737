using Streaming.Core;
using Streaming.Track;

namespace Streaming.Eval;

/// <summary>
/// How <see cref="AlertRunner"/> feeds a sequence to the tracker: every frame, every <see cref="Every"/>-th frame (a lower
/// frame rate), and with a share of the frames dropped (<see cref="Drop"/>, each kept frame dropped with that probability,
/// seeded, as a live camera's queue drops frames when Detect falls behind).
/// </summary>
public sealed record AlertRunOptions(int Every = 1, double Drop = 0, int Seed = 1);

/// <summary>
/// Runs the real <see cref="ByteTracker"/> over a MOTChallenge sequence and collects the events it emits, as the Track
/// stage would for a camera playing the sequence: frame k (from 1) is captured at (k - 1) / frameRate seconds and has
/// frame sequence k - 1 (a recording's first decoded frame is sequence 0), so its events map back with
/// <c>frame = frame_seq + 1</c>. At the end the open tracks end as at the pipeline's final drain.
/// </summary>
public static class AlertRunner
{
    /// <summary>The frames that are tracked (1-based), after <see cref="AlertRunOptions.Every"/> and <see cref="AlertRunOptions.Drop"/>.</summary>
    public static List<int> Frames(SeqInfo sequence, AlertRunOptions run)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(run);
        var rng = new Random(run.Seed);
        var frames = new List<int>();
        for (var frame = 1; frame <= sequence.Length; frame += Math.Max(1, run.Every))
        {
            if (run.Drop > 0 && rng.NextDouble() < run.Drop)
            {
                continue;
            }

            frames.Add(frame);
        }

        return frames;
    }

    /// <summary>
    /// Runs on the detections <paramref name="detect"/> gives for each tracked frame; returns the events in order. When
    /// <paramref name="tracks"/> is given it receives the confirmed person tracks of every tracked frame as MOT rows (for
    /// HOTA and IDF1 of the same run).
    /// </summary>
    public static List<PipelineEvent> Run(SeqInfo sequence, Func<int, IReadOnlyList<Detection>> detect, TrackOptions options, AlertRunOptions run,
        List<MotRow>? tracks = null)
    {
        ArgumentNullException.ThrowIfNull(detect);
        ArgumentNullException.ThrowIfNull(options);
        var tracker = new ByteTracker(sequence.Name, options) { FrameWidth = sequence.Width, FrameHeight = sequence.Height };
        var events = new List<PipelineEvent>();
        var time = DateTimeOffset.UnixEpoch;
        var now = tracks is null ? null : new List<TrackedObject>();
        foreach (var frame in Frames(sequence, run))
        {
            time = DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds((frame - 1) / Math.Max(sequence.FrameRate, 1e-3));
            now?.Clear();
            tracker.Update(detect(frame), time, frame - 1, now, events);
            if (now is not null)
            {
                foreach (var t in now)
                {
                    if (t.State == TrackState.Confirmed && t.ClassId == MotRunner.PersonClass)
                    {
                        tracks!.Add(new MotRow(frame, checked((int)t.TrackId), t.Box.X1, t.Box.Y1, t.Box.Width, t.Box.Height, t.Score, -1, -1));
                    }
                }
            }
        }

        tracker.EndAll(time, "shutdown", events);
        return events;
    }

    /// <summary>Runs on det.txt rows (all persons).</summary>
    public static List<PipelineEvent> RunOnDetections(SeqInfo sequence, IReadOnlyList<MotRow> detections, TrackOptions options, AlertRunOptions run,
        List<MotRow>? tracks = null)
    {
        ArgumentNullException.ThrowIfNull(detections);
        var byFrame = detections.GroupBy(d => d.Frame)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<Detection>)[.. g.Select(d => new Detection(d.Box, d.Confidence, MotRunner.PersonClass))]);
        return Run(sequence, f => byFrame.GetValueOrDefault(f) ?? [], options, run, tracks);
    }

    /// <summary>Scores a run's events against the sequence's ground truth (gt/gt.txt).</summary>
    public static AlertScore Score(string sequenceDirectory, SeqInfo sequence, IEnumerable<PipelineEvent> events, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        var gt = MotFile.ReadGroundTruth(Path.Combine(sequenceDirectory, "gt", "gt.txt"));
        return AlertScorer.Score(name ?? sequence.Name, gt, sequence.FrameRate, events.Select(e => AlertScorer.FromPipeline(e)));
    }
}
