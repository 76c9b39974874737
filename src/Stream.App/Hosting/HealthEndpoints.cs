using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Streaming.App.Hosting;

/// <summary>/healthz: the process is alive. /readyz: every stage has started and the host is not shutting down.</summary>
internal static class HealthEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (IHostApplicationLifetime lifetime, IServiceProvider services) =>
        {
            var stages = services.GetServices<IHostedService>().OfType<BackgroundService>().ToList();
            if (!lifetime.ApplicationStarted.IsCancellationRequested)
            {
                return Results.Text("starting\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return Results.Text("stopping\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            var failed = stages.Where(s => s.ExecuteTask is { IsCompleted: true }).Select(s => s.GetType().Name).ToList();
            return failed.Count == 0
                ? Results.Text("ready\n")
                : Results.Text($"stopped: {string.Join(", ", failed)}\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        });
    }
}
