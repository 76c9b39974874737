using System.Globalization;
using System.Text.Json;
using Streaming.Core;

namespace Streaming.Eval;

/// <summary>
/// What one event says about a track, as far as alert scoring needs it: the kind, the track, the class, and the box at a
/// frame of the sequence (MOTChallenge numbering, from 1) when the event names a frame and a box.
/// </summary>
public readonly record struct AlertEvent(EventKind Kind, long TrackId, int ClassId, int? Frame, BoxF? Box);

/// <summary>One alert: a track_started and every box later events report about the same track.</summary>
/// <param name="TrackId">The track the alert is about.</param>
/// <param name="StartFrame">The frame of its track_started.</param>
/// <param name="Frames">The distinct frames with a reported box.</param>
/// <param name="Identity">The ground-truth identity it belongs to, or -1 when it is false.</param>
/// <param name="Matched">Reported frames where <paramref name="Identity"/> overlaps the box (IoU &gt;= 0.5).</param>
public sealed record ScoredAlert(long TrackId, int StartFrame, int Frames, int Identity, int Matched)
{
    public bool IsTrue => Identity >= 0;
}

/// <summary>The figures of <c>stream eval alerts</c>.</summary>
public sealed record AlertScore(
    string Name,
    int Alerts,
    int TrueAlerts,
    int People,
    int PeopleAlerted,
    double? MedianDelaySeconds,
    double? MedianEnteringDelaySeconds,
    int OtherClassAlerts,
    IReadOnlyList<ScoredAlert> Scored,
    IReadOnlyDictionary<int, int> FirstFrameOfPerson)
{
    /// <summary>True alerts / alerts (1 when there is no alert).</summary>
    public double Precision => Alerts == 0 ? 1 : (double)TrueAlerts / Alerts;

    /// <summary>People with at least one true alert / people (1 when nobody counts).</summary>
    public double Recall => People == 0 ? 1 : (double)PeopleAlerted / People;

    /// <summary>True alerts about counted people / people alerted (1 = one alert per person).</summary>
    public double Repeats => PeopleAlerted == 0 ? 0 : (double)TrueAlertsOfPeople / PeopleAlerted;

    /// <summary>True alerts whose identity is a counted person (visible at least 1 s).</summary>
    public int TrueAlertsOfPeople => Scored.Count(a => a.IsTrue && FirstFrameOfPerson.ContainsKey(a.Identity));

    /// <summary>The one summary line <c>eval alerts</c> prints last.</summary>
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: alerts {Alerts} true {TrueAlerts} people {People} alerted {PeopleAlerted} precision {Precision:0.000} recall {Recall:0.000} repeats {Repeats:0.00} median_delay_s {Seconds(MedianDelaySeconds)} (entering {Seconds(MedianEnteringDelaySeconds)}) other_class_alerts {OtherClassAlerts}");

    private static string Seconds(double? s) => s is { } d ? d.ToString("0.00", CultureInfo.InvariantCulture) : "-";
}

/// <summary>
/// Scores the alerts an operator would get (issue 23): an alert is a <c>track_started</c> and everything later events say
/// about the same <c>track_id</c>. It is true when one ground-truth identity overlaps the track's reported boxes
/// (IoU &gt;= 0.5) in at least half of the frames the events report a box for. A ground-truth person counts once visible
/// for at least 1 s (that many frames at the sequence's rate). Precision = true alerts / alerts; recall = people with a
/// true alert / people; repeats = true alerts about counted people / people alerted; delay = from a person's first
/// ground-truth frame to the frame of their first true alert's <c>track_started</c> (median over people alerted; and
/// over those who enter after the sequence's first frame, whose delay the tracker's rules decide).
/// Only boxes the events carry count, whether the events come from a file or from an in-process run, so both give the
/// same figures for the same events. Only alerts of <see cref="ClassId"/> are scored; the others are counted apart.
/// </summary>
public static class AlertScorer
{
    public const double MinIoU = 0.5;

    /// <summary>The class scored against the ground truth (COCO person).</summary>
    public const int ClassId = 0;

    public static AlertScore Score(string name, MotGroundTruth groundTruth, double frameRate, IEnumerable<AlertEvent> events)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(events);
        var gt = groundTruth.Rows.Where(r => r.Confidence != 0 && (groundTruth.Benchmark == MotBenchmark.Mot15 || r.ClassId == 1))
            .GroupBy(r => r.Frame).ToDictionary(g => g.Key, g => g.ToList());
        var frames = gt.Values.SelectMany(r => r).GroupBy(r => r.Id).ToDictionary(g => g.Key, g => (Count: g.Count(), First: g.Min(r => r.Frame)));
        var minFrames = Math.Max(1, (int)Math.Ceiling(frameRate - 1e-9)); // visible for at least 1 s
        var people = frames.Where(p => p.Value.Count >= minFrames).ToDictionary(p => p.Key, p => p.Value.First);

        // Alerts in the order they started; boxes per frame (the first box an event reports for a frame counts).
        var alerts = new Dictionary<long, (int Start, SortedDictionary<int, BoxF> Boxes)>();
        var order = new List<long>();
        var other = 0;
        foreach (var e in events)
        {
            if (e.Kind == EventKind.TrackStarted)
            {
                if (e.ClassId != ClassId)
                {
                    other++;
                    continue;
                }

                if (e.Frame is not { } startFrame || alerts.ContainsKey(e.TrackId))
                {
                    continue; // a second track_started for one id is the same alert
                }

                alerts[e.TrackId] = (startFrame, new SortedDictionary<int, BoxF>());
                order.Add(e.TrackId);
            }

            if (alerts.TryGetValue(e.TrackId, out var alert) && e.Frame is { } f && e.Box is { } box)
            {
                alert.Boxes.TryAdd(f, box);
            }
        }

        var scored = new List<ScoredAlert>();
        foreach (var id in order)
        {
            var (start, boxes) = alerts[id];
            var hits = new Dictionary<int, int>();
            foreach (var (f, box) in boxes)
            {
                if (!gt.TryGetValue(f, out var rows))
                {
                    continue;
                }

                foreach (var row in rows)
                {
                    if (row.Box.IoU(box) >= MinIoU)
                    {
                        hits[row.Id] = hits.GetValueOrDefault(row.Id) + 1;
                    }
                }
            }

            var best = hits.Count == 0 ? (Id: -1, Count: 0) : hits.Select(h => (Id: h.Key, Count: h.Value)).OrderByDescending(h => h.Count).ThenBy(h => h.Id).First();
            var isTrue = boxes.Count > 0 && 2 * best.Count >= boxes.Count && best.Count > 0;
            scored.Add(new ScoredAlert(id, start, boxes.Count, isTrue ? best.Id : -1, best.Count));
        }

        var firstAlert = scored.Where(a => a.IsTrue && people.ContainsKey(a.Identity)).GroupBy(a => a.Identity)
            .ToDictionary(g => g.Key, g => g.Min(a => a.StartFrame));
        var firstGtFrame = people.Count == 0 ? 0 : people.Values.Min();
        var median = Median([.. firstAlert.Select(p => (p.Value - people[p.Key]) / frameRate)]);
        var entering = Median([.. firstAlert.Where(p => people[p.Key] > firstGtFrame).Select(p => (p.Value - people[p.Key]) / frameRate)]);
        return new AlertScore(name, scored.Count, scored.Count(a => a.IsTrue), people.Count, firstAlert.Count, median, entering, other, scored, people);
    }

    private static double? Median(List<double> values)
    {
        values.Sort();
        var n = values.Count;
        return n == 0 ? null : n % 2 == 1 ? values[n / 2] : 0.5 * (values[(n / 2) - 1] + values[n / 2]);
    }

    /// <summary>
    /// The events of a pipeline run, as the tracker made them: <paramref name="firstFrame"/> is the MOTChallenge frame
    /// number of frame sequence 0 (frame = frame_seq + firstFrame).
    /// </summary>
    public static AlertEvent FromPipeline(PipelineEvent e, int firstFrame = 1)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new AlertEvent(e.Kind, e.TrackId ?? -1, e.ClassId ?? -1, e.FrameSequence is { } s ? checked((int)(s + firstFrame)) : null, e.Box);
    }

    /// <summary>
    /// Reads events in the Kafka event schema (docs/events.md), one JSON object a line. Events without a
    /// <c>track_id</c> (camera_status, counts) are skipped. A frame is <c>frame_seq + firstFrame</c>: a recording's first
    /// decoded frame has <c>frame_seq</c> 0, which is frame 1 of a MOTChallenge sequence made from it, so the default
    /// <paramref name="firstFrame"/> is 1. A recording made at another rate than the ground truth's (e.g. TUD-Stadtmitte's
    /// 25 fps frames encoded at 7 fps) gives <paramref name="gtFramesPerFrame"/> (25 / 7): frame = firstFrame +
    /// round(frame_seq x it), the ground-truth frame nearest in time, as ffmpeg's fps filter picks it. Only events of
    /// <paramref name="cameraId"/> are read when it is given.
    /// </summary>
    public static List<AlertEvent> ReadEvents(string path, int firstFrame = 1, string? cameraId = null, double gtFramesPerFrame = 1)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found: --events names a file of events, one JSON object a line (docs/events.md).", path);
        }

        var list = new List<AlertEvent>();
        var lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (cameraId is not null && root.TryGetProperty("camera_id", out var cam) && cam.GetString() != cameraId)
                {
                    continue;
                }

                if (!root.TryGetProperty("track_id", out var track) || track.ValueKind == JsonValueKind.Null
                    || KindOf(root.GetProperty("kind").GetString()) is not { } kind)
                {
                    continue; // camera_status, counts: no track
                }

                var classId = root.TryGetProperty("class_id", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32()
                    : root.TryGetProperty("label", out var l) && l.GetString() == "person" ? ClassId : -1;
                int? frame = root.TryGetProperty("frame_seq", out var seq) && seq.ValueKind == JsonValueKind.Number
                    ? checked((int)Math.Round(seq.GetInt64() * gtFramesPerFrame, MidpointRounding.AwayFromZero) + firstFrame)
                    : null;
                BoxF? box = root.TryGetProperty("box", out var b) && b.ValueKind == JsonValueKind.Object
                    ? new BoxF(b.GetProperty("x1").GetSingle(), b.GetProperty("y1").GetSingle(), b.GetProperty("x2").GetSingle(), b.GetProperty("y2").GetSingle())
                    : null;
                list.Add(new AlertEvent(kind, track.GetInt64(), classId, frame, box));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
            {
                throw new FormatException($"{path}:{lineNo}: not an event of docs/events.md ({ex.Message})", ex);
            }
        }

        return list;
    }

    private static EventKind? KindOf(string? name) => name switch
    {
        "track_started" => EventKind.TrackStarted,
        "track_updated" => EventKind.TrackUpdated,
        "track_ended" => EventKind.TrackEnded,
        "zone_entered" => EventKind.ZoneEntered,
        "zone_exited" => EventKind.ZoneExited,
        "line_crossed" => EventKind.LineCrossed,
        _ => null,
    };
}
