using System.Diagnostics.Metrics;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Sink;

namespace Streaming.Hosting;

/// <summary>
/// Liveness and readiness as ASP.NET Core health checks. <c>/healthz</c> (tag live): the host runs and no stage loop
/// has ended. <c>/readyz</c> (tag ready): that, plus the model is loaded, Kafka is reachable (or, degraded, the spool
/// still takes events), Redis is reachable (degraded without it: events flow, pictures are not kept) and at least one
/// camera streams (or none is configured). Both answer JSON with every check's status and reason; Degraded answers 200,
/// Unhealthy 503.
/// </summary>
internal static class HealthChecks
{
    public const string Live = HealthTags.Live;
    public const string Ready = HealthTags.Ready;

    /// <summary>Registers the process's own checks (stage loops, dependencies, cameras); each stage registers its own (Detect: "model").</summary>
    public static IServiceCollection AddStreamHealthChecks(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DependencyProbe>();
        services.AddHostedService(sp => sp.GetRequiredService<DependencyProbe>());
        services.AddHealthChecks()
            .AddCheck<StageLoopsCheck>("stages", tags: [Live, Ready])
            .AddCheck<KafkaCheck>("kafka", tags: [Ready])
            .AddCheck<RedisCheck>("redis", tags: [Ready])
            .AddCheck<SpoolCheck>("spool", tags: [Ready])
            .AddCheck<CamerasCheck>("cameras", tags: [Ready]);
        return services;
    }

    public static void Map(WebApplication app)
    {
        app.MapHealthChecks("/healthz", Options(Live));
        app.MapHealthChecks("/readyz", Options(Ready));
    }

    private static HealthCheckOptions Options(string tag) => new()
    {
        Predicate = c => c.Tags.Contains(tag),
        ResponseWriter = WriteJsonAsync,
        ResultStatusCodes =
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        },
    };

    /// <summary>{"status":"Degraded","checks":[{"name":"kafka","status":"Degraded","description":"..."}]}</summary>
    private static async Task WriteJsonAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        http.Response.Headers.CacheControl = "no-store";
        await using var json = new Utf8JsonWriter(http.Response.Body);
        json.WriteStartObject();
        json.WriteString("status", report.Status.ToString());
        json.WriteStartArray("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject();
            json.WriteString("name", name);
            json.WriteString("status", entry.Status.ToString());
            json.WriteString("description", entry.Description);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The host has started and is not stopping, and every stage loop (hosted background service) still runs.</summary>
    private sealed class StageLoopsCheck(IHostApplicationLifetime lifetime, IEnumerable<IHostedService> hosted) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            // The stages (and Ingest's camera loop) run until shutdown; helpers such as the status output may end early by
            // design (Status:Mode=off), so only a helper that failed counts.
            var loops = hosted.OfType<BackgroundService>().ToList();
            var ended = loops.Where(s => s.ExecuteTask is { IsCompleted: true } t && (t.IsFaulted || s is PipelineStage or IngestService)).ToList();
            if (ended.Count > 0)
            {
                var why = string.Join("; ", ended.Select(s => s.GetType().Name + (s.ExecuteTask!.Exception is { } ex ? ": " + UrlRedactor.Redact(ex.GetBaseException().Message) : " ended")));
                return Task.FromResult(HealthCheckResult.Unhealthy($"stage loop stopped: {why}"));
            }

            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("stopping: draining the pipeline"));
            }

            return Task.FromResult(lifetime.ApplicationStarted.IsCancellationRequested
                ? HealthCheckResult.Healthy($"{loops.Count} background loops running, none ended")
                : HealthCheckResult.Unhealthy("starting"));
        }
    }

    private sealed class KafkaCheck(DependencyProbe probe) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var kafka = probe.Kafka;
            if (kafka.Reachable is null)
            {
                return Task.FromResult(HealthCheckResult.Degraded("Kafka not checked yet"));
            }

            if (kafka.Reachable == true)
            {
                return Task.FromResult(HealthCheckResult.Healthy(kafka.Detail));
            }

            var spool = probe.SpoolAccepts();
            return Task.FromResult(spool.Accepts
                ? HealthCheckResult.Degraded($"Kafka unreachable ({kafka.Detail}); events are kept in the spool ({spool.Detail}) and sent when it is back")
                : HealthCheckResult.Unhealthy($"Kafka unreachable ({kafka.Detail}) and the spool takes no more events ({spool.Detail})"));
        }
    }

    /// <summary>The event spool writes (every event goes there before it counts as accepted); a full or failing disk is Unhealthy.</summary>
    private sealed class SpoolCheck(SinkService sink, DependencyProbe probe) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (sink.SpoolProblem is { } problem)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy(
                    $"{problem}: events wait, not accepted, and the sink holds further events (live cameras drop their oldest frames) until it takes them again"));
            }

            var spool = probe.SpoolAccepts();
            return Task.FromResult(spool.Accepts ? HealthCheckResult.Healthy("event spool " + spool.Detail) : HealthCheckResult.Unhealthy("event spool full: " + spool.Detail));
        }
    }

    /// <summary>
    /// Redis as the probe's PING sees it and as the sink's frame cache finds it: a cache, so never worse than Degraded. The
    /// cache's own reason for skipping frames (timeout, auth_failed, redis_down) is named, as the skip counter names it.
    /// </summary>
    private sealed class RedisCheck(DependencyProbe probe, SinkService sink) : IHealthCheck
    {
        private const string Consequence = "events still flow, their frames are not kept (no snapshots)";
        private static readonly TimeSpan SlowButStoring = TimeSpan.FromSeconds(10);

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var redis = probe.Redis;
            var skipping = sink.FramesSkippedBecause;
            if (skipping == SinkMetrics.SkipAuthFailed || redis.AuthFailed)
            {
                return Task.FromResult(HealthCheckResult.Degraded(
                    $"Redis authentication failed (wrong Sink:Redis:Password or User): {Consequence}; frames skipped as auth_failed"));
            }

            if (skipping == SinkMetrics.SkipTimeout)
            {
                var wait = sink.RedisAnswerTimeout?.TotalSeconds ?? 5;
                return Task.FromResult(HealthCheckResult.Degraded(
                    $"Redis unreachable (timeout: connected, but no answer to the frame cache within {wait:0.#} s): {Consequence}; frames skipped as timeout"));
            }

            // A slow Redis: the probe's PING outwaits its 2 s, yet the cache's writes (which wait longer) still land.
            if (redis.Reachable == false && skipping is null && sink.FrameStoredAgo is { } ago && ago < SlowButStoring)
            {
                return Task.FromResult(HealthCheckResult.Degraded(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"Redis slow ({redis.Detail}), but the frame cache still stores frames (last one {ago.TotalSeconds:0.0} s ago); snapshots may lag")));
            }

            return Task.FromResult(redis.Reachable switch
            {
                null => HealthCheckResult.Degraded("Redis not checked yet"),
                true when skipping is not null => HealthCheckResult.Degraded($"Redis answers the probe, but the frame cache skips frames ({skipping}): {Consequence}"),
                true => HealthCheckResult.Healthy(redis.Detail),
                false => HealthCheckResult.Degraded($"Redis unreachable ({redis.Detail}): {Consequence}{(skipping is null ? "" : "; frames skipped as " + skipping)}"),
            });
        }
    }

    private sealed class CamerasCheck(ICameraRegistry registry) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var all = registry.Snapshot();
            var cameras = all.Where(c => c.Enabled).ToList();
            if (cameras.Count == 0)
            {
                return Task.FromResult(HealthCheckResult.Healthy(all.Count == 0 ? "no camera configured" : $"no camera enabled ({all.Count} disabled)"));
            }

            var streaming = cameras.Count(c => c.State == CameraState.Streaming);
            if (streaming > 0)
            {
                return Task.FromResult(HealthCheckResult.Healthy($"{streaming} of {cameras.Count} cameras streaming"));
            }

            var states = string.Join("; ", cameras.Select(c => $"{c.Id} {c.State}{(c.LastError is { } e ? ": " + UrlRedactor.Redact(e) : "")}"));
            return Task.FromResult(HealthCheckResult.Unhealthy($"no camera streaming ({states})"));
        }
    }
}

/// <summary>
/// Probes Kafka (cluster metadata through an admin client, with the sink's own client settings and bootstrap servers)
/// and Redis (PING, on the process's one Redis connection, <see cref="RedisConnection"/>) every few seconds, off the
/// request path, and publishes <c>stream.sink.kafka_reachable</c> (1/0). The admin client is the probe's own; the sink's
/// producer is untouched.
/// </summary>
internal sealed class DependencyProbe : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private readonly SinkService _sink;
    private readonly SinkOptions _options;
    private readonly TimeProvider _time;
    private readonly RedisConnection _redis;
    private IAdminClient? _admin;
    private int _disposed;

    public DependencyProbe(SinkService sink, RedisConnection redis, IOptions<SinkOptions> options, IMeterFactory meters, TimeProvider time)
    {
        _sink = sink;
        _redis = redis;
        _options = options.Value;
        _time = time;
        var meter = meters.Create(Telemetry.SinkMeter);
        meter.CreateObservableGauge("stream.sink.kafka_reachable", () => Kafka.Reachable == true ? 1 : 0, "{bool}",
            "1 when the last probe reached a Kafka broker (cluster metadata), 0 when it did not.");
    }

    public record struct State(bool? Reachable, string Detail, bool AuthFailed = false);

    public State Kafka { get; private set; } = new(null, "not checked yet");

    public State Redis { get; private set; } = new(null, "not checked yet");

    /// <summary>Whether the on-disk spool can take more events: its directory is writable and under Sink:Spool:MaxBytes.</summary>
    public (bool Accepts, string Detail) SpoolAccepts()
    {
        var spool = _options.Spool;
        try
        {
            var dir = new DirectoryInfo(spool.Directory);
            Directory.CreateDirectory(dir.FullName);
            var used = dir.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            // A name of its own per call: the kafka and spool checks of one /readyz run at the same time.
            var probe = Path.Combine(dir.FullName, $".health-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            var detail = $"{used / (1 << 20)} MiB of {spool.MaxBytes / (1 << 20)} MiB used";
            if (_sink.SpoolProblem is { } problem)
            {
                return (false, problem);
            }

            return (used < spool.MaxBytes, detail);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (false, $"{spool.Directory} not writable: {ex.Message}");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string bootstrap;
        try
        {
            bootstrap = await _sink.BootstrapServers.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Kafka = new(false, "the sink could not start its producer: " + ex.GetBaseException().Message);
            return;
        }

        var config = new AdminClientConfig(KafkaProducerConfigBuilder.Build(_options.Kafka, bootstrap)) { ClientId = "stream-health" };
        _admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        using var timer = new PeriodicTimer(Interval, _time);
        do
        {
            await Task.WhenAll(ProbeKafkaAsync(bootstrap, stoppingToken), ProbeRedisAsync(stoppingToken)).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task ProbeKafkaAsync(string bootstrap, CancellationToken cancellationToken)
    {
        try
        {
            // GetMetadata blocks: on the thread pool, bounded by its own timeout (and again here).
            var metadata = await Task.Run(() => _admin!.GetMetadata(_options.Kafka.Topic, ProbeTimeout), cancellationToken)
                .WaitAsync(ProbeTimeout + ProbeTimeout, cancellationToken).ConfigureAwait(false);
            Kafka = metadata.Brokers.Count > 0
                ? new(true, $"Kafka reachable: {metadata.Brokers.Count} broker(s) at {UrlRedactor.Redact(bootstrap)}")
                : new(false, "no broker answered");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is KafkaException or TimeoutException)
        {
            Kafka = new(false, $"no answer from {UrlRedactor.Redact(bootstrap)} within {ProbeTimeout.TotalSeconds:0} s");
        }
        catch (Exception ex)
        {
            // A probe reports; it never ends the loop (and with it, the host).
            Kafka = new(false, $"{UrlRedactor.Redact(bootstrap)}: {ex.GetType().Name}: {UrlRedactor.Redact(ex.Message)}");
        }
    }

    /// <summary>
    /// PINGs Redis. Whatever the client throws is a finding about Redis, never the end of the probe: StackExchange.Redis
    /// also fails a command with a cancelled task or "Reading is not allowed after reader was completed" when a stalled
    /// connection is torn down, and an exception that left this loop used to stop the whole host (issue 24).
    /// </summary>
    private async Task ProbeRedisAsync(CancellationToken cancellationToken)
    {
        try
        {
            // The connection's first attempt (in the background since the start) is waited for as a connect used to be.
            await _redis.Connecting.WaitAsync(ProbeTimeout + ProbeTimeout, cancellationToken).ConfigureAwait(false);
            var redis = _redis.Multiplexer ?? throw new ObjectDisposedException(nameof(RedisConnection));
            var rtt = await redis.GetDatabase().PingAsync().WaitAsync(ProbeTimeout, cancellationToken).ConfigureAwait(false);
            Redis = new(true, $"Redis reachable (ping {rtt.TotalMilliseconds:0.0} ms)");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            var endpoints = _redis.Endpoints;
            Redis = _redis.AuthenticationFailed || RedisConnection.IsAuthenticationFailure(ex.ToString())
                ? new(false, $"authentication failed at {endpoints}", AuthFailed: true)
                : ex is TimeoutException or RedisTimeoutException
                    ? new(false, $"no answer from {endpoints} within {ProbeTimeout.TotalSeconds:0} s")
                    : new(false, $"{endpoints}: {ex.GetType().Name}: {UrlRedactor.Redact(ex.Message.Split('\n')[0])}");
        }
    }

    /// <summary>Called twice (the container tracks the singleton and the hosted-service registration): once is enough.</summary>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _admin?.Dispose();
        base.Dispose();
    }
}
