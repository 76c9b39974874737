using Microsoft.AspNetCore.Builder;

namespace Streaming.Hosting;

/// <summary>/healthz (liveness) and /readyz (readiness): ASP.NET Core health checks, see <see cref="HealthChecks"/>.</summary>
internal static class HealthEndpoints
{
    public static void Map(WebApplication app) => HealthChecks.Map(app);
}
