using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Streaming.Ingest;

public static class IngestServiceCollectionExtensions
{
    /// <summary>
    /// Registers ingest: options <c>Ingest</c> (<see cref="IngestOptions"/>) and <c>Cameras</c> (both validated at start
    /// with one line per problem, through <see cref="IngestConfiguration"/>), the <see cref="CameraManager"/> (also as <see cref="ICameraRegistry"/>) and the
    /// <see cref="IngestService"/>. Needs the pipeline channels (<c>AddPipelineChannels</c>).
    /// </summary>
    public static IServiceCollection AddIngest(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<IngestOptions>()
            .Bind(configuration.GetSection(IngestOptions.Section));
        services.AddOptions<IngestConfiguration>()
            .Configure(o =>
            {
                configuration.GetSection(IngestConfiguration.CamerasSection).Bind(o.Cameras);
                configuration.GetSection(IngestOptions.Section).Bind(o.Ingest);
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IngestConfiguration>, IngestConfigurationValidator>();
        services.AddSingleton<CameraManager>();
        services.AddSingleton<ICameraRegistry>(sp => sp.GetRequiredService<CameraManager>());
        services.AddHostedService<IngestService>();
        return services;
    }
}

/// <summary>Fails start-up with one line per problem in the <c>Cameras</c> and <c>Ingest</c> sections.</summary>
public sealed class IngestConfigurationValidator : IValidateOptions<IngestConfiguration>
{
    public ValidateOptionsResult Validate(string? name, IngestConfiguration options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = CameraConfigValidator.Validate(options.Cameras).Concat(CameraConfigValidator.Validate(options.Ingest)).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
