using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Track;

public static class TrackServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="TrackOptions"/> (section <c>Track</c>, unknown keys rejected, validated at start) and the <see cref="TrackService"/>
    /// stage. Needs the pipeline channels (<c>AddPipelineChannels</c>), logging and metrics (<c>AddMetrics</c>).
    /// </summary>
    public static IServiceCollection AddTrack(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TrackOptions>()
            .BindChecked(configuration.GetSection(TrackOptions.Section))
            .ValidateWith(TrackOptions.Validator)
            .ValidateOnStart();
        services.AddHostedService<TrackService>();
        return services;
    }
}

/// <summary>DataAnnotations of <see cref="TrackOptions"/>, written by the options source generator.</summary>
[OptionsValidator]
public sealed partial class TrackOptionsValidator : IValidateOptions<TrackOptions>;

/// <summary>Cross-field checks of <see cref="TrackOptions"/> (thresholds in order, zones and lines well formed), one line per problem naming the key and the fix.</summary>
public sealed class TrackOptionsRules : IValidateOptions<TrackOptions>
{
    public ValidateOptionsResult Validate(string? name, TrackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.LowThreshold > options.HighThreshold)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Track:LowThreshold ({options.LowThreshold}) must not exceed Track:HighThreshold ({options.HighThreshold})."));
        }

        if (options.NewTrackThreshold < options.HighThreshold)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Track:NewTrackThreshold ({options.NewTrackThreshold}) must be at least Track:HighThreshold ({options.HighThreshold})."));
        }

        foreach (var (camera, geometry) in options.Cameras)
        {
            if (geometry is not null)
            {
                errors.AddRange(CameraSceneRules.GeometryProblems($"Track:Cameras:{camera}", geometry));
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
