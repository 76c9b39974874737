using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Streaming.Hosting.Web;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Ingest;
using Streaming.DevServices;
using Streaming.Sink;
using Streaming.Track;

namespace Streaming.Hosting;

/// <summary>
/// Builds the process that runs the pipeline: the four stages as hosted services joined by bounded channels,
/// OpenTelemetry metrics exported as Prometheus text on /metrics, health and readiness, the camera API and the
/// live status output. Stages are registered sink first so that each is ready before frames reach it, and stop
/// concurrently so that shutdown drains from the sources down to Kafka.
/// </summary>
public static class PipelineHost
{
    public static WebApplication Build(IConfigurationRoot configuration, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = Directory.GetCurrentDirectory(),
            Args = [],
        });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddConfiguration(configuration);

        builder.Logging.ClearProviders();
        var status = ConfigurationChecks.Get<StatusOptions>(configuration.GetSection(StatusOptions.Section));
        var recentLogs = new RecentLogs();
        builder.Services.AddSingleton(recentLogs);
        if (StatusReporter.ResolveMode(status.Mode) == "table")
        {
            // The live table owns the terminal: the latest log lines show under it (Status:Mode=plain logs everything).
            builder.Logging.AddProvider(recentLogs);

            // ... and the whole log is kept in rotating files (Logging:File:Directory, data/logs by default).
            builder.Logging.AddProvider(new RollingFileLog(configuration["Logging:File:Directory"] ?? Path.Combine("data", "logs")));
        }
        else if (configuration["Logging:Console:FormatterName"] is { Length: > 0 } formatter)
        {
            // Logging:Console:FormatterName (json, systemd, simple) with Logging:Console:FormatterOptions.
            var formatterOptions = configuration.GetSection("Logging:Console:FormatterOptions");
            _ = formatter.ToLowerInvariant() switch
            {
                "json" => builder.Logging.AddJsonConsole(o => formatterOptions.Bind(o)),
                "systemd" => builder.Logging.AddSystemdConsole(o => formatterOptions.Bind(o)),
                _ => builder.Logging.AddSimpleConsole(o => formatterOptions.Bind(o)),
            };
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        }
        builder.Logging.AddConfiguration(configuration.GetSection("Logging"));
        if (!configuration.GetSection("Logging").Exists())
        {
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);

            // A stage that fails is reported by `stream run` as one line on stderr (RunCommand); the host's own
            // "BackgroundService failed" entry would repeat it with a stack trace.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        }

        var services = builder.Services;
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        services.AddOptions<HttpOptions>().BindChecked(configuration.GetSection(HttpOptions.Section))
            .ValidateWith(HttpOptions.Validator).ValidateOnStart();
        services.AddOptions<HostBehaviourOptions>().BindChecked(configuration.GetSection(HostBehaviourOptions.Section))
            .ValidateWith(HostBehaviourOptions.Validator).ValidateOnStart();
        services.AddOptions<StatusOptions>().BindChecked(configuration.GetSection(StatusOptions.Section))
            .ValidateWith(StatusOptions.Validator).ValidateOnStart();

        var shutdown = ConfigurationChecks.Get<HostBehaviourOptions>(configuration.GetSection(HostBehaviourOptions.Section));
        services.Configure<HostOptions>(o =>
        {
            o.ServicesStartConcurrently = false;
            o.ServicesStopConcurrently = true;
            o.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.ShutdownTimeoutSeconds);
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });

        services.AddSingleton<LiveMetrics>(_ => new LiveMetrics());
        services.AddPipelineChannels(configuration);

        // Order matters for start-up: sink first (Kafka and Redis connected), then track, then detect (model loaded
        // and warmed up), then the cameras.
        services.AddSink(configuration);
        services.AddEmbeddedKafka(); // only used when Sink:Kafka:BootstrapServers is "embedded" (development)
        var http = ConfigurationChecks.Get<HttpOptions>(configuration.GetSection(HttpOptions.Section));
        if (http.Enabled)
        {
            services.AddWebView(configuration); // between Track and Sink: starts before Track writes to it
        }

        services.AddTrack(configuration);
        services.AddDetect(configuration);
        services.AddIngest(configuration);
        services.AddStreamHealthChecks();
        services.AddHostedService<StatusReporter>();
        services.AddHostedService<CameraConfigWatcher>();
        Cluster.ClusterHosting.Add(services, configuration);
        services.AddHostedService<NativeMemoryTrimmer>();

        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            foreach (var meter in Telemetry.AllMeters)
            {
                metrics.AddMeter(meter);
            }

            metrics.AddRuntimeInstrumentation();
            metrics.AddPrometheusExporter();
        });

        configureServices?.Invoke(services);

        if (http.Enabled)
        {
            builder.WebHost.UseUrls(http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        else
        {
            services.AddSingleton<Microsoft.AspNetCore.Hosting.Server.IServer, NoServer>(); // no URLs would mean Kestrel's default :5000
        }
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(shutdown.ShutdownTimeoutSeconds));

        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint("/metrics");
        HealthEndpoints.Map(app);
        CameraEndpoints.Map(app);
        if (http.Enabled)
        {
            WebEndpoints.Map(app);
        }

        return app;
    }

    /// <summary>Runs the start-up validation of every options type; returns each failure as its own line.</summary>
    public static IReadOnlyList<string> ValidateAll(IServiceProvider services)
    {
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
            return [];
        }
        catch (OptionsValidationException ex)
        {
            return Lines([ex]);
        }
        catch (AggregateException ex)
        {
            return Lines(ex.Flatten().InnerExceptions);
        }
        catch (InvalidOperationException ex)
        {
            return [ex.Message];
        }

        static IReadOnlyList<string> Lines(IEnumerable<Exception> exceptions) =>
            [.. exceptions.OfType<OptionsValidationException>()
                .SelectMany(e => e.Failures)
                .Distinct(StringComparer.Ordinal)];
    }
}
