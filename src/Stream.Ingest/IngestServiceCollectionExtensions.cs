using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Streaming.Ingest;

public static class IngestServiceCollectionExtensions
{
    /// <summary>
    /// Registers ingest: options <c>Ingest</c> (<see cref="IngestOptions"/>) and <c>Cameras</c> (validated at start with
    /// one line per problem), the <see cref="CameraManager"/> (also as <see cref="ICameraRegistry"/>) and the
    /// <see cref="IngestService"/>. Needs the pipeline channels (<c>AddPipelineChannels</c>).
    /// </summary>
    public static IServiceCollection AddIngest(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<IngestOptions>()
            .Bind(configuration.GetSection(IngestOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsValidator>();
        services.AddOptions<CamerasOptions>()
            .Configure(o => configuration.GetSection(CamerasOptions.Section).Bind(o.Cameras))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CamerasOptions>, CamerasOptionsValidator>();
        services.AddSingleton<CameraManager>();
        services.AddSingleton<ICameraRegistry>(sp => sp.GetRequiredService<CameraManager>());
        services.AddHostedService<IngestService>();
        return services;
    }
}

/// <summary>Fails start-up with one line per problem in the <c>Ingest</c> section.</summary>
public sealed class IngestOptionsValidator : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions options)
    {
        var errors = CameraConfigValidator.Validate(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Fails start-up with one line per problem in the <c>Cameras</c> section.</summary>
public sealed class CamerasOptionsValidator : IValidateOptions<CamerasOptions>
{
    public ValidateOptionsResult Validate(string? name, CamerasOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = CameraConfigValidator.Validate(options.Cameras);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
