using Streaming.Core;

namespace Streaming.Track;

/// <summary>
/// When a confirmed track of a class may alert (emit TrackStarted): the median of its last detection scores reaches
/// <paramref name="Threshold"/> (0: no score rule) and its box area is within [<paramref name="MinArea"/>,
/// <paramref name="MaxArea"/>] pixels (0: no limit).
/// </summary>
public readonly record struct ConfirmRule(double Threshold, double MinArea, double MaxArea);

/// <summary>The alert side of <see cref="ByteTracker"/>: confirmation before alerting, and re-linking of lost tracks.</summary>
public sealed partial class ByteTracker
{
    /// <summary>A re-linked track's height may differ from the lost one's by at most this factor.</summary>
    private const double RelinkHeightRatio = 1.5;

    private readonly Func<int, ConfirmRule>? _confirmRules;
    private readonly ConfirmRule _defaultRule;

    /// <summary>
    /// The confirmation rule of <paramref name="classId"/> on this camera: the per-class rules given to the constructor,
    /// else the <see cref="TrackOptions"/> defaults. Every start decision goes through here.
    /// </summary>
    public ConfirmRule ConfirmRuleFor(int classId) => _confirmRules?.Invoke(classId) ?? _defaultRule;

    /// <summary>
    /// Starts a confirmed, matched track once its class's rule allows: TrackStarted on this frame (kept), then the zone
    /// and line events it held back, in order. Returns true when it started.
    /// </summary>
    private bool TryStart(Tracklet track, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        if (track.Started || track.State != TrackState.Confirmed)
        {
            return false;
        }

        // Tracked long enough (Frigate's min_initialized): a short fragment never alerts.
        if ((time - track.FirstSeen).TotalSeconds + 1e-6 < _options.ConfirmSeconds)
        {
            return false;
        }

        var rule = ConfirmRuleFor(track.ClassId);
        if (rule.Threshold > 0 && track.MedianScore(_options.ConfirmWindow) + 1e-6 < rule.Threshold) // scores are floats: 0.7f is just under 0.7
        {
            return false;
        }

        if (rule.MinArea > 0 || rule.MaxArea > 0)
        {
            var area = track.Box.Area;
            if ((rule.MinArea > 0 && area < rule.MinArea) || (rule.MaxArea > 0 && area > rule.MaxArea))
            {
                return false;
            }
        }

        if (ContinuedAlert(track) is { } lost)
        {
            ContinueAlert(track, lost);
            return false;
        }

        track.Started = true;
        track.SetBest(Math.Max(track.LastScore, 0f), frameSequence, time);
        track.LastUpdateEvent = time;
        if (eventsOut is not null)
        {
            eventsOut.Add(TrackEvents.Create(EventKind.TrackStarted, CameraId, track, time, frameSequence, track.Box, track.LastScore));
        }

        track.ReleaseHeld(eventsOut);
        return true;
    }

    /// <summary>
    /// A tentative track has just been confirmed on <paramref name="det"/>. When a lost track of the same class, lost
    /// before this one was born and within <see cref="TrackOptions.RelinkSeconds"/>, of a similar height, was heading
    /// where this one is (its centre within <see cref="TrackOptions.RelinkDistance"/> box heights of the path from the
    /// lost track's last observed centre to its predicted centre), the lost track continues on this detection (its
    /// filter re-updated across the gap) and the new one is dropped silently; not when it left through an edge of the
    /// picture (<see cref="LeftThePicture"/>). Returns the track that continues, or null.
    /// </summary>
    private Tracklet? TryRelink(Tracklet fresh, in Detection det, DateTimeOffset time)
    {
        if (_options.RelinkSeconds <= 0)
        {
            return null;
        }

        var box = det.Box;
        Tracklet? best = null;
        foreach (var lost in _tracks)
        {
            if (lost.State != TrackState.Lost || lost.ClassId != fresh.ClassId || lost.LastSeen >= fresh.FirstSeen)
            {
                continue;
            }

            var unseen = (time - lost.LastSeen - lost.CoastedTime).TotalSeconds;
            if (!TryPath(lost, unseen, box.Height, out var path) || path.Distance(box.CenterX, box.CenterY) > _options.RelinkDistance || LeftThePicture(lost))
            {
                continue;
            }

            if (best is not null || Claimed(fresh, path))
            {
                return null; // ambiguous: two lost tracks could be this one, or another visible track could be the lost one
            }

            best = lost;
        }

        if (best is null)
        {
            return null;
        }

        best.Correct(det, time, _options.ObservationCentricReupdate);
        best.State = TrackState.Confirmed;
        fresh.State = TrackState.Removed;
        fresh.Matched = false;
        return best;
    }

    /// <summary>
    /// The lost alerted track whose alert <paramref name="fresh"/> continues: one of the same class, lost before it was
    /// born and at most <see cref="TrackOptions.RelinkSeconds"/> earlier, of a similar height, and heading where it was
    /// born (the re-linking gate, without its veto: whichever of several lost alerted tracks this object is, it has had
    /// its alert). The nearest to its path; null when none.
    /// </summary>
    private Tracklet? ContinuedAlert(Tracklet fresh)
    {
        if (!_options.ContinueAlerts || _options.RelinkSeconds <= 0)
        {
            return null;
        }

        var born = fresh.FirstBox;
        var height = fresh.Box.Height; // its size now: the first box of an object coming out from behind another is often cut short
        Tracklet? best = null;
        var bestDistance = double.MaxValue;
        foreach (var lost in _tracks)
        {
            if (lost.State != TrackState.Lost || !lost.Started || lost.ClassId != fresh.ClassId || lost.LastSeen >= fresh.FirstSeen
                || !TryPath(lost, (fresh.FirstSeen - lost.LastSeen).TotalSeconds, height, out var path))
            {
                continue;
            }

            var distance = path.Distance(born.CenterX, born.CenterY);
            if (distance <= _options.RelinkDistance && distance < bestDistance && !Opposed(fresh, lost, path.Height) && !LeftThePicture(lost))
            {
                bestDistance = distance;
                best = lost;
            }
        }

        return best;
    }

    /// <summary>
    /// True when the two tracks walk in opposite directions (their velocities more than 90 degrees apart, both faster
    /// than a tenth of a box height a second): an object that was heading one way does not come back the other way
    /// while hidden; the new one is another object (one leaving the picture where another enters).
    /// </summary>
    private bool Opposed(Tracklet fresh, Tracklet lost, double h)
    {
        if (_interval <= 0)
        {
            return false;
        }

        double fx = fresh.Mean[4], fy = fresh.Mean[5], lx = lost.Mean[4], ly = lost.Mean[5];
        var slow = 0.1 * h * _interval; // pixels per frame interval
        var fs = Math.Sqrt((fx * fx) + (fy * fy));
        var ls = Math.Sqrt((lx * lx) + (ly * ly));
        return fs > slow && ls > slow && (fx * lx) + (fy * ly) < 0;
    }

    /// <summary>
    /// True when the lost track's last box touched an edge of the picture (within 1 % of its size) and it was moving out
    /// through that edge: the object has left, and a new track inside the picture is another one.
    /// </summary>
    private bool LeftThePicture(Tracklet lost)
    {
        if (FrameWidth <= 0 || FrameHeight <= 0)
        {
            return false;
        }

        var box = lost.LastObservation;
        double vx = lost.Mean[4], vy = lost.Mean[5];
        var mx = Math.Max(2, 0.01 * FrameWidth);
        var my = Math.Max(2, 0.01 * FrameHeight);
        return (box.X1 <= mx && vx < 0) || (box.X2 >= FrameWidth - mx && vx > 0)
            || (box.Y1 <= my && vy < 0) || (box.Y2 >= FrameHeight - my && vy > 0);
    }

    /// <summary>
    /// <paramref name="track"/> takes over the alert of <paramref name="lost"/>: its events and tracked objects carry the
    /// lost track's id, first-seen time and best picture, with no second TrackStarted; its zone and line state is the lost
    /// track's (its own held-back events are dropped); the lost track leaves silently, without TrackEnded. Its filter stays
    /// its own: unlike re-linking, which lost track it is may be a guess among several, each of which has had its alert.
    /// </summary>
    private void ContinueAlert(Tracklet track, Tracklet lost)
    {
        track.ReportedId = lost.ReportedId;
        track.Started = true;
        track.FirstSeen = lost.FirstSeen;
        track.CopyBest(lost);
        track.LastUpdateEvent = lost.LastUpdateEvent;
        track.ReleaseHeld(null);
        _monitor.Transfer(lost, track);
        lost.State = TrackState.Removed;
    }

    /// <summary>
    /// Where a lost track was heading after <paramref name="seconds"/> unseen: from its last observed centre towards its
    /// prediction, at most <see cref="TrackOptions.RelinkSpeed"/> box heights a second. False when it is past
    /// <see cref="TrackOptions.RelinkSeconds"/> or <paramref name="height"/> is not within a factor
    /// <see cref="RelinkHeightRatio"/> of its last height.
    /// </summary>
    private bool TryPath(Tracklet lost, double seconds, double height, out LostPath path)
    {
        path = default;
        var last = lost.LastObservation;
        var h = (double)last.Height;
        if (seconds > _options.RelinkSeconds || h <= 0 || height > h * RelinkHeightRatio || height * RelinkHeightRatio < h)
        {
            return false;
        }

        double ax = last.CenterX, ay = last.CenterY;
        double bx = lost.Mean[0], by = lost.Mean[1];
        var length = Math.Sqrt(((bx - ax) * (bx - ax)) + ((by - ay) * (by - ay)));
        var reach = _options.RelinkSpeed * h * Math.Max(seconds, 0);
        if (length > reach && length > 0)
        {
            bx = ax + ((bx - ax) * reach / length);
            by = ay + ((by - ay) * reach / length);
        }

        path = new LostPath(ax, ay, bx, by, h);
        return true;
    }

    /// <summary>
    /// True when a visible confirmed track other than <paramref name="fresh"/> is also on the lost track's path (within
    /// the gate): the lost object may be that one (occluded behind it, or taken over by it), so re-linking would guess.
    /// </summary>
    private bool Claimed(Tracklet fresh, in LostPath path)
    {
        foreach (var other in _tracks)
        {
            if (other == fresh || other.State != TrackState.Confirmed || other.ClassId != fresh.ClassId)
            {
                continue;
            }

            var o = other.Box;
            if (path.Distance(o.CenterX, o.CenterY) <= _options.RelinkDistance)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A lost track's path (segment A to B) and its last box height, the unit of distances from it.</summary>
    private readonly record struct LostPath(double Ax, double Ay, double Bx, double By, double Height)
    {
        /// <summary>The distance of (x, y) from the path, in box heights.</summary>
        public double Distance(double x, double y) => GeometryMath.DistanceToSegment(x, y, Ax, Ay, Bx, By) / Height;
    }
}
