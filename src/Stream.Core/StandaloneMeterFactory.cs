using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Streaming.Core;

/// <summary>
/// An <see cref="IMeterFactory"/> for code that runs a stage without a host (benchmarks, tests): it creates real
/// meters, so MeterListeners see them as in production, and disposes them with itself.
/// </summary>
public sealed class StandaloneMeterFactory : IMeterFactory
{
    private readonly ConcurrentBag<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var meter = new Meter(options.Name, options.Version, options.Tags, this);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}
