using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Streaming.Sink;

public static class SinkServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Sink stage: <see cref="SinkOptions"/> bound from the <c>Sink</c> section (validated at start with
    /// one-line errors), <see cref="SinkMetrics"/>, and <see cref="SinkService"/> as a hosted service (also resolvable
    /// as itself). Needs the pipeline channels (<c>AddPipelineChannels</c>) and metrics (<c>AddMetrics</c>).
    /// </summary>
    public static IServiceCollection AddSink(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SinkOptions>()
            .Bind(configuration.GetSection(SinkOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SinkOptions>, SinkOptionsValidator>();
        services.AddSingleton<SinkMetrics>();
        services.TryAddSingleton<Streaming.Core.FrameLatency>();
        services.AddSingleton<SinkService>();
        services.AddHostedService(sp => sp.GetRequiredService<SinkService>());
        return services;
    }

    private sealed class SinkOptionsValidator : IValidateOptions<SinkOptions>
    {
        public ValidateOptionsResult Validate(string? name, SinkOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
