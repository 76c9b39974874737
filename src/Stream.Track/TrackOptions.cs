using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Streaming.Core;

namespace Streaming.Track;

/// <summary>Which point of a track's box is tested against zones and lines.</summary>
public enum AnchorPoint
{
    /// <summary>The middle of the box's bottom edge: where a person or vehicle touches the ground (default).</summary>
    BottomCenter,

    /// <summary>The centre of the box.</summary>
    Center,
}

/// <summary>Options of the Track stage (config section <c>Track</c>).</summary>
public sealed class TrackOptions
{
    public const string Section = "Track";

    /// <summary>Detections at or above this score take part in the first association (ByteTrack's track_thresh).</summary>
    [Range(0.0, 1.0)]
    public double HighThreshold { get; set; } = 0.5;

    /// <summary>Detections in [LowThreshold, HighThreshold) only continue tracks (second association); below it they are ignored.</summary>
    [Range(0.0, 1.0)]
    public double LowThreshold { get; set; } = 0.1;

    /// <summary>An unmatched high-score detection starts a new track only at or above this score (ByteTrack's det_thresh).</summary>
    [Range(0.0, 1.0)]
    public double NewTrackThreshold { get; set; } = 0.6;

    /// <summary>First association: largest accepted cost 1 - IoU (x score when <see cref="FuseScore"/>); 0.8 means IoU &gt;= 0.2.</summary>
    [Range(0.0, 1.0)]
    public double MatchThreshold { get; set; } = 0.8;

    /// <summary>Second association (low-score detections): largest accepted cost 1 - IoU.</summary>
    [Range(0.0, 1.0)]
    public double LowMatchThreshold { get; set; } = 0.5;

    /// <summary>Tentative tracks against the remaining high-score detections: largest accepted cost.</summary>
    [Range(0.0, 1.0)]
    public double TentativeMatchThreshold { get; set; } = 0.7;

    /// <summary>Multiply IoU by the detection score in the high-score associations (ByteTrack's default outside MOT20).</summary>
    public bool FuseScore { get; set; } = true;

    /// <summary>A lost track is kept (and can be re-found) for this long after its last detection, measured in capture time.</summary>
    [Range(0.0, 3600.0)]
    public double LostBufferSeconds { get; set; } = 1.5;

    /// <summary>
    /// OC-SORT's observation-centric re-update (Cao et al., CVPR 2023): a track re-found after missed frames is re-filtered
    /// along a straight path from its last observation to the new detection, dropping the velocity error of the gap.
    /// </summary>
    public bool ObservationCentricReupdate { get; set; } = true;

    /// <summary>Consecutive matched frames before a tentative track is confirmed (ByteTrack: 2). A tentative track that misses a frame is dropped.</summary>
    [Range(1, 1000)]
    public int MinHits { get; set; } = 2;

    /// <summary>ByteTrack's rule: tracks born on a camera's very first frame are confirmed at once.</summary>
    public bool ConfirmOnFirstFrame { get; set; } = true;

    /// <summary>
    /// Re-linking: a lost track stays re-linkable this long after its last detection (capture time; 0: off). A new track of
    /// the same class, once it has <see cref="MinHits"/> matches, that is where the lost track was heading (within
    /// <see cref="RelinkDistance"/> box heights of the path from its last observed box to its predicted one) and of a
    /// similar height, continues the lost track: same id, no second TrackStarted. While longer than
    /// <see cref="LostBufferSeconds"/>, it delays TrackEnded of a track that is not found again to this long.
    /// </summary>
    [Range(0.0, 3600.0)]
    public double RelinkSeconds { get; set; } = 3;

    /// <summary>Re-linking gate: the new track's centre must lie within this many (lost track) box heights of the lost track's path.</summary>
    [Range(0.0, 100.0)]
    public double RelinkDistance { get; set; } = 1;

    /// <summary>Re-linking: the lost track's path is extrapolated along its velocity at most this many box heights per second (a walk is about 0.5-1).</summary>
    [Range(0.0, 100.0)]
    public double RelinkSpeed { get; set; } = 1;

    /// <summary>
    /// Alert continuation: a track about to alert (it cleared the confirmation rules) whose birth place is on the path of a
    /// lost track that has alerted (the re-linking gate: within <see cref="RelinkSeconds"/>, <see cref="RelinkDistance"/>
    /// and a similar height), takes over that alert instead: same track id in its events, no second TrackStarted. Unlike
    /// re-linking it also decides where geometry is ambiguous (inside a group, any of the lost tracks it might be has had
    /// its alert): the nearest path wins. Not when the two walk in opposite directions, or the lost one left through an
    /// edge of the picture.
    /// </summary>
    public bool ContinueAlerts { get; set; } = true;

    /// <summary>
    /// Confirmation before alerting (Frigate's "threshold"): a confirmed track emits TrackStarted only once the median of
    /// its last <see cref="ConfirmWindow"/> detection scores (missing ones count as 0) reaches this, and its box area is
    /// within [<see cref="MinArea"/>, <see cref="MaxArea"/>]. Its zone and line events before that are held back and
    /// emitted right after TrackStarted; a track that never qualifies never alerts. 0: alert on confirmation.
    /// </summary>
    [Range(0.0, 1.0)]
    public double ConfirmThreshold { get; set; } = 0.7;

    /// <summary>
    /// Seconds of media time a confirmed track must have been tracked (since its first detection) before it may alert:
    /// Frigate's <c>min_initialized</c> (half its detect rate, so 0.5 s, by default). A fragment that lives shorter, a
    /// track lost and found again as a new one inside a group, never alerts; a real object alerts this much later. 0: off.
    /// </summary>
    [Range(0.0, 10.0)]
    public double ConfirmSeconds { get; set; } = 0.5;

    /// <summary>Scores the confirmation median is taken over (with the default 3: two of the last three detections at or above the threshold).</summary>
    [Range(1, Tracklet.MaxScoreHistory)]
    public int ConfirmWindow { get; set; } = 3;

    /// <summary>Smallest box area (pixels) of a track that may alert (0: no limit); per class and camera the lead's object rules override it.</summary>
    [Range(0.0, double.MaxValue)]
    public double MinArea { get; set; }

    /// <summary>Largest box area (pixels) of a track that may alert (0: no limit).</summary>
    [Range(0.0, double.MaxValue)]
    public double MaxArea { get; set; }

    /// <summary>Emit TrackUpdated for each confirmed, visible track at most this often (0: off).</summary>
    [Range(0.0, 3600.0)]
    public double UpdateIntervalSeconds { get; set; }

    /// <summary>Emit a per-camera Counts event (line in/out totals) this often (0: off).</summary>
    [Range(0.0, 3600.0)]
    public double CountsIntervalSeconds { get; set; }

    /// <summary>A confirmed track's best picture is replaced (and the frame kept) only when the score beats the best by this much.</summary>
    [Range(0.0, 1.0)]
    public double BestScoreImprovement { get; set; } = 0.05;

    /// <summary>The box point tested against zones and lines.</summary>
    public AnchorPoint Anchor { get; set; } = AnchorPoint.BottomCenter;

    /// <summary>Frames in a row the anchor must stay on the new side of a line (or in/out of a zone) before the change counts.</summary>
    [Range(1, 100)]
    public int ConfirmFrames { get; set; } = 2;

    /// <summary>At final drain (input complete), end open confirmed tracks with TrackEnded (Reason "shutdown").</summary>
    public bool EndTracksOnDrain { get; set; } = true;

    /// <summary>A camera that sends no frame for this many (wall-clock) seconds has its open tracks ended with Reason "idle" (0: never).</summary>
    [Range(0.0, 86400.0)]
    public double IdleEndSeconds { get; set; } = 10;

    /// <summary>Detected frames queued per camera worker.</summary>
    [Range(1, 4096)]
    public int QueuePerCamera { get; set; } = 16;

    /// <summary>Zones and lines per camera id.</summary>
    public Dictionary<string, CameraGeometryOptions> Cameras { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The whole check of the <c>Track</c> section (annotations and cross-field rules): the host runs it at start, <see cref="ByteTracker"/> when it is built.</summary>
    public static SectionValidator<TrackOptions> Validator { get; } = new(Section, new TrackOptionsValidator(), new TrackOptionsRules());

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"high={HighThreshold} low={LowThreshold} new={NewTrackThreshold} match={MatchThreshold} lowMatch={LowMatchThreshold} tentativeMatch={TentativeMatchThreshold} fuse={FuseScore} buffer={LostBufferSeconds}s minHits={MinHits} oru={ObservationCentricReupdate} relink={RelinkSeconds}s/{RelinkDistance}h continue={ContinueAlerts} confirm={ConfirmThreshold}/{ConfirmWindow}/{ConfirmSeconds}s");
}
