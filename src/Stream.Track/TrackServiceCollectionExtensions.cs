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
    /// stage. Needs the pipeline channels (<c>AddPipelineChannels</c>) and logging.
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
                Geometry(errors, $"Track:Cameras:{camera}", geometry);
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>What makes one camera's zones and lines unusable, one line each; <paramref name="at"/> names where they were written (e.g. "Track:Cameras:cam-1").</summary>
    public static IReadOnlyList<string> GeometryProblems(string at, CameraGeometryOptions geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var errors = new List<string>();
        Geometry(errors, at, geometry);
        return errors;
    }

    private static void Geometry(List<string> errors, string at, CameraGeometryOptions geometry)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var zone in geometry.Zones)
        {
            if (string.IsNullOrWhiteSpace(zone.Name))
            {
                errors.Add($"{at}:Zones: every zone needs a Name.");
            }
            else if (!names.Add("zone:" + zone.Name))
            {
                errors.Add($"{at}:Zones: zone name '{zone.Name}' is used twice; give each zone its own name.");
            }

            if (zone.Points.Count < 3)
            {
                errors.Add($"{at}:Zones:{zone.Name} has {zone.Points.Count} points; a polygon needs at least 3 (Points: [{{\"X\":..,\"Y\":..}}, ...]).");
            }
        }

        foreach (var line in geometry.Lines)
        {
            if (string.IsNullOrWhiteSpace(line.Name))
            {
                errors.Add($"{at}:Lines: every line needs a Name.");
            }
            else if (!names.Add("line:" + line.Name))
            {
                errors.Add($"{at}:Lines: line name '{line.Name}' is used twice; give each line its own name.");
            }

            if (line.From is null || line.To is null || (line.From.X == line.To.X && line.From.Y == line.To.Y))
            {
                errors.Add($"{at}:Lines:{line.Name} needs distinct From and To points ({{\"X\":..,\"Y\":..}}).");
            }

            if (line.MarginPixels < 0)
            {
                errors.Add($"{at}:Lines:{line.Name}:MarginPixels must be >= 0.");
            }
        }
    }
}
