using Streaming.Core;

namespace Streaming.Track;

/// <summary>
/// One track of <see cref="ByteTracker"/>: its Kalman state (mean and covariance over cx, cy, aspect, height and their
/// velocities), its life-cycle state and the facts its events report. Instances are pooled and reused by
/// <see cref="Reset"/>, so a track birth allocates nothing in steady state.
/// </summary>
internal sealed class Tracklet
{
    /// <summary>Most recent detection scores kept for the confirmation rule (<see cref="TrackOptions.ConfirmWindow"/> at most this).</summary>
    public const int MaxScoreHistory = 16;

    private readonly float[] _scores = new float[MaxScoreHistory];
    private int _scoreCount;
    private int _scoreNext;

    public long Id { get; private set; }

    /// <summary>
    /// The id its events and tracked objects carry: <see cref="Id"/>, or the reported id of the lost alerted track whose
    /// alert this track continues (<see cref="TrackOptions.ContinueAlerts"/>). <see cref="Id"/> keys its own state.
    /// </summary>
    public long ReportedId { get; set; }

    /// <summary>The box of the detection this track was born on.</summary>
    public BoxF FirstBox { get; private set; }

    public int ClassId { get; private set; }

    public double[] Mean { get; } = new double[8];

    public double[] Covariance { get; } = new double[64];

    /// <summary>The filter's state right after the last observation (for the observation-centric re-update).</summary>
    private readonly double[] _observedMean = new double[8];
    private readonly double[] _observedCovariance = new double[64];

    /// <summary>The box of the last matched detection.</summary>
    public BoxF LastObservation { get; private set; }

    /// <summary>Frame intervals predicted since the last observation (0 on a frame where the track was matched).</summary>
    public double StepsUnobserved { get; private set; }

    public TrackState State { get; set; }

    /// <summary>TrackStarted was emitted: the track is an alert (confirmed and its score and size cleared the rule).</summary>
    public bool Started { get; set; }

    /// <summary>Lost for longer than the lost buffer: no longer associated by IoU, still re-linkable until the relink window ends.</summary>
    public bool Dormant { get; set; }

    private List<PipelineEvent>? _held;

    /// <summary>Events about this track before it started (zone, line): emitted right after its TrackStarted. Made on first use (cameras with zones or lines only) and kept with the pooled track.</summary>
    public List<PipelineEvent> Held => _held ??= [];

    /// <summary>Moves the held-back events to <paramref name="eventsOut"/> (or drops them when it is null).</summary>
    public void ReleaseHeld(List<PipelineEvent>? eventsOut)
    {
        if (_held is { Count: > 0 })
        {
            eventsOut?.AddRange(_held);
            _held.Clear();
        }
    }

    /// <summary>Matched to a detection in the current update.</summary>
    public bool Matched { get; set; }

    public int Hits { get; set; }

    public DateTimeOffset FirstSeen { get; set; }

    public DateTimeOffset LastSeen { get; set; }

    /// <summary>Time since <see cref="LastSeen"/> spent on frames the model did not look at (gated): it does not age the track.</summary>
    public TimeSpan CoastedTime { get; set; }

    public DateTimeOffset LastUpdateEvent { get; set; }

    public float LastScore { get; set; }

    public float BestScore { get; set; }

    public long BestFrame { get; set; }

    public BoxF BestBox { get; set; }

    public DateTimeOffset BestTime { get; set; }

    /// <summary>The box of the filter's current state.</summary>
    public BoxF Box
    {
        get
        {
            var h = (float)Mean[3];
            var w = (float)(Mean[2] * Mean[3]);
            return BoxF.FromCenter((float)Mean[0], (float)Mean[1], w, h);
        }
    }

    /// <summary>Starts a new tentative track on the detection's box.</summary>
    public void Start(long id, in Detection detection, DateTimeOffset time)
    {
        Id = id;
        ReportedId = id;
        ClassId = detection.ClassId;
        State = TrackState.Tentative;
        Started = false;
        Dormant = false;
        _held?.Clear();
        _scoreCount = _scoreNext = 0;
        Matched = true;
        Hits = 1;
        FirstSeen = LastSeen = time;
        CoastedTime = TimeSpan.Zero;
        LastUpdateEvent = BestTime = default;
        LastScore = detection.Score;
        BestScore = 0;
        BestFrame = 0;
        BestBox = default;
        var box = detection.Box;
        FirstBox = box;
        var h = Math.Max(box.Height, 1e-3f);
        KalmanFilterXyah.Initiate(box.CenterX, box.CenterY, box.Width / h, h, Mean, Covariance);
        Observed(box);
        RecordScore(detection.Score);
    }

    /// <summary>The median of the last <paramref name="window"/> detection scores, those the track has not had yet counting as 0.</summary>
    public float MedianScore(int window)
    {
        window = Math.Clamp(window, 1, MaxScoreHistory);
        Span<float> last = stackalloc float[window];
        last.Clear();
        var have = Math.Min(window, _scoreCount);
        for (var i = 0; i < have; i++)
        {
            last[i] = _scores[(_scoreNext - 1 - i + MaxScoreHistory) % MaxScoreHistory];
        }

        last.Sort();
        return window % 2 == 1 ? last[window / 2] : 0.5f * (last[(window / 2) - 1] + last[window / 2]);
    }

    private void RecordScore(float score)
    {
        _scores[_scoreNext] = score;
        _scoreNext = (_scoreNext + 1) % MaxScoreHistory;
        _scoreCount = Math.Min(_scoreCount + 1, MaxScoreHistory);
    }

    /// <summary>Advances the filter by <paramref name="steps"/> frame intervals; a lost track keeps its size (ByteTrack zeroes vh).</summary>
    public void Predict(double steps)
    {
        if (State != TrackState.Confirmed && State != TrackState.Tentative)
        {
            Mean[7] = 0;
        }

        KalmanFilterXyah.Predict(Mean, Covariance, steps);
        StepsUnobserved += steps;
    }

    /// <summary>
    /// Corrects the filter with a matched detection. With <paramref name="reupdate"/>, a track re-found after missed
    /// frames is first rewound to its last observation and re-filtered along a straight virtual path from there to the
    /// new box, one virtual observation per missed frame (OC-SORT's observation-centric re-update, Cao et al. 2023), so
    /// the velocity drift accumulated while unobserved does not carry over.
    /// </summary>
    public void Correct(in Detection detection, DateTimeOffset time, bool reupdate)
    {
        var box = detection.Box;
        var gap = (int)Math.Round(StepsUnobserved);
        if (reupdate && gap >= 2)
        {
            _observedMean.CopyTo(Mean, 0);
            _observedCovariance.CopyTo(Covariance, 0);
            var step = StepsUnobserved / gap;
            var from = LastObservation;
            for (var i = 1; i < gap; i++)
            {
                var f = (float)i / gap;
                KalmanFilterXyah.Predict(Mean, Covariance, step);
                Update(BoxF.FromCenter(Lerp(from.CenterX, box.CenterX, f), Lerp(from.CenterY, box.CenterY, f), Lerp(from.Width, box.Width, f), Lerp(from.Height, box.Height, f)));
            }

            KalmanFilterXyah.Predict(Mean, Covariance, step);
        }

        Update(box);
        Observed(box);
        Hits++;
        LastSeen = time;
        CoastedTime = TimeSpan.Zero;
        LastScore = detection.Score;
        Matched = true;
        Dormant = false;
        RecordScore(detection.Score);
    }

    private static float Lerp(float a, float b, float f) => a + ((b - a) * f);

    private void Update(BoxF box)
    {
        var h = Math.Max(box.Height, 1e-3f);
        KalmanFilterXyah.Update(Mean, Covariance, box.CenterX, box.CenterY, box.Width / h, h);
    }

    private void Observed(BoxF box)
    {
        LastObservation = box;
        StepsUnobserved = 0;
        Mean.CopyTo(_observedMean, 0);
        Covariance.CopyTo(_observedCovariance, 0);
    }

    /// <summary>Takes the best picture of <paramref name="other"/>.</summary>
    public void CopyBest(Tracklet other)
    {
        BestScore = other.BestScore;
        BestFrame = other.BestFrame;
        BestBox = other.BestBox;
        BestTime = other.BestTime;
    }

    /// <summary>Records this frame as the track's best picture.</summary>
    public void SetBest(float score, long frameSequence, DateTimeOffset time)
    {
        BestScore = score;
        BestFrame = frameSequence;
        BestBox = Box;
        BestTime = time;
    }
}
