namespace Streaming.Hosting;

/// <summary>The stage instruments the status output and the benchmarks read (names as the stages publish them).</summary>
public static class InstrumentNames
{
    public const string IngestFrames = "stream.ingest.frames";
    public const string IngestDropped = "stream.ingest.dropped";
    public const string DetectStaleDropped = "stream.detect.stale_dropped";
    public const string DetectFrames = "stream.detect.frames";
    public const string DetectBatchFill = "stream.detect.batch_fill";
    public const string DetectBatchSize = "stream.detect.batch_size"; // one observation per inference call
    public const string DetectInferenceMs = "stream.detect.inference_duration";
    public const string SinkFrames = Core.FrameLatency.TotalLatency; // one observation per frame the sink takes
    public const string SinkEventsProduced = "stream.sink.events_produced";
    public const string SinkAckLatency = "stream.sink.ack_latency";
}
