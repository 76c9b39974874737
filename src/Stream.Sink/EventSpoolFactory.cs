using Microsoft.Extensions.Logging;

namespace Streaming.Sink;

/// <summary>
/// Opens the event spool of <c>Sink:Spool</c> for the Kafka publisher (registered by <c>AddSink</c>). The spool is opened
/// when the sink starts, not when the container builds it: opening reads what an earlier run left there, and a directory
/// that cannot be used is reported by the options check first (ValidateOnStart).
/// </summary>
public sealed class EventSpoolFactory
{
    private readonly SpoolOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;

    public EventSpoolFactory(SpoolOptions options, ILoggerFactory loggers, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _loggers = loggers;
        _time = time;
    }

    /// <summary>A new spool over the directory (the caller, the publisher, owns and disposes it).</summary>
    public EventSpool Open() => new(_options, _loggers.CreateLogger<EventSpool>(), _time);
}
