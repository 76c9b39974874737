using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>The Detect stage's instruments (meter <see cref="Telemetry.DetectMeter"/>).</summary>
public sealed class DetectMetrics
{
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _batchFill;
    private readonly Histogram<double> _inference;
    private readonly Histogram<double> _preprocess;
    private readonly Histogram<double> _postprocess;
    private readonly Counter<long> _frames;
    private readonly Counter<long> _detections;
    private readonly Counter<long> _stale;
    private readonly Counter<long> _failed;
    private readonly ConcurrentDictionary<string, bool> _cameras = new(StringComparer.Ordinal);
    private readonly Counter<long> _gated;

    public DetectMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(Telemetry.DetectMeter);
        _batchSize = meter.CreateHistogram<int>("stream.detect.batch_size", "{frame}", "Frames per inference batch");
        _batchFill = meter.CreateHistogram<double>("stream.detect.batch_fill", "1", "Batch size divided by the maximum batch size");
        _inference = meter.CreateHistogram<double>("stream.detect.inference_duration", "ms", "Time in the ONNX Runtime session per batch");
        _preprocess = meter.CreateHistogram<double>("stream.detect.preprocess_duration", "ms", "Letterbox and tensor fill per batch");
        _postprocess = meter.CreateHistogram<double>("stream.detect.postprocess_duration", "ms", "Decode, threshold and NMS per batch");
        _frames = meter.CreateCounter<long>("stream.detect.frames", "{frame}", "Frames detected");
        _detections = meter.CreateCounter<long>("stream.detect.detections", "{detection}", "Detections produced");
        _stale = meter.CreateCounter<long>("stream.detect.stale_dropped", "{frame}", "Live frames dropped as too old before inference");
        _failed = meter.CreateCounter<long>("stream.detect.failed", "{frame}", "Frames dropped because their batch failed");
        _gated = meter.CreateCounter<long>("stream.detect.gated_frames", "{frame}", "Frames the motion gate passed to Track without inference");
    }

    public void Batch(int size, int maxBatch, in DetectTimings timings)
    {
        _batchSize.Record(size);
        _batchFill.Record((double)size / maxBatch);
        _inference.Record(timings.InferenceMs);
        _preprocess.Record(timings.PreprocessMs);
        _postprocess.Record(timings.PostprocessMs);
    }

    public void Frame(string camera, int detections)
    {
        var tag = new KeyValuePair<string, object?>(Telemetry.CameraTag, camera);
        if (!_cameras.ContainsKey(camera) && _cameras.TryAdd(camera, true))
        {
            // A camera's drop counters exist from its first frame, at 0, so that dashboards and alerts see "none yet"
            // instead of a missing series.
            _stale.Add(0, tag);
            _failed.Add(0, tag);
            _gated.Add(0, tag);
        }

        _frames.Add(1, tag);
        _detections.Add(detections, tag);
    }

    public void Stale(string camera) => _stale.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera));

    public void Gated(string camera) => _gated.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera));

    public void Failed(string camera) => _failed.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera));
}
