using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Cluster;

/// <summary>
/// Section <c>Cluster</c>: run as one of a fleet of identical workers that share the cameras of the registry topic
/// through one Kafka consumer group (docs/cluster.md). Off by default: a single process runs its config's cameras.
/// </summary>
public sealed class ClusterOptions
{
    public const string Section = "Cluster";

    /// <summary>Join the worker group and run the registry's cameras this worker is assigned (needs Sink:Kafka:BootstrapServers).</summary>
    public bool Enabled { get; set; }

    /// <summary>The consumer group every worker of one fleet joins.</summary>
    [Required(ErrorMessage = "{0} is empty: name the worker group, e.g. \"stream-workers\"")]
    [RegularExpression(@"^[A-Za-z0-9._\-]{1,200}$", ErrorMessage = "{0} must be 1-200 letters, digits, '.', '_' or '-'")]
    public string Group { get; set; } = "stream-workers";

    /// <summary>The compacted topic that holds the cameras (key = camera id, value = the camera as JSON, tombstone = removed).</summary>
    [Required(ErrorMessage = "{0} is empty: name the camera registry topic, e.g. \"stream.cameras\"")]
    [RegularExpression(@"^[A-Za-z0-9._\-]{1,249}$", ErrorMessage = "{0} must be 1-249 letters, digits, '.', '_' or '-' (a Kafka topic name)")]
    public string RegistryTopic { get; set; } = "stream.cameras";

    /// <summary>Partitions of the registry topic when stream creates it: the most workers that can own cameras at once.</summary>
    [Range(1, 10_000)]
    public int Partitions { get; set; } = 32;

    /// <summary>Replication factor of the registry topic when stream creates it (-1: the broker's default).</summary>
    [Range(-1, 32)]
    public short ReplicationFactor { get; set; } = -1;

    /// <summary>This worker's name in events, the API and `stream cluster status` (empty: host name and process id).</summary>
    [RegularExpression(@"^[A-Za-z0-9._\-:]{0,200}$", ErrorMessage = "{0} must be up to 200 letters, digits, '.', '_', ':' or '-'")]
    public string? WorkerId { get; set; }

    /// <summary>How long a silent worker keeps its cameras before the group gives them to the others (session.timeout.ms).</summary>
    [Range(1000, 300_000)]
    public int SessionTimeoutMs { get; set; } = 10_000;

    /// <summary>How often a worker tells the group it is alive (heartbeat.interval.ms); at most a third of SessionTimeoutMs.</summary>
    [Range(100, 100_000)]
    public int HeartbeatIntervalMs { get; set; } = 2_000;

    /// <summary>The worker id in use: <see cref="WorkerId"/>, or host name and process id.</summary>
    public string EffectiveWorkerId => string.IsNullOrEmpty(WorkerId) ? $"{Environment.MachineName}-{Environment.ProcessId}" : WorkerId;

    public static SectionValidator<ClusterOptions> Validator { get; } = new(Section, new ClusterOptionsValidator(), new ClusterOptionsRules());
}

[OptionsValidator]
internal sealed partial class ClusterOptionsValidator : IValidateOptions<ClusterOptions>;

/// <summary>Rules across fields of <see cref="ClusterOptions"/>.</summary>
internal sealed class ClusterOptionsRules : IValidateOptions<ClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterOptions options)
    {
        if (options.HeartbeatIntervalMs * 3 > options.SessionTimeoutMs)
        {
            return ValidateOptionsResult.Fail(
                $"Cluster:HeartbeatIntervalMs ({options.HeartbeatIntervalMs}) must be at most a third of Cluster:SessionTimeoutMs ({options.SessionTimeoutMs}): lower it, or raise the session timeout");
        }

        return ValidateOptionsResult.Success;
    }
}
