using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Streaming.Core;

namespace Streaming.Ingest;

public static class IngestServiceCollectionExtensions
{
    /// <summary>
    /// Registers ingest: options <c>Ingest</c> (<see cref="IngestOptions"/>) and <c>Cameras</c>
    /// (<see cref="CameraListOptions"/>), each bound with unknown keys rejected and validated at start with one line
    /// per problem; the <see cref="CameraManager"/> (also as <see cref="ICameraRegistry"/>) and the
    /// <see cref="IngestService"/>. Needs the pipeline channels (<c>AddPipelineChannels</c>).
    /// </summary>
    public static IServiceCollection AddIngest(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<IngestOptions>()
            .BindChecked(configuration.GetSection(IngestOptions.Section))
            .ValidateWith(IngestOptions.Validator)
            .ValidateOnStart();
        services.AddOptions<CameraListOptions>()
            .BindChecked(configuration.GetSection(CameraListOptions.Section), o => o.Cameras)
            .ValidateWith(CameraListOptions.Validator)
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<CameraManager>();
        services.AddSingleton<ICameraRegistry>(sp => sp.GetRequiredService<CameraManager>());
        services.AddSingleton<ICameraClips>(sp => new CameraClipRouter(sp.GetRequiredService<CameraManager>()));
        services.AddHostedService<IngestService>();
        return services;
    }
}
