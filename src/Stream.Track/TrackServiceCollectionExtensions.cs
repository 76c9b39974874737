using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Streaming.Track;

public static class TrackServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="TrackOptions"/> (section <c>Track</c>, validated at start) and the <see cref="TrackService"/>
    /// stage. Needs the pipeline channels (<c>AddPipelineChannels</c>) and logging.
    /// </summary>
    public static IServiceCollection AddTrack(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TrackOptions>()
            .Bind(configuration.GetSection(TrackOptions.Section), binder => binder.ErrorOnUnknownConfiguration = true) // a misspelt key fails at start
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TrackOptions>, TrackOptionsValidator>();
        services.AddHostedService<TrackService>();
        return services;
    }
}

/// <summary>Cross-field checks of <see cref="TrackOptions"/> with a one-line message naming the key and the fix.</summary>
public sealed class TrackOptionsValidator : IValidateOptions<TrackOptions>
{
    public ValidateOptionsResult Validate(string? name, TrackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var error = options.Validate();
        return error is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(error);
    }
}
