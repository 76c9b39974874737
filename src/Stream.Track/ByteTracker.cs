using Streaming.Core;

namespace Streaming.Track;

/// <summary>
/// ByteTrack (Zhang et al., 2022) for one camera, with zones, directed lines and track events.
/// <para>Per frame: every track is predicted with the Kalman filter; high-score detections are matched to the confirmed
/// and lost tracks by IoU (optionally fused with the score); low-score detections are matched to the confirmed tracks
/// still unmatched; the remaining high-score detections are matched to the tentative tracks; each match is an optimal
/// assignment. Unmatched confirmed tracks become lost, unmatched tentative tracks are dropped, and unmatched high-score
/// detections at or above <see cref="TrackOptions.NewTrackThreshold"/> start tentative tracks. A tentative track is
/// confirmed after <see cref="TrackOptions.MinHits"/> consecutive matched frames (tracks born on a camera's first frame
/// at once, ByteTrack's rule). A lost track is removed when <see cref="TrackOptions.LostBufferSeconds"/> of capture time
/// have passed since its last detection.</para>
/// <para>Association only pairs a track and a detection of the same class, so a person never becomes a car.</para>
/// <para>Not thread-safe: one instance per camera, fed that camera's frames in order.</para>
/// </summary>
public sealed partial class ByteTracker
{
    private readonly TrackOptions _options;
    private readonly ZoneLineMonitor _monitor;
    private readonly List<Tracklet> _tracks = [];
    private readonly Stack<Tracklet> _free = new();
    private readonly SparseAssignment _assignment = new();
    private long _nextId = 1;
    private long _frames;
    private DateTimeOffset _lastTime;
    private double _interval;

    // Per-update scratch, grown on demand and reused every frame: the detections, which are high and low, which are used;
    // the tracks' predicted boxes and matches, and the two pools of tracks (confirmed + lost, tentative).
    private Detection[] _dets = new Detection[64];
    private bool[] _detUsed = new bool[64];
    private int[] _highDets = new int[64];
    private int[] _lowDets = new int[64];
    private BoxF[] _predicted = new BoxF[64];
    private int[] _trackMatch = new int[64];
    private int[] _confirmedOrLost = new int[64];
    private int[] _tentative = new int[64];
    private int[] _rowToCol = new int[64];
    private float[] _sortKeys = new float[64];
    private int[] _sortItems = new int[64];

    /// <param name="firstTrackId">The id of the first track (ids then count up): Track starts each camera run at its epoch x 1000 + 1, so that ids never repeat across runs.</param>
    /// <param name="confirmRules">Per-class confirmation rule (score threshold, area limits) of this camera; null: the
    /// <see cref="TrackOptions"/> defaults (<see cref="TrackOptions.ConfirmThreshold"/>, <see cref="TrackOptions.MinArea"/>,
    /// <see cref="TrackOptions.MaxArea"/>) for every class. Asked through <see cref="ConfirmRuleFor"/> only.</param>
    public ByteTracker(string cameraId, TrackOptions options, CameraGeometryOptions? geometry = null, long firstTrackId = 1,
        Func<int, ConfirmRule>? confirmRules = null)
    {
        _nextId = firstTrackId;
        ArgumentException.ThrowIfNullOrEmpty(cameraId);
        ArgumentNullException.ThrowIfNull(options);
        var errors = TrackOptions.Validator.Problems(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        CameraId = cameraId;
        _options = options;
        _confirmRules = confirmRules;
        _defaultRule = new ConfirmRule(options.ConfirmThreshold, options.MinArea, options.MaxArea);
        _monitor = new ZoneLineMonitor(cameraId, options, geometry ?? options.Cameras.GetValueOrDefault(cameraId));
    }

    public string CameraId { get; }

    /// <summary>
    /// The picture's size in pixels, in the detections' coordinates (0: unknown). A track lost at its edge while heading
    /// out has left the picture, and a new track is never taken for it (<see cref="TryRelink"/>, <see cref="ContinuedAlert"/>).
    /// </summary>
    public int FrameWidth { get; set; }

    /// <inheritdoc cref="FrameWidth"/>
    public int FrameHeight { get; set; }

    /// <summary>The id the next new track gets.</summary>
    public long NextTrackId => _nextId;

    /// <summary>Tracks now confirmed or lost (not tentative, not removed).</summary>
    public int ActiveCount
    {
        get
        {
            var n = 0;
            foreach (var t in _tracks)
            {
                if (t.State is TrackState.Confirmed or TrackState.Lost)
                {
                    n++;
                }
            }

            return n;
        }
    }

    /// <summary>In/out totals of each line since start, keyed "line:in" and "line:out".</summary>
    public IReadOnlyDictionary<string, int> Counts => _monitor.Counts;

    /// <summary>
    /// Runs one frame. <paramref name="tracksOut"/> receives the confirmed and tentative tracks matched in this frame (with
    /// the filtered box) and the lost tracks (predicted box); <paramref name="eventsOut"/> the events this frame caused.
    /// Returns true when an event refers to this frame (TrackStarted, a new best picture, zone and line events), i.e.
    /// the frame must be kept.
    /// </summary>
    public bool Update(IReadOnlyList<Detection> detections, DateTimeOffset time, long frameSequence,
        List<TrackedObject>? tracksOut, List<PipelineEvent>? eventsOut)
    {
        ArgumentNullException.ThrowIfNull(detections);
        var steps = StepsSince(time);
        var firstFrame = _frames++ == 0;
        var (nHigh, nLow) = SplitDetections(detections);
        var (nConfirmedOrLost, nTentative) = PredictTracks(steps);

        // 1) high-score detections against confirmed + lost tracks.
        Associate(_confirmedOrLost.AsSpan(0, nConfirmedOrLost), _highDets.AsSpan(0, nHigh), _options.MatchThreshold, _options.FuseScore);

        // 2) low-score detections against the confirmed (not lost) tracks still unmatched.
        var nConfirmed = KeepUnmatchedConfirmed(nConfirmedOrLost);
        Associate(_confirmedOrLost.AsSpan(0, nConfirmed), _lowDets.AsSpan(0, nLow), _options.LowMatchThreshold, fuse: false);

        // 3) tentative tracks against the high-score detections left.
        var nHighLeft = KeepUnusedHigh(nHigh);
        Associate(_tentative.AsSpan(0, nTentative), _highDets.AsSpan(0, nHighLeft), _options.TentativeMatchThreshold, _options.FuseScore);

        var keep = ApplyMatches(time, frameSequence, eventsOut);
        keep |= StartTracks(nHighLeft, firstFrame, time, frameSequence, eventsOut);
        RemoveExpired(time, eventsOut);
        if (tracksOut is not null)
        {
            foreach (var track in _tracks)
            {
                if ((track.State == TrackState.Lost && !track.Dormant) || track.Matched)
                {
                    tracksOut.Add(new TrackedObject(track.ReportedId, track.ClassId, track.LastScore, track.Box, track.State));
                }
            }
        }

        _monitor.EmitCounts(time, eventsOut);
        return keep;
    }

    /// <summary>
    /// A frame the model did not look at (the motion gate let it pass): every track coasts on its Kalman prediction.
    /// Nothing is matched, so nothing is missed: no track turns lost or is dropped, and the time coasted does not count
    /// towards <see cref="TrackOptions.LostBufferSeconds"/> (a lost track ages only on frames the model saw).
    /// <paramref name="tracksOut"/> receives the confirmed tracks (predicted box) and the lost ones, as
    /// <see cref="Update"/> reports them; line counts are emitted on their interval.
    /// </summary>
    public void Coast(DateTimeOffset time, List<TrackedObject>? tracksOut, List<PipelineEvent>? eventsOut)
    {
        var previous = _lastTime;
        var steps = StepsSince(time);
        var firstFrame = _frames++ == 0;
        var coasted = firstFrame || time <= previous ? TimeSpan.Zero : time - previous;
        foreach (var track in _tracks)
        {
            track.Predict(steps);
            track.CoastedTime += coasted;
            if (tracksOut is not null && track.State is TrackState.Confirmed or TrackState.Lost && !track.Dormant)
            {
                tracksOut.Add(new TrackedObject(track.ReportedId, track.ClassId, track.LastScore, track.Box, track.State));
            }
        }

        _monitor.EmitCounts(time, eventsOut);
    }

    /// <summary>Ends every open track (at final drain): TrackEnded for confirmed ones, and zone exits.</summary>
    public void EndAll(DateTimeOffset time, string reason, List<PipelineEvent>? eventsOut)
    {
        foreach (var track in _tracks)
        {
            End(track, time, reason, eventsOut);
        }

        _tracks.Clear();
    }

    /// <summary>Copies the detections and sorts the usable ones into high and low score; degenerate or NaN boxes are ignored.</summary>
    private (int High, int Low) SplitDetections(IReadOnlyList<Detection> detections)
    {
        var nd = detections.Count;
        SparseAssignment.Grow(ref _dets, nd);
        SparseAssignment.Grow(ref _detUsed, nd);
        SparseAssignment.Grow(ref _highDets, nd);
        SparseAssignment.Grow(ref _lowDets, nd);
        var nHigh = 0;
        var nLow = 0;
        for (var i = 0; i < nd; i++)
        {
            _detUsed[i] = false;
            var det = _dets[i] = detections[i];
            var b = det.Box;
            if (!(b.Width > 0 && b.Height > 0 && float.IsFinite(b.X1) && float.IsFinite(b.Y1) && float.IsFinite(b.X2) && float.IsFinite(b.Y2) && float.IsFinite(det.Score)))
            {
                continue; // rather ignored than allowed to poison a track's filter
            }

            if (det.Score >= _options.HighThreshold)
            {
                _highDets[nHigh++] = i;
            }
            else if (det.Score >= _options.LowThreshold)
            {
                _lowDets[nLow++] = i;
            }
        }

        return (nHigh, nLow);
    }

    /// <summary>Predicts every track and splits them into confirmed + lost, and tentative.</summary>
    private (int ConfirmedOrLost, int Tentative) PredictTracks(double steps)
    {
        var nt = _tracks.Count;
        SparseAssignment.Grow(ref _predicted, nt);
        SparseAssignment.Grow(ref _trackMatch, nt);
        SparseAssignment.Grow(ref _confirmedOrLost, nt);
        SparseAssignment.Grow(ref _tentative, nt);
        var nA = 0;
        var nU = 0;
        for (var t = 0; t < nt; t++)
        {
            var track = _tracks[t];
            track.Predict(steps);
            _predicted[t] = track.Box;
            _trackMatch[t] = -1;
            if (track.State == TrackState.Tentative)
            {
                _tentative[nU++] = t;
            }
            else if (!track.Dormant)
            {
                _confirmedOrLost[nA++] = t;
            }
        }

        return (nA, nU);
    }

    private int KeepUnmatchedConfirmed(int count)
    {
        var n = 0;
        for (var k = 0; k < count; k++)
        {
            var t = _confirmedOrLost[k];
            if (_trackMatch[t] < 0 && _tracks[t].State == TrackState.Confirmed)
            {
                _confirmedOrLost[n++] = t;
            }
        }

        return n;
    }

    private int KeepUnusedHigh(int count)
    {
        var n = 0;
        for (var k = 0; k < count; k++)
        {
            if (!_detUsed[_highDets[k]])
            {
                _highDets[n++] = _highDets[k];
            }
        }

        return n;
    }

    /// <summary>
    /// Matches tracks to detections minimising the cost 1 - IoU (x score when fused), only for same-class pairs with cost
    /// &lt;= <paramref name="threshold"/>. The feasible pairs are found by a sweep over the detections sorted by left edge
    /// (each track only looks at the detections whose x-range can overlap its own) and solved by <see cref="SparseAssignment"/>.
    /// </summary>
    private void Associate(ReadOnlySpan<int> trackIdx, ReadOnlySpan<int> detIdx, double threshold, bool fuse)
    {
        var n = trackIdx.Length;
        var m = detIdx.Length;
        if (n == 0 || m == 0)
        {
            return;
        }

        SparseAssignment.Grow(ref _sortKeys, m);
        SparseAssignment.Grow(ref _sortItems, m);
        var maxWidth = 0f;
        for (var b = 0; b < m; b++)
        {
            var box = _dets[detIdx[b]].Box;
            _sortKeys[b] = box.X1;
            _sortItems[b] = b;
            maxWidth = Math.Max(maxWidth, box.Width);
        }

        Array.Sort(_sortKeys, _sortItems, 0, m);
        _assignment.Clear();
        for (var a = 0; a < n; a++)
        {
            var t = trackIdx[a];
            var box = _predicted[t];
            var cls = _tracks[t].ClassId;
            for (var k = LowerBound(_sortKeys.AsSpan(0, m), box.X1 - maxWidth); k < m && _sortKeys[k] < box.X2; k++)
            {
                var b = _sortItems[k];
                ref readonly var det = ref _dets[detIdx[b]];
                var iou = det.ClassId == cls ? box.IoU(det.Box) : 0;
                var cost = 1.0 - (fuse ? iou * det.Score : iou);
                if (iou > 0 && cost <= threshold)
                {
                    _assignment.Add(a, b, cost);
                }
            }
        }

        SparseAssignment.Grow(ref _rowToCol, n);
        _assignment.Solve(n, m, threshold, _rowToCol);
        for (var a = 0; a < n; a++)
        {
            if (_rowToCol[a] >= 0)
            {
                var d = detIdx[_rowToCol[a]];
                _trackMatch[trackIdx[a]] = d;
                _detUsed[d] = true;
            }
        }
    }

    /// <summary>
    /// Turns unmatched tracks lost or removed, then corrects the matched ones: a tentative track that reaches MinHits is
    /// confirmed, or continues a lost track it re-links to (<see cref="TryRelink"/>); a confirmed track that clears its
    /// class's rule starts (<see cref="TryStart"/>).
    /// </summary>
    private bool ApplyMatches(DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        // Misses first, so that a lost track re-linked below is not then counted as missed in this frame.
        var count = _tracks.Count;
        for (var t = 0; t < count; t++)
        {
            var track = _tracks[t];
            if (_trackMatch[t] < 0)
            {
                track.Matched = false;
                track.State = track.State switch
                {
                    TrackState.Tentative => TrackState.Removed,
                    TrackState.Confirmed => TrackState.Lost,
                    var s => s,
                };
            }
        }

        var keep = false;
        for (var t = 0; t < count; t++)
        {
            var d = _trackMatch[t];
            if (d < 0)
            {
                continue;
            }

            var track = _tracks[t];
            var det = _dets[d];
            if (track.State == TrackState.Tentative)
            {
                track.Correct(det, time, _options.ObservationCentricReupdate);
                if (track.Hits < _options.MinHits)
                {
                    continue;
                }

                track.State = TrackState.Confirmed;
                track = TryRelink(track, det, time) ?? track;
            }
            else
            {
                track.Correct(det, time, _options.ObservationCentricReupdate);
                track.State = TrackState.Confirmed;
                if (track.Started && det.Score > track.BestScore + _options.BestScoreImprovement)
                {
                    track.SetBest(det.Score, frameSequence, time);
                    keep = true;
                }
            }

            keep |= Observed(track, det.Score, time, frameSequence, eventsOut);
        }

        return keep;
    }

    /// <summary>
    /// A confirmed track matched in this frame: zones and lines (their events held back until the track starts), the
    /// start itself once the rule allows it, and the periodic TrackUpdated of a started track.
    /// </summary>
    private bool Observed(Tracklet track, float score, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        var keep = _monitor.Observe(track, time, frameSequence, track.Started || eventsOut is null || _monitor.IsEmpty ? eventsOut : track.Held);
        keep |= TryStart(track, time, frameSequence, eventsOut);
        if (track.Started && _options.UpdateIntervalSeconds > 0 && eventsOut is not null
            && (time - track.LastUpdateEvent).TotalSeconds >= _options.UpdateIntervalSeconds)
        {
            // The update names this frame (frame_seq and frame_key, docs/events.md), so the sink must keep it.
            track.LastUpdateEvent = time;
            eventsOut.Add(TrackEvents.Create(EventKind.TrackUpdated, CameraId, track, time, frameSequence, track.Box, score));
            keep = true;
        }

        return keep;
    }

    /// <summary>New tracks from the unmatched high-score detections at or above NewTrackThreshold.</summary>
    private bool StartTracks(int nHighLeft, bool firstFrame, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        var keep = false;
        for (var k = 0; k < nHighLeft; k++)
        {
            var d = _highDets[k];
            if (_detUsed[d] || _dets[d].Score < _options.NewTrackThreshold)
            {
                continue;
            }

            var track = _free.Count > 0 ? _free.Pop() : new Tracklet();
            track.Start(_nextId++, _dets[d], time);
            _tracks.Add(track);
            if ((firstFrame && _options.ConfirmOnFirstFrame) || _options.MinHits <= 1)
            {
                track.State = TrackState.Confirmed;
                var continued = firstFrame ? track : TryRelink(track, _dets[d], time) ?? track;
                keep |= Observed(continued, _dets[d].Score, time, frameSequence, eventsOut);
            }
        }

        return keep;
    }

    /// <summary>Ends lost tracks past the buffer; removed tracks leave the list and go back to the pool.</summary>
    private void RemoveExpired(DateTimeOffset time, List<PipelineEvent>? eventsOut)
    {
        var w = 0;
        for (var t = 0; t < _tracks.Count; t++)
        {
            var track = _tracks[t];
            if (track.State == TrackState.Lost)
            {
                var unseen = (time - track.LastSeen - track.CoastedTime).TotalSeconds;
                if (unseen > Math.Max(_options.LostBufferSeconds, _options.RelinkSeconds))
                {
                    End(track, time, "lost", eventsOut);
                }
                else if (unseen > _options.LostBufferSeconds)
                {
                    track.Dormant = true; // past the lost buffer: only re-linking can find it now
                }
            }

            if (track.State != TrackState.Removed)
            {
                _tracks[w++] = track;
            }
            else if (_free.Count < 1024)
            {
                _free.Push(track); // reused by a later new track: no allocation per track birth in steady state
            }
        }

        _tracks.RemoveRange(w, _tracks.Count - w);
    }

    private void End(Tracklet track, DateTimeOffset time, string reason, List<PipelineEvent>? eventsOut)
    {
        track.State = TrackState.Removed;
        _monitor.TrackEnded(track, time, eventsOut);
        track.ReleaseHeld(null); // a track that never started never alerts: what it held back goes with it
        if (track.Started)
        {
            eventsOut?.Add(TrackEvents.Create(EventKind.TrackEnded, CameraId, track, time, track.BestFrame, track.BestBox, track.BestScore) with { Reason = reason });
        }
    }

    private double StepsSince(DateTimeOffset time)
    {
        if (_frames == 0)
        {
            _lastTime = time;
            return 1;
        }

        var elapsed = (time - _lastTime).TotalSeconds;
        _lastTime = time;
        if (elapsed <= 0)
        {
            return 1;
        }

        if (_interval <= 0)
        {
            _interval = elapsed;
            return 1;
        }

        var steps = Math.Clamp(elapsed / _interval, 0.25, 30);

        // Follow the camera's frame interval, but do not let dropped frames (gaps of 2+ intervals) stretch it.
        if (elapsed < 1.5 * _interval)
        {
            _interval += 0.1 * (elapsed - _interval);
        }

        return steps;
    }

    private static int LowerBound(ReadOnlySpan<float> sorted, float value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
