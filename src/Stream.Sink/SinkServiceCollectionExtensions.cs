using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Sink;

public static class SinkServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Sink stage: <see cref="SinkOptions"/> bound from the <c>Sink</c> section (unknown keys rejected, validated at start with
    /// one-line errors), the event spool's opener (<see cref="EventSpoolFactory"/>) and the
    /// Kafka producer's (<see cref="IKafkaProducerFactory"/>, librdkafka unless one is registered before), the process's one
    /// Redis connection (<see cref="RedisConnection"/>), <see cref="SinkMetrics"/>, and <see cref="SinkService"/> as a hosted service (also resolvable
    /// as itself). Needs the pipeline channels (<c>AddPipelineChannels</c>) and metrics (<c>AddMetrics</c>).
    /// </summary>
    public static IServiceCollection AddSink(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SinkOptions>()
            .BindChecked(configuration.GetSection(SinkOptions.Section))
            .ValidateWith(SinkOptions.Validator)
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new EventSpoolFactory(sp.GetRequiredService<IOptions<SinkOptions>>().Value.Spool,
            sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IKafkaProducerFactory>(KafkaProducerFactory.Instance);

        // The process's one Redis connection: the frame cache, the snapshots and the health probe share it; the host disposes it.
        services.AddSingleton(sp => new RedisConnection(sp.GetRequiredService<IOptions<SinkOptions>>().Value.Redis));
        services.AddSingleton<SinkMetrics>();
        services.AddSingleton<ClipMetrics>();
        services.TryAddSingleton<Streaming.Core.FrameLatency>();
        services.AddSingleton<SinkService>();
        services.AddHostedService(sp => sp.GetRequiredService<SinkService>());
        return services;
    }
}
