using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Streaming.Core;

namespace Streaming.Hosting;

/// <summary>
/// Listens to every Stream meter in-process (the same instruments /metrics exports) and keeps, per instrument and
/// camera: running totals for counters, the last value for gauges, and a sliding window of recent histogram values
/// for percentiles. The live status table and the benchmarks read their figures from here, so what they print is
/// what operators see in Prometheus.
/// </summary>
public sealed class LiveMetrics : IDisposable
{
    private const string AllCameras = "";
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Camera, string Variant), Series> _series = new();
    private readonly ConcurrentDictionary<(string Key, object? Value), string> _variants = new();
    private readonly TimeSpan _window;

    public LiveMetrics(TimeSpan? window = null)
    {
        _window = window ?? TimeSpan.FromSeconds(10);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith("Stream", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>Pulls observable instruments (gauges) so their last values are current.</summary>
    public void Refresh() => _listener.RecordObservableInstruments();

    /// <summary>Sum of a counter (all cameras when <paramref name="camera"/> is null).</summary>
    public double Total(string instrument, string? camera = null, string? variant = null) =>
        Matching(instrument, camera, variant).Sum(s => s.Total);

    /// <summary>Last observed value of a gauge.</summary>
    public double? Last(string instrument, string? camera = null, string? variant = null) =>
        Matching(instrument, camera, variant).Select(s => s.LastValue).FirstOrDefault(v => v is not null);

    /// <summary>The cameras that reported a value for an instrument.</summary>
    public IReadOnlyList<string> Cameras(string instrument) =>
        [.. _series.Keys.Where(k => k.Instrument == instrument && k.Camera.Length > 0).Select(k => k.Camera).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Series of an instrument, optionally only one camera's and only those whose other tags read <paramref name="variant"/> (e.g. "stage=inference").</summary>
    private IEnumerable<Series> Matching(string instrument, string? camera, string? variant)
    {
        foreach (var kv in _series)
        {
            if (kv.Key.Instrument == instrument && (camera is null || kv.Key.Camera == camera) && (variant is null || kv.Key.Variant == variant))
            {
                yield return kv.Value;
            }
        }
    }

    /// <summary>The q-quantile (0..1) of a histogram's values within the window, null when none.</summary>
    public double? Percentile(string instrument, double q, string? camera = null, string? variant = null)
    {
        var values = new List<double>();
        foreach (var s in Matching(instrument, camera, variant))
        {
            s.CopyRecent(values, _window);
        }

        if (values.Count == 0)
        {
            return null;
        }

        values.Sort();
        var rank = q * (values.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return values[lo] + (values[hi] - values[lo]) * (rank - lo);
    }

    /// <summary>Mean of a histogram's values within the window.</summary>
    public double? Mean(string instrument, string? camera = null, string? variant = null)
    {
        var values = new List<double>();
        foreach (var s in Matching(instrument, camera, variant))
        {
            s.CopyRecent(values, _window);
        }

        return values.Count == 0 ? null : values.Average();
    }

    /// <summary>Every value a histogram recorded since the last <see cref="ResetHistograms"/> (benchmarks use this).</summary>
    public IReadOnlyList<double> AllValues(string instrument, string? variant = null)
    {
        var values = new List<double>();
        foreach (var s in Matching(instrument, null, variant))
        {
            s.CopyRecent(values, TimeSpan.MaxValue);
        }

        return values;
    }

    public void ResetHistograms()
    {
        foreach (var s in _series.Values)
        {
            s.Clear();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct, IConvertible
    {
        var camera = AllCameras;
        var variant = string.Empty;
        foreach (var tag in tags)
        {
            if (tag.Key == Telemetry.CameraTag)
            {
                camera = tag.Value as string ?? tag.Value?.ToString() ?? AllCameras;
            }
            else
            {
                // Measurements arrive on the stages' hot paths: a tag's "key=value" text is made once, then reused.
                var text = _variants.GetOrAdd((tag.Key, tag.Value), static t => $"{t.Key}={t.Value}");
                variant = variant.Length == 0 ? text : $"{variant},{text}";
            }
        }

        var v = value.ToDouble(System.Globalization.CultureInfo.InvariantCulture);
        var series = _series.GetOrAdd((instrument.Name, camera, variant), static _ => new Series());
        switch (instrument)
        {
            case Counter<long> or Counter<int> or Counter<double> or UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double>:
                series.Add(v);
                break;
            case Histogram<long> or Histogram<int> or Histogram<double> or Histogram<float>:
                series.Observe(v);
                break;
            default: // observable gauges and counters report absolute values
                series.Set(v);
                break;
        }
    }

    private sealed class Series
    {
        private const int MaxSamples = 50_000;
        private readonly Lock _gate = new();
        private readonly Queue<(long Timestamp, double Value)> _recent = new();
        private double _total;

        public double Total
        {
            get
            {
                lock (_gate)
                {
                    return _total;
                }
            }
        }

        public double? LastValue { get; private set; }

        public void Add(double v)
        {
            lock (_gate)
            {
                _total += v;
            }
        }

        public void Set(double v)
        {
            lock (_gate)
            {
                _total = v;
                LastValue = v;
            }
        }

        public void Observe(double v)
        {
            lock (_gate)
            {
                _total += 1;
                _recent.Enqueue((Stopwatch.GetTimestamp(), v));
                if (_recent.Count > MaxSamples)
                {
                    _recent.Dequeue();
                }
            }
        }

        public void CopyRecent(List<double> into, TimeSpan window)
        {
            lock (_gate)
            {
                foreach (var (ts, v) in _recent)
                {
                    if (window == TimeSpan.MaxValue || Stopwatch.GetElapsedTime(ts) <= window)
                    {
                        into.Add(v);
                    }
                }
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                _recent.Clear();
            }
        }
    }
}
