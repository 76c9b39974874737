using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// librdkafka's log lines, errors and statistics (its own threads) into the publisher's <see cref="ILogger"/> and
/// <see cref="SinkMetrics"/>: credentials masked, levels mapped, and a warning or error that repeats within 30 s said once
/// (a broker that is down repeats itself every second). Thread-safe.
/// </summary>
internal sealed class LibrdkafkaLogBridge
{
    private static readonly TimeSpan SameErrorQuietPeriod = TimeSpan.FromSeconds(30);
    private readonly ILogger _logger;
    private readonly SinkMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly string _bootstrapServers;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _recent = new(StringComparer.Ordinal); // text -> when last said, under _gate

    public LibrdkafkaLogBridge(ILogger logger, SinkMetrics metrics, TimeProvider time, string bootstrapServers)
    {
        _logger = logger;
        _metrics = metrics;
        _time = time;
        _bootstrapServers = bootstrapServers;
        Handlers = new KafkaProducerHandlers(OnLog, OnError, OnStatistics);
    }

    /// <summary>What the producer factory attaches to the producer.</summary>
    public KafkaProducerHandlers Handlers { get; }

    /// <summary>librdkafka's syslog levels mapped to ours: its warnings and errors reach an operator; notices are information.</summary>
    internal static LogLevel ToLogLevel(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
        SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    /// <summary>A producer error (from librdkafka, or one a produce call threw): fatal, or a broker problem.</summary>
    public void OnError(Error error)
    {
        var reason = UrlRedactor.Redact(error.Reason);
        if (Repeated(reason))
        {
            return;
        }

        if (error.IsFatal)
        {
            _logger.ProducerFatal(reason);
        }
        else
        {
            _logger.BrokerProblem(reason, _bootstrapServers);
        }
    }

    private void OnLog(LogMessage message)
    {
        var level = ToLogLevel(message.Level);
        if (!_logger.IsEnabled(level))
        {
            return;
        }

        // Credentials never reach a log: librdkafka's text has URLs and user:password@ masked like every other line.
        var text = UrlRedactor.Redact(message.Message);
        if (level >= LogLevel.Warning && Repeated(message.Facility + text))
        {
            return;
        }

        _logger.Librdkafka(level, message.Facility, text);
    }

    /// <summary>The statistics JSON (every 5 s): the request retries summed over the brokers.</summary>
    private void OnStatistics(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            long retries = 0;
            if (doc.RootElement.TryGetProperty("brokers", out var brokers))
            {
                foreach (var b in brokers.EnumerateObject())
                {
                    if (b.Value.TryGetProperty("txretries", out var r) && r.TryGetInt64(out var n))
                    {
                        retries += n;
                    }
                }
            }

            _metrics.SetRequestRetries(retries);
        }
        catch (JsonException)
        {
        }
    }

    /// <summary>True when the same text was said less than 30 s ago.</summary>
    private bool Repeated(string text)
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_recent.TryGetValue(text, out var at) && _time.GetElapsedTime(at, now) < SameErrorQuietPeriod)
            {
                return true;
            }

            if (_recent.Count >= 64)
            {
                _recent.Clear();
            }

            _recent[text] = now;
            return false;
        }
    }
}
