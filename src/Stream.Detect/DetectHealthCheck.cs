using Microsoft.Extensions.Diagnostics.HealthChecks;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>Readiness of the Detect stage, from the stage itself: its model is loaded and warmed up (<see cref="DetectReadiness"/>).</summary>
public sealed class DetectHealthCheck(DetectReadiness readiness) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(readiness.IsReady
            ? HealthCheckResult.Healthy("model loaded and warmed up")
            : HealthCheckResult.Unhealthy("model not loaded yet (Detect is loading or warming it up)"));
}
