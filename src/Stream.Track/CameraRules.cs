using Streaming.Core;

namespace Streaming.Track;

/// <summary>
/// One camera run's <c>Objects</c> and zones, resolved against the model's labels and the camera's picture size: which
/// classes it tracks, per class the least score and the box area limits a detection must meet to count at all, the
/// score a track must reach to become an alert, and the zones and lines with their class names turned into class ids.
/// Built once per camera run (Track's first frame of an epoch); <see cref="Filter"/> runs on every inferred frame and
/// allocates nothing.
/// </summary>
public sealed class CameraRules
{
    private readonly bool[]? _tracked; // null: every class
    private readonly float[] _minScore;
    private readonly double[] _minArea;
    private readonly double[] _maxArea;
    private readonly double[] _threshold;
    private readonly bool _filters;

    private CameraRules(int classes, bool[]? tracked, CameraGeometryOptions? geometry, bool filters)
    {
        _tracked = tracked;
        _minScore = new float[classes];
        _minArea = new double[classes];
        _maxArea = new double[classes];
        _threshold = new double[classes];
        Geometry = geometry;
        _filters = filters;
    }

    /// <summary>Rules that keep every detection (no <c>Objects</c>), with these zones and lines.</summary>
    public static CameraRules All(CameraGeometryOptions? geometry) => new(0, null, geometry, filters: false);

    /// <summary>The zones and lines, class names resolved to ids (null: none).</summary>
    public CameraGeometryOptions? Geometry { get; }

    /// <summary>The confirmation score of class <paramref name="classId"/> on this camera (0: the tracker's default).</summary>
    public double Threshold(int classId) => (uint)classId < (uint)_threshold.Length ? _threshold[classId] : 0;

    /// <summary>
    /// The per-class confirmation rules of this camera for <see cref="ByteTracker"/>: <paramref name="defaults"/> with
    /// the class's own <c>Threshold</c> where the camera sets one; null when it sets none.
    /// </summary>
    public Func<int, ConfirmRule>? ConfirmRules(ConfirmRule defaults) =>
        _threshold.Any(t => t > 0) ? c => Threshold(c) is > 0 and var t ? defaults with { Threshold = t } : defaults : null;

    /// <summary>
    /// Resolves a camera's objects and zones. <paramref name="labels"/> are the model's class names; names it lacks are
    /// reported in <paramref name="problems"/> (one line each) and match nothing. Areas given as fractions are taken of
    /// <paramref name="width"/> x <paramref name="height"/>.
    /// </summary>
    public static CameraRules Resolve(string at, ObjectsOptions? objects, CameraGeometryOptions? geometry, IReadOnlyList<string> labels,
        int width, int height, out IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(labels);
        objects ??= new ObjectsOptions();
        problems = CameraSceneRules.LabelProblems(at, objects, geometry ?? new CameraGeometryOptions(), labels);
        var resolved = geometry is { Any: true } g ? Resolved(g, labels) : null;
        if (objects.IsEmpty)
        {
            return All(resolved);
        }

        var classes = labels.Count;
        bool[]? tracked = null;
        if (objects.Track.Count > 0)
        {
            tracked = new bool[classes];
            foreach (var id in Ids(objects.Track, labels))
            {
                tracked[id] = true;
            }
        }

        var rules = new CameraRules(classes, tracked, resolved, filters: true);
        foreach (var (name, filter) in objects.Filters)
        {
            if (filter is null)
            {
                continue;
            }

            foreach (var id in Ids([name], labels))
            {
                rules._minScore[id] = (float)filter.MinScore;
                rules._threshold[id] = filter.Threshold;
                rules._minArea[id] = ObjectFilterOptions.Pixels(filter.MinArea, width, height);
                rules._maxArea[id] = ObjectFilterOptions.Pixels(filter.MaxArea, width, height);
            }
        }

        return rules;
    }

    /// <summary>
    /// The detections this camera counts: of a tracked class, scoring at least the class's MinScore, with a box area
    /// within its limits. Returns <paramref name="detections"/> itself when nothing narrows them, else
    /// <paramref name="scratch"/> refilled.
    /// </summary>
    public IReadOnlyList<Detection> Filter(IReadOnlyList<Detection> detections, List<Detection> scratch)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(scratch);
        if (!_filters)
        {
            return detections;
        }

        scratch.Clear();
        for (var i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            var c = d.ClassId;
            if ((uint)c >= (uint)_minScore.Length)
            {
                if (_tracked is null)
                {
                    scratch.Add(d); // a class beyond the labels: nothing configured narrows it
                }

                continue;
            }

            if (_tracked is not null && !_tracked[c])
            {
                continue;
            }

            var area = (double)d.Box.Width * d.Box.Height;
            if (d.Score < _minScore[c] || (_minArea[c] > 0 && area < _minArea[c]) || (_maxArea[c] > 0 && area > _maxArea[c]))
            {
                continue;
            }

            scratch.Add(d);
        }

        return scratch;
    }

    private static IEnumerable<int> Ids(IEnumerable<string> names, IReadOnlyList<string> labels)
    {
        foreach (var name in names)
        {
            for (var i = 0; i < labels.Count; i++)
            {
                if (string.Equals(labels[i], name?.Trim(), StringComparison.OrdinalIgnoreCase))
                {
                    yield return i;
                }
            }
        }
    }

    /// <summary>A copy of the zones and lines whose <c>Objects</c> names are added to their class ids.</summary>
    private static CameraGeometryOptions Resolved(CameraGeometryOptions geometry, IReadOnlyList<string> labels) => new()
    {
        Zones = [.. geometry.Zones.Select(z => z.Objects.Count == 0 ? z : new ZoneOptions
        {
            Name = z.Name,
            Points = z.Points,
            ClassIds = [.. z.ClassIds.Concat(Ids(z.Objects, labels)).Distinct(), .. NoneIfUnknown(z.Objects, labels)],
        })],
        Lines = [.. geometry.Lines.Select(l => l.Objects.Count == 0 ? l : new LineOptions
        {
            Name = l.Name,
            From = l.From,
            To = l.To,
            MarginPixels = l.MarginPixels,
            ClassIds = [.. l.ClassIds.Concat(Ids(l.Objects, labels)).Distinct(), .. NoneIfUnknown(l.Objects, labels)],
        })],
    };

    /// <summary>A zone naming only classes the model lacks applies to none (class id -1), not to all.</summary>
    private static IEnumerable<int> NoneIfUnknown(List<string> names, IReadOnlyList<string> labels) =>
        Ids(names, labels).Any() ? [] : [-1];
}
