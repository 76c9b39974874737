using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Streaming.Sink;

namespace Streaming.DevServices;

/// <summary>Fills the Sink's <see cref="IEmbeddedKafkaLauncher"/> seam with <see cref="EmbeddedKafkaCluster"/> (one broker).</summary>
public sealed class EmbeddedKafkaLauncher : IEmbeddedKafkaLauncher
{
    public async Task<IEmbeddedKafka> StartAsync(string topic, Action<string> problem, CancellationToken cancellationToken) =>
        await EmbeddedKafkaCluster.StartAsync(1, [topic], cancellationToken, problem).ConfigureAwait(false);
}

public static class DevServicesServiceCollectionExtensions
{
    /// <summary>
    /// Lets <c>Sink:Kafka:BootstrapServers = "embedded"</c> start librdkafka's mock cluster in this process (development
    /// only). The stream executable calls this; a host that does not gets one line refusing "embedded".
    /// </summary>
    public static IServiceCollection AddEmbeddedKafka(this IServiceCollection services)
    {
        services.TryAddSingleton<IEmbeddedKafkaLauncher, EmbeddedKafkaLauncher>();
        return services;
    }
}
