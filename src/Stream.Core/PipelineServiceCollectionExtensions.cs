using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Streaming.Core;

public static class PipelineServiceCollectionExtensions
{
    /// <summary>
    /// Registers the channels between the stages. Each stage asks only for its own ends:
    /// Ingest: <see cref="FrameBus"/> and <see cref="ChannelWriter{CameraStatusChange}"/>;
    /// Detect: <see cref="FrameBus"/> and <see cref="ChannelWriter{DetectedFrame}"/>;
    /// Track: <see cref="ChannelReader{DetectedFrame}"/> and <see cref="ChannelWriter{TrackedFrame}"/>;
    /// Sink: <see cref="ChannelReader{TrackedFrame}"/> and <see cref="ChannelReader{CameraStatusChange}"/>.
    /// </summary>
    public static IServiceCollection AddPipelineChannels(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        // Where frames get their pixels; a test host registers a pool of its own first, to check it is empty at shutdown.
        services.TryAddSingleton(FrameBufferPool.Shared);
        // The model's class names: Detect publishes them, every stage that names a class reads them.
        services.TryAddSingleton<ModelLabels>();
        services.AddOptions<ChannelOptions>()
            .BindChecked(configuration.GetSection(ChannelOptions.Section))
            .ValidateWith(ChannelOptions.Validator)
            .ValidateOnStart();
        // Event clips: Ingest keeps the packets, the sink cuts them (docs/events.md, "Clips").
        services.AddOptions<ClipOptions>()
            .BindChecked(configuration.GetSection(ClipOptions.Section))
            .ValidateWith(ClipOptions.Validator)
            .ValidateOnStart();
        services.AddSingleton(sp => new PipelineChannels(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ChannelOptions>>().Value));
        services.AddSingleton(sp => sp.GetRequiredService<PipelineChannels>().Frames);
        services.AddSingleton(sp => sp.GetRequiredService<PipelineChannels>().Detected.Reader);
        services.AddSingleton(sp => sp.GetRequiredService<PipelineChannels>().Detected.Writer);
        services.AddSingleton(sp => sp.GetRequiredService<PipelineChannels>().Tracked.Reader);
        services.AddSingleton(sp => sp.GetRequiredService<PipelineChannels>().Tracked.Writer);
        services.AddSingleton(sp => sp.GetRequiredService<PipelineChannels>().CameraStatus.Reader);
        services.AddSingleton(sp => sp.GetRequiredService<PipelineChannels>().CameraStatus.Writer);
        return services;
    }
}
