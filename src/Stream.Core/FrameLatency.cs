using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Streaming.Core;

/// <summary>
/// Per-stage latency of frames, from the stamps each stage writes on <see cref="Frame"/>: histograms
/// <c>stream.pipeline.stage_latency</c> (tag <c>stage</c>: decode, queue, inference, track, sink) and
/// <c>stream.pipeline.latency</c> (capture to the sink receiving the frame), in milliseconds, per camera.
/// The sink records each frame once when it takes it; Kafka acknowledgement latency is the sink's own histogram.
/// </summary>
public sealed class FrameLatency
{
    private readonly Histogram<double> _stage;
    private readonly Histogram<double> _total;

    public FrameLatency(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(Telemetry.PipelineMeter);
        _stage = meter.CreateHistogram<double>("stream.pipeline.stage_latency", "ms", "Time a frame spent in each stage");
        _total = meter.CreateHistogram<double>("stream.pipeline.latency", "ms", "Capture to sink, per frame");
    }

    public const string StageLatency = "stream.pipeline.stage_latency";
    public const string TotalLatency = "stream.pipeline.latency";

    public void Record(Frame frame, long sinkTimestamp)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var camera = new KeyValuePair<string, object?>(Telemetry.CameraTag, frame.CameraId);
        Stage(frame.CapturedTimestamp, frame.IngestOutTimestamp, "decode", camera);
        Stage(frame.IngestOutTimestamp, frame.BatchStartTimestamp, "queue", camera);
        Stage(frame.BatchStartTimestamp, frame.InferenceEndTimestamp, "inference", camera);
        Stage(frame.InferenceEndTimestamp, frame.TrackedTimestamp, "track", camera);
        Stage(frame.TrackedTimestamp, sinkTimestamp, "sink", camera);
        if (frame.CapturedTimestamp != 0)
        {
            _total.Record(Stopwatch.GetElapsedTime(frame.CapturedTimestamp, sinkTimestamp).TotalMilliseconds, camera);
        }
    }

    private void Stage(long from, long to, string stage, KeyValuePair<string, object?> camera)
    {
        if (from != 0 && to != 0 && to >= from)
        {
            _stage.Record(Stopwatch.GetElapsedTime(from, to).TotalMilliseconds, camera, new KeyValuePair<string, object?>("stage", stage));
        }
    }
}
