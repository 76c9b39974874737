using System.Diagnostics.Metrics;
using Streaming.Core;

namespace Streaming.Track;

/// <summary>The Track stage's instruments (meter <see cref="Telemetry.TrackMeter"/>).</summary>
public sealed class TrackMetrics
{
    private readonly Meter _meter;
    private readonly Counter<long> _events;
    private readonly Histogram<double> _updateDuration;
    private readonly Counter<long> _frames;

    public TrackMetrics(IMeterFactory meterFactory, Func<IEnumerable<Measurement<int>>> activeTracks)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(activeTracks);
        _meter = meterFactory.Create(new MeterOptions(Telemetry.TrackMeter));

        _meter.CreateObservableGauge("stream.track.active_tracks", activeTracks, "{track}", "Confirmed and lost tracks per camera.");
        _events = _meter.CreateCounter<long>("stream.track.events", "{event}", "Events produced, by kind and camera.");
        _frames = _meter.CreateCounter<long>("stream.track.frames", "{frame}", "Frames tracked per camera.");
        _updateDuration = _meter.CreateHistogram<double>("stream.track.update_duration", "us", "Time of one tracker update (one frame of one camera).");
    }

    public void Frame(string camera, double microseconds)
    {
        var tag = new KeyValuePair<string, object?>(Telemetry.CameraTag, camera);
        _frames.Add(1, tag);
        _updateDuration.Record(microseconds, tag);
    }

    public void Event(string camera, EventKind kind) =>
        _events.Add(1, new KeyValuePair<string, object?>(Telemetry.CameraTag, camera), new KeyValuePair<string, object?>("kind", kind.ToString()));
}
