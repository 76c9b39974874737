using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using Streaming.Core;
using Streaming.Sink;
using Streaming.Testing;

namespace Streaming.Sink.Tests;

/// <summary>Keeps every log line so that tests can assert on what was said (and never said), and by which component.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly string _category;

    public ListLogger()
        : this(new ConcurrentQueue<(LogLevel Level, string Message, string Category)>(), typeof(T).FullName!)
    {
    }

    public ListLogger(ConcurrentQueue<(LogLevel Level, string Message, string Category)> entries, string category)
    {
        Entries = entries;
        _category = category;
    }

    public ConcurrentQueue<(LogLevel Level, string Message, string Category)> Entries { get; }

    /// <summary>A factory whose loggers (one per category) all write into this logger's entries.</summary>
    public ILoggerFactory Factory => new SharedFactory(Entries);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        Entries.Enqueue((logLevel, formatter(state, exception), _category));
    }

    private sealed class SharedFactory(ConcurrentQueue<(LogLevel Level, string Message, string Category)> entries) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger<object>(entries, categoryName);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }

    public string All => string.Join('\n', Entries.Select(e => $"{e.Level}: {e.Message}"));
}

/// <summary>
/// Drives a real <see cref="SinkService"/> by writing tracked frames (real pooled frames and pipeline events) and camera
/// status changes into its input channels, exactly as Track and Ingest do.
/// </summary>
internal sealed class SinkHarness : IAsyncDisposable
{
    private readonly StandaloneMeterFactory _meters = new();

    public SinkHarness(SinkOptions options)
    {
        Options = options;
        Frames = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        Status = Channel.CreateBounded<CameraStatusChange>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        Metrics = new SinkMetrics(_meters);
        Redis = new RedisConnection(options.Redis);
        Service = new SinkService(Microsoft.Extensions.Options.Options.Create(options), Frames.Reader, Status.Reader,
            new EventSpoolFactory(options.Spool, Logger.Factory, TimeProvider.System), KafkaProducerFactory.Instance, Redis, Metrics, Logger.Factory,
            new FrameLatency(_meters), TimeProvider.System, Microsoft.Extensions.Options.Options.Create(new ClipOptions { Enabled = false }), new ClipMetrics(_meters));
    }

    public SinkOptions Options { get; }

    public Channel<TrackedFrame> Frames { get; }

    public Channel<CameraStatusChange> Status { get; }

    public SinkMetrics Metrics { get; }

    /// <summary>The Redis connection the sink writes through (the host's, in the pipeline); disposed with the harness.</summary>
    public RedisConnection Redis { get; }

    public ListLogger<SinkService> Logger { get; } = new();

    public SinkService Service { get; }

    /// <summary>Every event written, in order, per camera.</summary>
    public ConcurrentDictionary<string, List<Guid>> Written { get; } = new();

    public static SinkOptions DefaultOptions(string bootstrap, string redis, string spoolDir) => new()
    {
        Kafka = new KafkaSinkOptions { BootstrapServers = bootstrap, Topic = "events-" + Guid.NewGuid().ToString("N")[..8], LingerMs = 2, FlushTimeoutSeconds = 20 },
        Spool = new SpoolOptions { Directory = spoolDir },
        Redis = new RedisSinkOptions { Configuration = redis, FrameTtlSeconds = 60, EveryNthFrame = 0 },
    };

    public async Task StartAsync()
    {
        Assert.Empty(SinkOptions.Validator.Problems(Options));
        await Service.StartAsync(CancellationToken.None);
        await Service.BootstrapServers.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Writes one frame of <paramref name="camera"/>, with one event that refers to it when <paramref name="kind"/> is given.</summary>
    public async Task<PipelineEvent?> WriteFrameAsync(string camera, long sequence, EventKind? kind, bool keepFrame = false)
    {
        var now = DateTimeOffset.UtcNow;
        var frame = Frame.Rent(camera, sequence, 96, 64, now);
        frame.Image.SetTo(new Scalar(sequence % 255, 80, 160));
        PipelineEvent? e = null;
        if (kind is { } k)
        {
            e = new PipelineEvent
            {
                Kind = k,
                CameraId = camera,
                Time = now,
                FrameSequence = sequence,
                TrackId = sequence,
                ClassId = 16,
                Score = 0.87f,
                Box = new BoxF(10, 12, 50, 48),
                FirstSeen = now,
                Zone = k is EventKind.ZoneEntered or EventKind.ZoneExited ? "dock" : null,
                Line = k is EventKind.LineCrossed ? "gate" : null,
                Direction = k is EventKind.LineCrossed ? "in" : null,
            };
            Written.GetOrAdd(camera, _ => []).Add(e.Id);
        }

        await Frames.Writer.WriteAsync(new TrackedFrame(frame, [], e is null ? [] : [e], keepFrame));
        return e;
    }

    /// <summary>Completes both inputs and waits for the sink to drain and flush.</summary>
    public async Task CompleteAsync(TimeSpan timeout)
    {
        Frames.Writer.TryComplete();
        Status.Writer.TryComplete();
        await Service.ExecuteTask!.WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        Frames.Writer.TryComplete();
        Status.Writer.TryComplete();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Service.StopAsync(cts.Token);
        Service.Dispose();
        await Redis.DisposeAsync();
        _meters.Dispose();
    }
}

/// <summary>Checks an event against docs/events.schema.json: required fields, property types, enums/consts and the kind-specific requirements.</summary>
internal static class EventSchema
{
    private static readonly Lazy<JsonDocument> Schema = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "events.schema.json"))));

    public static IReadOnlyList<string> Validate(string json)
    {
        var errors = new List<string>();
        using var doc = JsonDocument.Parse(json);
        ValidateObject(doc.RootElement, Schema.Value.RootElement, "$", errors);
        if (Schema.Value.RootElement.TryGetProperty("allOf", out var allOf))
        {
            foreach (var rule in allOf.EnumerateArray())
            {
                if (Matches(doc.RootElement, rule.GetProperty("if")))
                {
                    ValidateObject(doc.RootElement, rule.GetProperty("then"), "$", errors);
                }
            }
        }

        return errors;
    }

    private static bool Matches(JsonElement value, JsonElement condition)
    {
        if (condition.TryGetProperty("required", out var req) && req.EnumerateArray().Any(r => !value.TryGetProperty(r.GetString()!, out _)))
        {
            return false;
        }

        if (condition.TryGetProperty("properties", out var props))
        {
            foreach (var p in props.EnumerateObject())
            {
                if (!value.TryGetProperty(p.Name, out var v) || !ValueMatches(v, p.Value))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static bool ValueMatches(JsonElement v, JsonElement schema)
    {
        if (schema.TryGetProperty("const", out var c) && v.ToString() != c.ToString())
        {
            return false;
        }

        return !schema.TryGetProperty("enum", out var e) || e.EnumerateArray().Any(x => x.ToString() == v.ToString());
    }

    private static void ValidateObject(JsonElement value, JsonElement schema, string path, List<string> errors)
    {
        if (schema.TryGetProperty("type", out var type) && !TypeMatches(value, type.GetString()!))
        {
            errors.Add($"{path}: expected {type.GetString()}, got {value.ValueKind}");
            return;
        }

        if (!ValueMatches(value, schema))
        {
            errors.Add($"{path}: value {value} not allowed");
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var r in required.EnumerateArray())
            {
                if (!value.TryGetProperty(r.GetString()!, out _))
                {
                    errors.Add($"{path}: missing required '{r.GetString()}'");
                }
            }
        }

        schema.TryGetProperty("properties", out var props);
        foreach (var p in value.EnumerateObject())
        {
            if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(p.Name, out var ps))
            {
                ValidateObject(p.Value, ps, path + "." + p.Name, errors);
            }
            else if (schema.TryGetProperty("additionalProperties", out var ap))
            {
                if (ap.ValueKind == JsonValueKind.False)
                {
                    errors.Add($"{path}: unexpected '{p.Name}'");
                }
                else if (ap.ValueKind == JsonValueKind.Object)
                {
                    ValidateObject(p.Value, ap, path + "." + p.Name, errors);
                }
            }
        }
    }

    private static bool TypeMatches(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "string" => v.ValueKind == JsonValueKind.String,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _),
        "number" => v.ValueKind == JsonValueKind.Number,
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "array" => v.ValueKind == JsonValueKind.Array,
        _ => true,
    };
}
