using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Streaming.Detect;

public static class DetectServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Detect stage: <see cref="DetectOptions"/> bound from the <c>Detect</c> section and validated at
    /// start, its metrics, and <see cref="DetectService"/> as a hosted service. Needs <c>AddPipelineChannels</c> and <c>AddMetrics</c>.
    /// </summary>
    public static IServiceCollection AddDetect(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DetectOptions>()
            .Bind(configuration.GetSection(DetectOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DetectOptions>, DetectOptionsValidator>());
        services.TryAddSingleton<DetectMetrics>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService<DetectService>();
        return services;
    }
}
