using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Streaming.Core;

namespace Streaming.Sink;

public static class SinkServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Sink stage: <see cref="SinkOptions"/> bound from the <c>Sink</c> section (unknown keys rejected, validated at start with
    /// one-line errors), <see cref="SinkMetrics"/>, and <see cref="SinkService"/> as a hosted service (also resolvable
    /// as itself). Needs the pipeline channels (<c>AddPipelineChannels</c>) and metrics (<c>AddMetrics</c>).
    /// </summary>
    public static IServiceCollection AddSink(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SinkOptions>()
            .BindChecked(configuration.GetSection(SinkOptions.Section))
            .ValidateWith(SinkOptions.Validator)
            .ValidateOnStart();
        services.AddSingleton<SinkMetrics>();
        services.AddSingleton<ClipMetrics>();
        services.TryAddSingleton<Streaming.Core.FrameLatency>();
        services.AddSingleton<SinkService>();
        services.AddHostedService(sp => sp.GetRequiredService<SinkService>());
        return services;
    }
}
