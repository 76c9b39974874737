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
    /// filter re-updated across the gap) and the new one is dropped silently. Returns the track that continues, or null.
    /// </summary>
    private Tracklet? TryRelink(Tracklet fresh, in Detection det, DateTimeOffset time)
    {
        if (_options.RelinkSeconds <= 0)
        {
            return null;
        }

        var box = det.Box;
        Tracklet? best = null;
        var bestDistance = double.MaxValue;
        foreach (var lost in _tracks)
        {
            if (lost.State != TrackState.Lost || lost.ClassId != fresh.ClassId || lost.LastSeen >= fresh.FirstSeen)
            {
                continue;
            }

            var unseen = (time - lost.LastSeen - lost.CoastedTime).TotalSeconds;
            var last = lost.LastObservation;
            var h = (double)last.Height;
            if (unseen > _options.RelinkSeconds || h <= 0 || box.Height > h * RelinkHeightRatio || box.Height * RelinkHeightRatio < h)
            {
                continue;
            }

            // Where it was heading: from its last observed centre towards its prediction, at a plausible speed.
            double ax = last.CenterX, ay = last.CenterY;
            double bx = lost.Mean[0], by = lost.Mean[1];
            var length = Math.Sqrt(((bx - ax) * (bx - ax)) + ((by - ay) * (by - ay)));
            var reach = _options.RelinkSpeed * h * Math.Max(unseen, 0);
            if (length > reach && length > 0)
            {
                bx = ax + ((bx - ax) * reach / length);
                by = ay + ((by - ay) * reach / length);
            }

            var distance = GeometryMath.DistanceToSegment(box.CenterX, box.CenterY, ax, ay, bx, by) / h;
            if (distance > _options.RelinkDistance)
            {
                continue;
            }

            if (best is not null || Claimed(fresh, ax, ay, bx, by, h))
            {
                return null; // ambiguous: two lost tracks could be this one, or another visible track could be the lost one
            }

            bestDistance = distance;
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
    /// True when a visible confirmed track other than <paramref name="fresh"/> is also on the lost track's path (within
    /// the gate): the lost object may be that one (occluded behind it, or taken over by it), so re-linking would guess.
    /// </summary>
    private bool Claimed(Tracklet fresh, double ax, double ay, double bx, double by, double h)
    {
        foreach (var other in _tracks)
        {
            if (other == fresh || other.State != TrackState.Confirmed || other.ClassId != fresh.ClassId)
            {
                continue;
            }

            var o = other.Box;
            if (GeometryMath.DistanceToSegment(o.CenterX, o.CenterY, ax, ay, bx, by) / h <= _options.RelinkDistance)
            {
                return true;
            }
        }

        return false;
    }
}
