using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Streaming.Testing;

/// <summary>
/// A real <c>redis-server</c> (Debian package) on a free local port, without persistence, that a test can kill and
/// start again on the same port. Fails with the fix when redis-server is not installed.
/// </summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private Process? _process;

    public int Port { get; private set; }

    /// <summary>When set (before <see cref="InitializeAsync"/>), the server requires this password (requirepass).</summary>
    public string? Password { get; init; }

    /// <summary>StackExchange.Redis configuration string for this server.</summary>
    public string Configuration => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public bool IsRunning => _process is { HasExited: false };

    public async Task InitializeAsync()
    {
        Port = FreePort();
        await StartAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the server (again) on <see cref="Port"/> and waits until it answers PING.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            return;
        }

        var psi = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning" })
        {
            psi.ArgumentList.Add(a);
        }

        if (Password is not null)
        {
            psi.ArgumentList.Add("--requirepass");
            psi.ArgumentList.Add(Password);
        }

        try
        {
            _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not installed: run scripts/setup.sh (apt-get install redis-server).", ex);
        }

        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (await PingAsync().ConfigureAwait(false))
            {
                return;
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with {_process.ExitCode} on port {Port}.");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        throw new TimeoutException($"redis-server on port {Port} did not answer PING within 10 s.");
    }

    /// <summary>Kills the server (SIGKILL) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
        _process = null;
    }

    public Task DisposeAsync() => KillAsync();

    private async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
            var stream = client.GetStream();
            var auth = Password is null ? string.Empty : $"AUTH {Password}\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(auth + "PING\r\n")).ConfigureAwait(false);
            var buffer = new byte[64];
            var text = string.Empty;
            while (!text.Contains("+PONG", StringComparison.Ordinal) && !text.Contains("-", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buffer).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                text += Encoding.ASCII.GetString(buffer, 0, n);
            }

            return text.Contains("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
