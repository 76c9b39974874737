using Streaming.Core;

namespace Streaming.Track;

/// <summary>
/// One track of <see cref="ByteTracker"/>: its Kalman state (mean and covariance over cx, cy, aspect, height and their
/// velocities), its life-cycle state and the facts its events report. Instances are pooled and reused by
/// <see cref="Reset"/>, so a track birth allocates nothing in steady state.
/// </summary>
internal sealed class Tracklet
{
    public long Id { get; private set; }

    public int ClassId { get; private set; }

    public double[] Mean { get; } = new double[8];

    public double[] Covariance { get; } = new double[64];

    public TrackState State { get; set; }

    public bool WasConfirmed { get; set; }

    /// <summary>Matched to a detection in the current update.</summary>
    public bool Matched { get; set; }

    public int Hits { get; set; }

    public DateTimeOffset FirstSeen { get; set; }

    public DateTimeOffset LastSeen { get; set; }

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
        ClassId = detection.ClassId;
        State = TrackState.Tentative;
        WasConfirmed = false;
        Matched = true;
        Hits = 1;
        FirstSeen = LastSeen = time;
        LastUpdateEvent = BestTime = default;
        LastScore = detection.Score;
        BestScore = 0;
        BestFrame = 0;
        BestBox = default;
        var box = detection.Box;
        var h = Math.Max(box.Height, 1e-3f);
        KalmanFilterXyah.Initiate(box.CenterX, box.CenterY, box.Width / h, h, Mean, Covariance);
    }

    /// <summary>Advances the filter by <paramref name="steps"/> frame intervals; a lost track keeps its size (ByteTrack zeroes vh).</summary>
    public void Predict(double steps)
    {
        if (State != TrackState.Confirmed && State != TrackState.Tentative)
        {
            Mean[7] = 0;
        }

        KalmanFilterXyah.Predict(Mean, Covariance, steps);
    }

    /// <summary>Corrects the filter with a matched detection.</summary>
    public void Correct(in Detection detection, DateTimeOffset time)
    {
        var box = detection.Box;
        var h = Math.Max(box.Height, 1e-3f);
        KalmanFilterXyah.Update(Mean, Covariance, box.CenterX, box.CenterY, box.Width / h, h);
        Hits++;
        LastSeen = time;
        LastScore = detection.Score;
        Matched = true;
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
