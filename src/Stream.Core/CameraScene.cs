using System.Globalization;

namespace Streaming.Core;

/// <summary>Zones and lines of one camera (in its entry under <c>Cameras</c>, or the older <c>Track:Cameras:{id}</c>).</summary>
public sealed class CameraGeometryOptions
{
    public List<ZoneOptions> Zones { get; set; } = [];

    public List<LineOptions> Lines { get; set; } = [];

    /// <summary>True when there is at least one zone or line.</summary>
    public bool Any => Zones.Count > 0 || Lines.Count > 0;
}

/// <summary>A point in frame pixels, as written in config: <c>{ "X": 10, "Y": 20 }</c>.</summary>
public sealed class PointOptions
{
    public PointOptions()
    {
    }

    public PointOptions(float x, float y)
    {
        X = x;
        Y = y;
    }

    public float X { get; set; }

    public float Y { get; set; }
}

/// <summary>A polygon zone: ZoneEntered / ZoneExited (with dwell time) when a track's anchor goes in or out.</summary>
public sealed class ZoneOptions
{
    public string Name { get; set; } = string.Empty;

    /// <summary>Polygon corners in frame pixels (at least 3), in order.</summary>
    public List<PointOptions> Points { get; set; } = [];

    /// <summary>The classes (the model's label names) the zone applies to, narrowing the camera's <c>Objects:Track</c>; empty: all of them.</summary>
    public List<string> Objects { get; set; } = [];

    /// <summary>Class ids the zone applies to (the older form of <see cref="Objects"/>); empty: all classes.</summary>
    public List<int> ClassIds { get; set; } = [];
}

/// <summary>
/// A directed line segment From -> To. A track crosses "in" when its anchor goes from the left-hand side to the
/// right-hand side of the segment as seen on screen walking from From to To (image y grows downwards), "out" the other way.
/// </summary>
public sealed class LineOptions
{
    public string Name { get; set; } = string.Empty;

    public PointOptions From { get; set; } = new();

    public PointOptions To { get; set; } = new();

    /// <summary>Hysteresis: the anchor must be at least this far (pixels) beyond the line for a side to count.</summary>
    public float MarginPixels { get; set; } = 8f;

    /// <summary>The classes (label names) the line applies to, narrowing the camera's <c>Objects:Track</c>; empty: all of them.</summary>
    public List<string> Objects { get; set; } = [];

    /// <summary>Class ids the line applies to (the older form of <see cref="Objects"/>); empty: all classes.</summary>
    public List<int> ClassIds { get; set; } = [];
}

/// <summary>
/// What a camera tracks and alerts on (Frigate's <c>objects</c>): the classes, by the model's label names, and per class
/// the limits a detection must meet to count at all and the score a track must reach before it becomes an alert.
/// </summary>
public sealed class ObjectsOptions
{
    /// <summary>The classes to track, by label name (e.g. <c>["person", "car"]</c>); empty: every class the model knows.</summary>
    public List<string> Track { get; set; } = [];

    /// <summary>Per class (label name): score and size limits. Classes not named here take the defaults of <see cref="ObjectFilterOptions"/>.</summary>
    public Dictionary<string, ObjectFilterOptions> Filters { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>True when nothing narrows what the camera tracks.</summary>
    public bool IsEmpty => Track.Count == 0 && Filters.Count == 0;
}

/// <summary>
/// The limits of one class on one camera. Areas are box areas: a value below 1 is a fraction of the picture (0.01 = 1 %),
/// from 1 up pixels; 0 means no limit.
/// </summary>
public sealed class ObjectFilterOptions
{
    /// <summary>A detection of this class scoring below this is ignored (0: the tracker's own thresholds alone).</summary>
    public double MinScore { get; set; }

    /// <summary>
    /// The score a track must reach before it becomes an alert: the median of its scores over its first frames (0: the
    /// tracker's default, <c>Track:ConfirmScore</c> where it has one).
    /// </summary>
    public double Threshold { get; set; }

    /// <summary>Smallest box area (fraction of the picture below 1, else pixels; 0: none).</summary>
    public double MinArea { get; set; }

    /// <summary>Largest box area (fraction of the picture below 1, else pixels; 0: none).</summary>
    public double MaxArea { get; set; }

    /// <summary><paramref name="area"/> as pixels of a <paramref name="width"/> x <paramref name="height"/> picture.</summary>
    public static double Pixels(double area, int width, int height) => area is > 0 and < 1 ? area * width * height : area;
}

/// <summary>The checks of a camera's zones, lines and objects, wherever they are written; one line per problem naming the key and the fix.</summary>
public static class CameraSceneRules
{
    /// <summary>What makes zones and lines unusable; <paramref name="at"/> names where they were written (e.g. "Cameras[0]").</summary>
    public static IReadOnlyList<string> GeometryProblems(string at, CameraGeometryOptions geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var errors = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var zone in geometry.Zones)
        {
            if (zone is null)
            {
                errors.Add($"{at}:Zones: empty entry; remove it or give it a Name and Points.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(zone.Name))
            {
                errors.Add($"{at}:Zones: every zone needs a Name.");
            }
            else if (!names.Add("zone:" + zone.Name))
            {
                errors.Add($"{at}:Zones: zone name '{zone.Name}' is used twice; give each zone its own name.");
            }

            if (zone.Points.Count < 3)
            {
                errors.Add($"{at}:Zones:{zone.Name} has {zone.Points.Count} points; a polygon needs at least 3 (Points: [{{\"X\":..,\"Y\":..}}, ...]).");
            }
        }

        foreach (var line in geometry.Lines)
        {
            if (line is null)
            {
                errors.Add($"{at}:Lines: empty entry; remove it or give it a Name, From and To.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(line.Name))
            {
                errors.Add($"{at}:Lines: every line needs a Name.");
            }
            else if (!names.Add("line:" + line.Name))
            {
                errors.Add($"{at}:Lines: line name '{line.Name}' is used twice; give each line its own name.");
            }

            if (line.From is null || line.To is null || (line.From.X == line.To.X && line.From.Y == line.To.Y))
            {
                errors.Add($"{at}:Lines:{line.Name} needs distinct From and To points ({{\"X\":..,\"Y\":..}}).");
            }

            if (line.MarginPixels < 0)
            {
                errors.Add($"{at}:Lines:{line.Name}:MarginPixels must be >= 0.");
            }
        }

        return errors;
    }

    /// <summary>
    /// What makes a camera's <c>Objects</c> unusable before the model is known: empty names, scores outside 0-1, negative
    /// areas, a minimum above the maximum. Names are checked against the model's labels when it is loaded (<see cref="LabelProblems"/>).
    /// </summary>
    public static IReadOnlyList<string> ObjectProblems(string at, ObjectsOptions objects)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var errors = new List<string>();
        if (objects.Track.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{at}:Objects:Track has an empty name; list class names such as \"person\".");
        }

        foreach (var (label, filter) in objects.Filters)
        {
            var key = $"{at}:Objects:Filters:{label}";
            if (filter is null)
            {
                errors.Add($"{key} is empty; remove it or give it MinScore, Threshold, MinArea or MaxArea.");
                continue;
            }

            if (filter.MinScore is < 0 or > 1)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}:MinScore is {filter.MinScore}: it must be between 0 and 1."));
            }

            if (filter.Threshold is < 0 or > 1)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}:Threshold is {filter.Threshold}: it must be between 0 and 1."));
            }

            if (filter.MinArea < 0 || filter.MaxArea < 0)
            {
                errors.Add($"{key}: MinArea and MaxArea must be >= 0 (a fraction of the picture below 1, else pixels; 0: no limit).");
            }
            else if (filter.MaxArea > 0 && filter.MinArea > 0 && (filter.MinArea < 1) == (filter.MaxArea < 1) && filter.MinArea > filter.MaxArea)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}: MinArea ({filter.MinArea}) is above MaxArea ({filter.MaxArea}); swap them."));
            }

            if (objects.Track.Count > 0 && !objects.Track.Contains(label, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{key} filters a class that {at}:Objects:Track does not track; add '{label}' to Track or remove the filter.");
            }
        }

        return errors;
    }

    /// <summary>The names of a camera's objects, zones and lines that the model has no label for, one line each, naming the labels it has.</summary>
    public static IReadOnlyList<string> LabelProblems(string at, ObjectsOptions objects, CameraGeometryOptions geometry, IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(geometry);
        ArgumentNullException.ThrowIfNull(labels);
        var errors = new List<string>();
        var known = new HashSet<string>(labels, StringComparer.OrdinalIgnoreCase);
        void Check(string key, IEnumerable<string> names)
        {
            foreach (var name in names.Where(n => !string.IsNullOrWhiteSpace(n) && !known.Contains(n)))
            {
                var sample = string.Join(", ", labels.Take(8));
                errors.Add($"{at}:{key} names '{name}', which is not a class of the model; use one of its labels ({sample}{(labels.Count > 8 ? ", ..." : string.Empty)}).");
            }
        }

        Check("Objects:Track", objects.Track);
        Check("Objects:Filters", objects.Filters.Keys);
        foreach (var zone in geometry.Zones)
        {
            Check($"Zones:{zone.Name}:Objects", zone.Objects);
        }

        foreach (var line in geometry.Lines)
        {
            Check($"Lines:{line.Name}:Objects", line.Objects);
        }

        return errors;
    }
}
