namespace Streaming.Core;

/// <summary>
/// Names shared by all stages' metrics. Each stage creates its meter through <c>IMeterFactory</c> with its own name
/// below, and names instruments <c>stream.&lt;stage&gt;.&lt;what&gt;</c> with a unit; per-camera figures carry the
/// <see cref="CameraTag"/> tag.
/// </summary>
public static class Telemetry
{
    public const string IngestMeter = "Stream.Ingest";
    public const string DetectMeter = "Stream.Detect";
    public const string TrackMeter = "Stream.Track";
    public const string SinkMeter = "Stream.Sink";
    public const string PipelineMeter = "Stream.Pipeline";

    public const string CameraTag = "camera";

    public static IReadOnlyList<string> AllMeters { get; } = [IngestMeter, DetectMeter, TrackMeter, SinkMeter, PipelineMeter];
}
