using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Streaming.Core;

namespace Streaming.Detect;

public static class DetectServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Detect stage: <see cref="DetectOptions"/> bound from the <c>Detect</c> section (unknown keys rejected) and
    /// validated at start, its metrics, <see cref="DetectService"/> as a hosted service, and its readiness check ("model"). Needs <c>AddPipelineChannels</c> and <c>AddMetrics</c>.
    /// </summary>
    public static IServiceCollection AddDetect(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DetectOptions>()
            .BindChecked(configuration.GetSection(DetectOptions.Section))
            .ValidateWith(DetectOptions.Validator)
            .ValidateOnStart();
        services.TryAddSingleton<DetectMetrics>();
        services.TryAddSingleton<IGateSettings>(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<DetectOptions>>().Value);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DetectReadiness>(); // set by DetectService; ingest and readiness wait for it
        services.AddHostedService<DetectService>();
        services.AddHealthChecks().AddCheck<DetectHealthCheck>("model", tags: [HealthTags.Ready]);
        return services;
    }
}
