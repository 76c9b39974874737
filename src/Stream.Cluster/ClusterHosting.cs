using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Sink;

namespace Streaming.Cluster;

/// <summary>Registers the <c>Cluster</c> section (always, so that it is validated) and, with Cluster:Enabled, the worker.</summary>
public static class ClusterHosting
{
    public static void Add(IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(ClusterOptions.Section);
        services.AddOptions<ClusterOptions>().BindChecked(section).ValidateWith(ClusterOptions.Validator).ValidateOnStart();
        var cluster = ConfigurationChecks.Get<ClusterOptions>(section);
        if (!cluster.Enabled)
        {
            return;
        }

        // Events and the camera API name the worker that runs a camera.
        services.AddSingleton(new WorkerIdentity(cluster.EffectiveWorkerId));
        services.AddSingleton(new CameraStopReasons());

        // A registry record's zones and lines go to Track for the camera's runs on this worker.

        // The camera API writes the registry instead of the local list: a camera added on any worker runs where the group puts it.
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<ClusterOptions>>().Value;
            return new CameraRegistryTopic(CameraRegistryTopic.ClientSettings(sp.GetRequiredService<IOptions<SinkOptions>>().Value.Kafka), o.RegistryTopic);
        });
        services.AddHostedService<ClusterWorker>();
    }
}
