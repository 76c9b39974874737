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
public sealed class ByteTracker
{
    private const double Forbidden = 1e6;

    private readonly TrackOptions _options;
    private readonly ZoneModel[] _zones;
    private readonly LineModel[] _lines;
    private readonly List<Track> _tracks = [];
    private readonly Stack<Track> _free = new();
    private readonly LinearAssignment _solver = new();
    private long _nextId = 1;
    private long _frames;
    private DateTimeOffset _lastTime;
    private double _interval;
    private DateTimeOffset _lastCounts;

    // Scratch buffers, grown on demand and reused every frame.
    private int[] _highDets = new int[64];
    private int[] _lowDets = new int[64];
    private bool[] _detUsed = new bool[64];
    private int[] _poolA = new int[64];
    private int[] _poolB = new int[64];
    private int[] _trackMatch = new int[64];
    private int[] _edgeT = new int[256];
    private int[] _edgeD = new int[256];
    private double[] _edgeCost = new double[256];
    private int[] _parent = new int[128];
    private int[] _local = new int[128];
    private int[] _compOf = new int[128];
    private int[] _compTrackStart = new int[64];
    private int[] _compDetStart = new int[64];
    private int[] _compTracks = new int[64];
    private int[] _compDets = new int[64];
    private int[] _compFill = new int[64];
    private int[] _compDetFill = new int[64];
    private int[] _compEdgeStart = new int[64];
    private int[] _edgeOrder = new int[256];
    private double[] _dense = new double[256];
    private int[] _rowToCol = new int[64];
    private BoxF[] _predicted = new BoxF[64];
    private Detection[] _dets = new Detection[64];
    private float[] _sortKeys = new float[64];
    private int[] _sortItems = new int[64];

    public ByteTracker(string cameraId, TrackOptions options, CameraGeometryOptions? geometry = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cameraId);
        ArgumentNullException.ThrowIfNull(options);
        var errors = TrackOptions.Validator.Problems(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        CameraId = cameraId;
        _options = options;
        geometry ??= options.Cameras.GetValueOrDefault(cameraId);
        _zones = geometry is null ? [] : [.. geometry.Zones.Select(z => new ZoneModel(z))];
        _lines = geometry is null ? [] : [.. geometry.Lines.Select(l => new LineModel(l))];
    }

    public string CameraId { get; }

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
    public IReadOnlyDictionary<string, int> Counts
    {
        get
        {
            var d = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var l in _lines)
            {
                d[l.Name + ":in"] = l.InCount;
                d[l.Name + ":out"] = l.OutCount;
            }

            return d;
        }
    }

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
        var keep = false;
        var dt = StepsSince(time);
        var firstFrame = _frames == 0;
        _frames++;

        var nd = detections.Count;
        var nt = _tracks.Count;
        Grow(ref _detUsed, nd);
        Grow(ref _highDets, nd);
        Grow(ref _lowDets, nd);
        Grow(ref _trackMatch, nt);
        Grow(ref _poolA, nt);
        Grow(ref _poolB, nt);
        Grow(ref _predicted, nt);

        Grow(ref _dets, nd);
        var nHigh = 0;
        var nLow = 0;
        for (var i = 0; i < nd; i++)
        {
            _detUsed[i] = false;
            _dets[i] = detections[i];
            var b = _dets[i].Box;
            var s = _dets[i].Score;
            if (!(b.Width > 0 && b.Height > 0 && float.IsFinite(b.X1) && float.IsFinite(b.Y1) && float.IsFinite(b.X2) && float.IsFinite(b.Y2) && float.IsFinite(s)))
            {
                continue; // degenerate or NaN box: ignored rather than allowed to poison a track's filter
            }

            if (s >= _options.HighThreshold)
            {
                _highDets[nHigh++] = i;
            }
            else if (s >= _options.LowThreshold)
            {
                _lowDets[nLow++] = i;
            }
        }

        // Predict every track; lost tracks do not keep growing or shrinking (ByteTrack zeroes vh for them).
        var nA = 0;
        var nU = 0;
        for (var t = 0; t < nt; t++)
        {
            var track = _tracks[t];
            if (track.State != TrackState.Confirmed && track.State != TrackState.Tentative)
            {
                track.Mean[7] = 0;
            }

            KalmanFilterXyah.Predict(track.Mean, track.Covariance, dt);
            _predicted[t] = track.Box;
            _trackMatch[t] = -1;
            if (track.State == TrackState.Tentative)
            {
                _poolB[nU++] = t;
            }
            else
            {
                _poolA[nA++] = t;
            }
        }

        // 1) high-score detections against confirmed + lost tracks.
        Associate(_poolA.AsSpan(0, nA), _highDets.AsSpan(0, nHigh), _options.MatchThreshold, _options.FuseScore);

        // 2) low-score detections against the confirmed (not lost) tracks still unmatched.
        var nA2 = 0;
        for (var k = 0; k < nA; k++)
        {
            var t = _poolA[k];
            if (_trackMatch[t] < 0 && _tracks[t].State == TrackState.Confirmed)
            {
                _poolA[nA2++] = t;
            }
        }

        Associate(_poolA.AsSpan(0, nA2), _lowDets.AsSpan(0, nLow), _options.LowMatchThreshold, fuse: false);

        // 3) tentative tracks against the high-score detections left.
        var nHigh2 = 0;
        for (var k = 0; k < nHigh; k++)
        {
            if (!_detUsed[_highDets[k]])
            {
                _highDets[nHigh2++] = _highDets[k];
            }
        }

        Associate(_poolB.AsSpan(0, nU), _highDets.AsSpan(0, nHigh2), _options.TentativeMatchThreshold, _options.FuseScore);

        // Apply matches and misses.
        for (var t = 0; t < nt; t++)
        {
            var track = _tracks[t];
            var d = _trackMatch[t];
            if (d >= 0)
            {
                var det = _dets[d];
                var box = det.Box;
                var h = Math.Max(box.Height, 1e-3f);
                KalmanFilterXyah.Update(track.Mean, track.Covariance, box.CenterX, box.CenterY, box.Width / h, h);
                track.Hits++;
                track.LastSeen = time;
                track.LastScore = det.Score;
                track.Matched = true;
                if (track.State == TrackState.Tentative)
                {
                    if (track.Hits >= _options.MinHits)
                    {
                        track.State = TrackState.Confirmed;
                        keep |= Confirm(track, time, frameSequence, eventsOut);
                    }
                }
                else
                {
                    track.State = TrackState.Confirmed;
                    if (det.Score > track.BestScore + _options.BestScoreImprovement)
                    {
                        track.BestScore = det.Score;
                        track.BestFrame = frameSequence;
                        track.BestBox = track.Box;
                        track.BestTime = time;
                        keep = true;
                    }
                }

                if (track.State == TrackState.Confirmed)
                {
                    keep |= UpdateGeometry(track, time, frameSequence, eventsOut);
                    if (_options.UpdateIntervalSeconds > 0 && eventsOut is not null
                        && (time - track.LastUpdateEvent).TotalSeconds >= _options.UpdateIntervalSeconds)
                    {
                        track.LastUpdateEvent = time;
                        eventsOut.Add(NewEvent(EventKind.TrackUpdated, track, time, null, track.Box, det.Score));
                    }
                }
            }
            else
            {
                track.Matched = false;
                if (track.State == TrackState.Tentative)
                {
                    track.State = TrackState.Removed;
                }
                else if (track.State == TrackState.Confirmed)
                {
                    track.State = TrackState.Lost;
                }
            }
        }

        // New tracks from unmatched confident high-score detections.
        for (var k = 0; k < nHigh2; k++)
        {
            var d = _highDets[k];
            if (_detUsed[d] || _dets[d].Score < _options.NewTrackThreshold)
            {
                continue;
            }

            var det = _dets[d];
            var box = det.Box;
            var h = Math.Max(box.Height, 1e-3f);
            var track = _free.Count > 0 ? _free.Pop() : new Track(_zones.Length, _lines.Length);
            track.Reset(_nextId++, det.ClassId);
            KalmanFilterXyah.Initiate(box.CenterX, box.CenterY, box.Width / h, h, track.Mean, track.Covariance);
            track.FirstSeen = time;
            track.LastSeen = time;
            track.LastScore = det.Score;
            track.Hits = 1;
            track.Matched = true;
            track.State = TrackState.Tentative;
            _tracks.Add(track);
            if ((firstFrame && _options.ConfirmOnFirstFrame) || _options.MinHits <= 1)
            {
                track.State = TrackState.Confirmed;
                keep |= Confirm(track, time, frameSequence, eventsOut);
                keep |= UpdateGeometry(track, time, frameSequence, eventsOut);
            }
        }

        // Lost tracks past the buffer end; removed ones leave the list.
        var w = 0;
        for (var t = 0; t < _tracks.Count; t++)
        {
            var track = _tracks[t];
            if (track.State == TrackState.Lost && (time - track.LastSeen).TotalSeconds > _options.LostBufferSeconds)
            {
                End(track, time, "lost", eventsOut);
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

        if (tracksOut is not null)
        {
            foreach (var track in _tracks)
            {
                if (track.State == TrackState.Lost || track.Matched)
                {
                    tracksOut.Add(new TrackedObject(track.Id, track.ClassId, track.LastScore, track.Box, track.State));
                }
            }
        }

        if (_options.CountsIntervalSeconds > 0 && _lines.Length > 0 && eventsOut is not null)
        {
            if (_lastCounts == default)
            {
                _lastCounts = time;
            }
            else if ((time - _lastCounts).TotalSeconds >= _options.CountsIntervalSeconds)
            {
                _lastCounts = time;
                eventsOut.Add(new PipelineEvent { Kind = EventKind.Counts, CameraId = CameraId, Time = time, Counts = Counts });
            }
        }

        return keep;
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

    private void End(Track track, DateTimeOffset time, string reason, List<PipelineEvent>? eventsOut)
    {
        var wasConfirmed = track.WasConfirmed;
        track.State = TrackState.Removed;
        if (!wasConfirmed || eventsOut is null)
        {
            return;
        }

        for (var z = 0; z < _zones.Length; z++)
        {
            ref var zs = ref track.Zones[z];
            if (zs.Inside)
            {
                zs.Inside = false;
                eventsOut.Add(NewEvent(EventKind.ZoneExited, track, time, track.BestFrame, track.BestBox, track.LastScore) with
                {
                    Zone = _zones[z].Name,
                    DwellSeconds = (track.LastSeen - zs.Since).TotalSeconds,
                    Reason = "track-ended",
                });
            }
        }

        eventsOut.Add(NewEvent(EventKind.TrackEnded, track, time, track.BestFrame, track.BestBox, track.BestScore) with { Reason = reason });
    }

    private bool Confirm(Track track, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        track.WasConfirmed = true;
        track.BestScore = Math.Max(track.LastScore, 0f);
        track.BestFrame = frameSequence;
        track.BestBox = track.Box;
        track.BestTime = time;
        track.LastUpdateEvent = time;
        eventsOut?.Add(NewEvent(EventKind.TrackStarted, track, time, frameSequence, track.Box, track.LastScore));
        return true;
    }

    private bool UpdateGeometry(Track track, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        if (_zones.Length == 0 && _lines.Length == 0)
        {
            return false;
        }

        var box = track.Box;
        var x = box.CenterX;
        var y = _options.Anchor == AnchorPoint.BottomCenter ? box.Y2 : box.CenterY;
        var k = _options.ConfirmFrames;
        var emitted = false;

        for (var z = 0; z < _zones.Length; z++)
        {
            var zone = _zones[z];
            if (!zone.Applies(track.ClassId))
            {
                continue;
            }

            ref var zs = ref track.Zones[z];
            var inside = zone.Contains(x, y);
            if (inside == zs.Inside)
            {
                zs.Pending = 0;
                continue;
            }

            if (zs.Pending == 0)
            {
                zs.PendingSince = time;
            }

            zs.Pending++;
            if (zs.Pending < k)
            {
                continue;
            }

            zs.Pending = 0;
            zs.Inside = inside;
            if (inside)
            {
                zs.Since = zs.PendingSince;
                eventsOut?.Add(NewEvent(EventKind.ZoneEntered, track, time, frameSequence, box, track.LastScore) with { Zone = zone.Name });
            }
            else
            {
                eventsOut?.Add(NewEvent(EventKind.ZoneExited, track, time, frameSequence, box, track.LastScore) with
                {
                    Zone = zone.Name,
                    DwellSeconds = (zs.PendingSince - zs.Since).TotalSeconds,
                });
            }

            emitted = true;
        }

        for (var l = 0; l < _lines.Length; l++)
        {
            var line = _lines[l];
            if (!line.Applies(track.ClassId))
            {
                continue;
            }

            ref var ls = ref track.Lines[l];
            var d = GeometryMath.SignedDistance(line.Ax, line.Ay, line.Bx, line.By, x, y);
            if (MathF.Abs(d) < line.Margin)
            {
                continue; // inside the dead band: no evidence either way
            }

            var side = (sbyte)(d > 0 ? 1 : -1);
            if (ls.Side == 0)
            {
                ls.Side = side;
                ls.X = x;
                ls.Y = y;
                continue;
            }

            if (side == ls.Side)
            {
                ls.Pending = 0;
                ls.X = x;
                ls.Y = y;
                continue;
            }

            ls.Pending++;
            if (ls.Pending < k)
            {
                continue;
            }

            var crossedSegment = GeometryMath.SegmentsIntersect(ls.X, ls.Y, x, y, line.Ax, line.Ay, line.Bx, line.By);
            ls.Side = side;
            ls.Pending = 0;
            ls.X = x;
            ls.Y = y;
            if (!crossedSegment)
            {
                continue; // went round the end of the segment
            }

            var direction = side > 0 ? "in" : "out";
            if (side > 0)
            {
                line.InCount++;
            }
            else
            {
                line.OutCount++;
            }

            eventsOut?.Add(NewEvent(EventKind.LineCrossed, track, time, frameSequence, box, track.LastScore) with
            {
                Line = line.Name,
                Direction = direction,
            });
            emitted = true;
        }

        return emitted;
    }

    private PipelineEvent NewEvent(EventKind kind, Track track, DateTimeOffset time, long? frame, BoxF box, float score) => new()
    {
        Kind = kind,
        CameraId = CameraId,
        Time = time,
        FrameSequence = frame,
        TrackId = track.Id,
        ClassId = track.ClassId,
        Label = (uint)track.ClassId < (uint)CocoClasses.Names.Count ? CocoClasses.Names[track.ClassId] : "class" + track.ClassId,
        Score = kind is EventKind.TrackEnded or EventKind.TrackStarted ? track.BestScore : score,
        Box = box,
        FirstSeen = track.FirstSeen,
        LastSeen = track.LastSeen,
    };

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

    /// <summary>
    /// Matches tracks to detections minimising total cost 1 - IoU (x score when fused), only for same-class pairs with
    /// cost &lt;= <paramref name="threshold"/>. The bipartite graph is split into connected components first, and each
    /// component is solved exactly, so the cost stays small on crowded but spatially spread scenes.
    /// </summary>
    private void Associate(ReadOnlySpan<int> trackIdx, ReadOnlySpan<int> detIdx, double threshold, bool fuse)
    {
        var n = trackIdx.Length;
        var m = detIdx.Length;
        if (n == 0 || m == 0)
        {
            return;
        }

        // Edges: feasible (track, detection) pairs. Detections are sorted by left edge so that each track only looks at
        // the detections whose x-range can overlap its own (a sweep instead of all n x m pairs).
        Grow(ref _sortKeys, m);
        Grow(ref _sortItems, m);
        var maxWidth = 0f;
        for (var b = 0; b < m; b++)
        {
            var box = _dets[detIdx[b]].Box;
            _sortKeys[b] = box.X1;
            _sortItems[b] = b;
            maxWidth = Math.Max(maxWidth, box.Width);
        }

        Array.Sort(_sortKeys, _sortItems, 0, m);
        var ne = 0;
        for (var a = 0; a < n; a++)
        {
            var t = trackIdx[a];
            var box = _predicted[t];
            var cls = _tracks[t].ClassId;
            var k = LowerBound(_sortKeys.AsSpan(0, m), box.X1 - maxWidth);
            for (; k < m && _sortKeys[k] < box.X2; k++)
            {
                var b = _sortItems[k];
                ref readonly var det = ref _dets[detIdx[b]];
                if (det.ClassId != cls)
                {
                    continue;
                }

                var iou = box.IoU(det.Box);
                if (iou <= 0)
                {
                    continue;
                }

                var cost = 1.0 - (fuse ? iou * det.Score : iou);
                if (cost > threshold)
                {
                    continue;
                }

                if (ne == _edgeT.Length)
                {
                    Array.Resize(ref _edgeT, ne * 2);
                    Array.Resize(ref _edgeD, ne * 2);
                    Array.Resize(ref _edgeCost, ne * 2);
                }

                _edgeT[ne] = a;
                _edgeD[ne] = b;
                _edgeCost[ne] = cost;
                ne++;
            }
        }

        if (ne == 0)
        {
            return;
        }

        // Union-find over nodes: tracks 0..n-1, detections n..n+m-1.
        var nodes = n + m;
        Grow(ref _parent, nodes);
        Grow(ref _local, nodes);
        Grow(ref _compOf, nodes);
        for (var i = 0; i < nodes; i++)
        {
            _parent[i] = i;
        }

        for (var e = 0; e < ne; e++)
        {
            var ra = Find(_edgeT[e]);
            var rb = Find(n + _edgeD[e]);
            if (ra != rb)
            {
                _parent[ra] = rb;
            }
        }

        // Number the components that have edges, and count their tracks and detections.
        for (var i = 0; i < nodes; i++)
        {
            _compOf[i] = -1;
        }

        var nc = 0;
        for (var e = 0; e < ne; e++)
        {
            var r = Find(_edgeT[e]);
            if (_compOf[r] < 0)
            {
                _compOf[r] = nc++;
            }
        }

        Grow(ref _compTrackStart, nc + 1);
        Grow(ref _compDetStart, nc + 1);
        Grow(ref _compFill, nc);
        Grow(ref _compDetFill, nc);
        Grow(ref _compTracks, n);
        Grow(ref _compDets, m);
        Array.Clear(_compTrackStart, 0, nc + 1);
        Array.Clear(_compDetStart, 0, nc + 1);
        for (var i = 0; i < nodes; i++)
        {
            var c = _compOf[Find(i)];
            if (c < 0)
            {
                continue;
            }

            if (i < n)
            {
                _compTrackStart[c + 1]++;
            }
            else
            {
                _compDetStart[c + 1]++;
            }
        }

        for (var c = 0; c < nc; c++)
        {
            _compTrackStart[c + 1] += _compTrackStart[c];
            _compDetStart[c + 1] += _compDetStart[c];
            _compFill[c] = _compTrackStart[c];
            _compDetFill[c] = _compDetStart[c];
        }

        for (var i = 0; i < nodes; i++)
        {
            var c = _compOf[Find(i)];
            if (c < 0)
            {
                continue;
            }

            if (i < n)
            {
                _local[i] = _compFill[c] - _compTrackStart[c];
                _compTracks[_compFill[c]++] = i;
            }
            else
            {
                _local[i] = _compDetFill[c] - _compDetStart[c];
                _compDets[_compDetFill[c]++] = i - n;
            }
        }

        // Group the edges by component (counting sort), then solve each component exactly.
        Grow(ref _compEdgeStart, nc + 1);
        Grow(ref _edgeOrder, ne);
        Array.Clear(_compEdgeStart, 0, nc + 1);
        for (var e = 0; e < ne; e++)
        {
            _compEdgeStart[_compOf[Find(_edgeT[e])] + 1]++;
        }

        for (var c = 0; c < nc; c++)
        {
            _compEdgeStart[c + 1] += _compEdgeStart[c];
            _compFill[c] = _compEdgeStart[c];
        }

        for (var e = 0; e < ne; e++)
        {
            var c = _compOf[Find(_edgeT[e])];
            _edgeOrder[_compFill[c]++] = e;
        }

        for (var c = 0; c < nc; c++)
        {
            var rows = _compTrackStart[c + 1] - _compTrackStart[c];
            var cols = _compDetStart[c + 1] - _compDetStart[c];
            if (rows == 1 && cols == 1)
            {
                Accept(trackIdx[_compTracks[_compTrackStart[c]]], detIdx[_compDets[_compDetStart[c]]]);
                continue;
            }

            var size = rows * cols;
            Grow(ref _dense, size);
            var dense = _dense.AsSpan(0, size);
            dense.Fill(Forbidden);
            for (var k = _compEdgeStart[c]; k < _compEdgeStart[c + 1]; k++)
            {
                var e = _edgeOrder[k];
                dense[_local[_edgeT[e]] * cols + _local[n + _edgeD[e]]] = _edgeCost[e];
            }

            Grow(ref _rowToCol, rows);
            _solver.Solve(dense, rows, cols, _rowToCol);
            for (var r = 0; r < rows; r++)
            {
                var col = _rowToCol[r];
                if (col < 0 || dense[r * cols + col] >= Forbidden)
                {
                    continue;
                }

                Accept(trackIdx[_compTracks[_compTrackStart[c] + r]], detIdx[_compDets[_compDetStart[c] + col]]);
            }
        }
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

    private void Accept(int track, int det)
    {
        _trackMatch[track] = det;
        _detUsed[det] = true;
    }

    private int Find(int i)
    {
        while (_parent[i] != i)
        {
            _parent[i] = _parent[_parent[i]];
            i = _parent[i];
        }

        return i;
    }

    private static void Grow<T>(ref T[] array, int size)
    {
        if (array.Length < size)
        {
            array = new T[Math.Max(size, array.Length * 2)];
        }
    }

    private sealed class Track(int zones, int lines)
    {
        public long Id { get; private set; }

        public int ClassId { get; private set; }

        public double[] Mean { get; } = new double[8];

        public double[] Covariance { get; } = new double[64];

        public TrackState State { get; set; }

        public bool WasConfirmed { get; set; }

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

        public ZoneState[] Zones { get; } = zones == 0 ? [] : new ZoneState[zones];

        public LineState[] Lines { get; } = lines == 0 ? [] : new LineState[lines];

        public void Reset(long id, int classId)
        {
            Id = id;
            ClassId = classId;
            State = TrackState.Tentative;
            WasConfirmed = false;
            Matched = false;
            Hits = 0;
            FirstSeen = LastSeen = LastUpdateEvent = BestTime = default;
            LastScore = BestScore = 0;
            BestFrame = 0;
            BestBox = default;
            Array.Clear(Zones);
            Array.Clear(Lines);
        }

        public BoxF Box
        {
            get
            {
                var h = (float)Mean[3];
                var w = (float)(Mean[2] * Mean[3]);
                return BoxF.FromCenter((float)Mean[0], (float)Mean[1], w, h);
            }
        }
    }

    private struct ZoneState
    {
        public bool Inside;
        public int Pending;
        public DateTimeOffset PendingSince;
        public DateTimeOffset Since;
    }

    private struct LineState
    {
        public sbyte Side;
        public int Pending;
        public float X;
        public float Y;
    }

    private sealed class ZoneModel
    {
        private readonly float[] _xs;
        private readonly float[] _ys;
        private readonly HashSet<int>? _classes;

        public ZoneModel(ZoneOptions options)
        {
            Name = options.Name;
            _xs = [.. options.Points.Select(p => p.X)];
            _ys = [.. options.Points.Select(p => p.Y)];
            _classes = options.ClassIds.Count == 0 ? null : [.. options.ClassIds];
        }

        public string Name { get; }

        public bool Applies(int classId) => _classes is null || _classes.Contains(classId);

        public bool Contains(float x, float y) => GeometryMath.Contains(_xs, _ys, x, y);
    }

    private sealed class LineModel(LineOptions options)
    {
        private readonly HashSet<int>? _classes = options.ClassIds.Count == 0 ? null : [.. options.ClassIds];

        public string Name { get; } = options.Name;

        public float Ax { get; } = options.From.X;

        public float Ay { get; } = options.From.Y;

        public float Bx { get; } = options.To.X;

        public float By { get; } = options.To.Y;

        public float Margin { get; } = options.MarginPixels;

        public int InCount { get; set; }

        public int OutCount { get; set; }

        public bool Applies(int classId) => _classes is null || _classes.Contains(classId);
    }
}
