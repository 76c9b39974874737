using Streaming.DevServices;
using Xunit;

namespace Streaming.Testing;

/// <summary>
/// A real <c>redis-server</c> (Debian package) on a free local port, without persistence, that a test can kill and
/// start again on the same port: <see cref="RedisServerProcess"/> as an xunit fixture. Fails with the fix when
/// redis-server is not installed.
/// </summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private RedisServerProcess? _server;

    /// <summary>When set (before <see cref="InitializeAsync"/>), the server requires this password (requirepass).</summary>
    public string? Password { get; init; }

    private RedisServerProcess Server => _server ?? throw new InvalidOperationException("The Redis fixture is not initialized.");

    public int Port => Server.Port;

    /// <summary>StackExchange.Redis configuration string for this server.</summary>
    public string Configuration => Server.Configuration;

    public bool IsRunning => _server?.IsRunning == true;

    public async Task InitializeAsync() => _server = await RedisServerProcess.StartAsync(FreePort.Next, Password).ConfigureAwait(false);

    /// <summary>Starts the server again on <see cref="Port"/> (after <see cref="KillAsync"/>) and waits until it answers.</summary>
    public Task StartAsync() => Server.StartAgainAsync();

    /// <summary>Kills the server (SIGKILL) and waits for it to exit.</summary>
    public Task KillAsync() => _server?.KillAsync() ?? Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
