using Streaming.Core;

namespace Streaming.Track;

/// <summary>
/// The zones and directed lines of one camera, fed each update's matched confirmed tracks by <see cref="ByteTracker"/>:
/// it keeps each track's inside/outside and side-of-line state, and emits ZoneEntered, ZoneExited, LineCrossed and the
/// periodic Counts. A change counts only after <see cref="TrackOptions.ConfirmFrames"/> matched frames in a row; a line
/// side only beyond its margin, and a crossing only when the path cuts the segment. Per-track state objects are pooled.
/// </summary>
internal sealed class ZoneLineMonitor
{
    private readonly string _cameraId;
    private readonly TrackOptions _options;
    private readonly ZoneModel[] _zones;
    private readonly LineModel[] _lines;
    private readonly Dictionary<long, TrackGeometry> _byTrack = [];
    private readonly Stack<TrackGeometry> _free = new();
    private DateTimeOffset _lastCounts;

    public ZoneLineMonitor(string cameraId, TrackOptions options, CameraGeometryOptions? geometry)
    {
        _cameraId = cameraId;
        _options = options;
        _zones = geometry is null ? [] : [.. geometry.Zones.Select(z => new ZoneModel(z))];
        _lines = geometry is null ? [] : [.. geometry.Lines.Select(l => new LineModel(l))];
    }

    public bool IsEmpty => _zones.Length == 0 && _lines.Length == 0;

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

    /// <summary>Tests a confirmed track's anchor on a frame where it was matched; returns true when it emitted an event about this frame.</summary>
    public bool Observe(Tracklet track, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        if (IsEmpty)
        {
            return false;
        }

        if (!_byTrack.TryGetValue(track.Id, out var state))
        {
            state = _free.Count > 0 ? _free.Pop() : new TrackGeometry(_zones.Length, _lines.Length);
            _byTrack.Add(track.Id, state);
        }

        var box = track.Box;
        var x = box.CenterX;
        var y = _options.Anchor == AnchorPoint.BottomCenter ? box.Y2 : box.CenterY;
        var emitted = false;
        for (var z = 0; z < _zones.Length; z++)
        {
            emitted |= ObserveZone(_zones[z], ref state.Zones[z], track, x, y, box, time, frameSequence, eventsOut);
        }

        for (var l = 0; l < _lines.Length; l++)
        {
            emitted |= ObserveLine(_lines[l], ref state.Lines[l], track, x, y, box, time, frameSequence, eventsOut);
        }

        return emitted;
    }

    /// <summary>
    /// <paramref name="to"/> continues the object of <paramref name="from"/>: it takes over from's inside/outside and
    /// side-of-line state (its own is released), so that entering and crossing are judged against where the object was.
    /// </summary>
    public void Transfer(Tracklet from, Tracklet to)
    {
        if (IsEmpty)
        {
            return;
        }

        if (_byTrack.Remove(to.Id, out var own))
        {
            Release(own);
        }

        if (_byTrack.Remove(from.Id, out var state))
        {
            _byTrack.Add(to.Id, state);
        }
    }

    /// <summary>A track ended: a confirmed one still inside a zone exits it (Reason "track-ended"); its state is released.</summary>
    public void TrackEnded(Tracklet track, DateTimeOffset time, List<PipelineEvent>? eventsOut)
    {
        if (!_byTrack.Remove(track.Id, out var state))
        {
            return;
        }

        for (var z = 0; z < _zones.Length; z++)
        {
            ref var zs = ref state.Zones[z];
            if (zs.Inside && track.Started && eventsOut is not null)
            {
                eventsOut.Add(TrackEvents.Create(EventKind.ZoneExited, _cameraId, track, time, track.BestFrame, track.BestBox, track.LastScore) with
                {
                    Zone = _zones[z].Name,
                    DwellSeconds = (track.LastSeen - zs.Since).TotalSeconds,
                    Reason = "track-ended",
                });
            }
        }

        Release(state);
    }

    /// <summary>Clears a track's state and keeps it for a later track.</summary>
    private void Release(TrackGeometry state)
    {
        state.Clear();
        if (_free.Count < 1024)
        {
            _free.Push(state);
        }
    }

    /// <summary>Emits the per-camera Counts event every <see cref="TrackOptions.CountsIntervalSeconds"/> (cameras with lines only).</summary>
    public void EmitCounts(DateTimeOffset time, List<PipelineEvent>? eventsOut)
    {
        if (_options.CountsIntervalSeconds <= 0 || _lines.Length == 0 || eventsOut is null)
        {
            return;
        }

        if (_lastCounts == default)
        {
            _lastCounts = time;
        }
        else if ((time - _lastCounts).TotalSeconds >= _options.CountsIntervalSeconds)
        {
            _lastCounts = time;
            eventsOut.Add(new PipelineEvent { Kind = EventKind.Counts, CameraId = _cameraId, Time = time, Counts = Counts });
        }
    }

    private bool ObserveZone(ZoneModel zone, ref ZoneState zs, Tracklet track, float x, float y, BoxF box, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        if (!zone.Applies(track.ClassId))
        {
            return false;
        }

        var inside = zone.Contains(x, y);
        if (inside == zs.Inside)
        {
            zs.Pending = 0;
            return false;
        }

        if (zs.Pending == 0)
        {
            zs.PendingSince = time;
        }

        if (++zs.Pending < _options.ConfirmFrames)
        {
            return false;
        }

        zs.Pending = 0;
        zs.Inside = inside;
        if (inside)
        {
            zs.Since = zs.PendingSince;
            eventsOut?.Add(TrackEvents.Create(EventKind.ZoneEntered, _cameraId, track, time, frameSequence, box, track.LastScore) with { Zone = zone.Name });
        }
        else
        {
            eventsOut?.Add(TrackEvents.Create(EventKind.ZoneExited, _cameraId, track, time, frameSequence, box, track.LastScore) with
            {
                Zone = zone.Name,
                DwellSeconds = (zs.PendingSince - zs.Since).TotalSeconds,
            });
        }

        return true;
    }

    private bool ObserveLine(LineModel line, ref LineState ls, Tracklet track, float x, float y, BoxF box, DateTimeOffset time, long frameSequence, List<PipelineEvent>? eventsOut)
    {
        if (!line.Applies(track.ClassId))
        {
            return false;
        }

        var d = GeometryMath.SignedDistance(line.Ax, line.Ay, line.Bx, line.By, x, y);
        if (MathF.Abs(d) < line.Margin)
        {
            return false; // inside the dead band: no evidence either way
        }

        var side = (sbyte)(d > 0 ? 1 : -1);
        if (ls.Side == 0 || side == ls.Side)
        {
            ls.Side = side;
            ls.Pending = 0;
            ls.X = x;
            ls.Y = y;
            return false;
        }

        if (++ls.Pending < _options.ConfirmFrames)
        {
            return false;
        }

        var crossedSegment = GeometryMath.SegmentsIntersect(ls.X, ls.Y, x, y, line.Ax, line.Ay, line.Bx, line.By);
        ls.Side = side;
        ls.Pending = 0;
        ls.X = x;
        ls.Y = y;
        if (!crossedSegment)
        {
            return false; // went round the end of the segment
        }

        if (side > 0)
        {
            line.InCount++;
        }
        else
        {
            line.OutCount++;
        }

        eventsOut?.Add(TrackEvents.Create(EventKind.LineCrossed, _cameraId, track, time, frameSequence, box, track.LastScore) with
        {
            Line = line.Name,
            Direction = side > 0 ? "in" : "out",
        });
        return true;
    }

    /// <summary>One track's state against every zone and line of the camera.</summary>
    private sealed class TrackGeometry(int zones, int lines)
    {
        public ZoneState[] Zones { get; } = new ZoneState[zones];

        public LineState[] Lines { get; } = new LineState[lines];

        public void Clear()
        {
            Array.Clear(Zones);
            Array.Clear(Lines);
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
