namespace Streaming.Core;

/// <summary>
/// The tags of the process's health checks: each stage registers its own checks with these, and the host serves
/// <c>/healthz</c> (live) and <c>/readyz</c> (ready) from them.
/// </summary>
public static class HealthTags
{
    /// <summary>Liveness: the process and its stage loops run.</summary>
    public const string Live = "live";

    /// <summary>Readiness: the process can do its work (model loaded, Kafka reachable, a camera streaming).</summary>
    public const string Ready = "ready";
}
