using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;

namespace Streaming.Hosting.Web;

/// <summary>
/// The server used when <c>Http:Enabled=false</c>: it opens no socket. (Kestrel with no URL listens on its default
/// http://localhost:5000, which clashed with other services and with benchmarks run side by side.)
/// </summary>
internal sealed class NoServer : IServer
{
    public IFeatureCollection Features { get; } = new FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
    }
}
