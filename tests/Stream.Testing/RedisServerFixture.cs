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
        // A port the OS gave out can be taken by something else before redis-server binds it: then try another.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort.Next();
            try
            {
                await StartAsync().ConfigureAwait(false);
                return;
            }
            catch (PortTakenException) when (attempt < 5)
            {
            }
        }
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
            // Ready only when the server that answers is this process: another one on the port is not ours to use.
            var answering = await ServerProcessIdAsync().ConfigureAwait(false);
            if (answering == _process.Id)
            {
                return;
            }

            if (_process.HasExited || answering is not null)
            {
                var why = _process.HasExited ? $"exited with {_process.ExitCode}" : $"another server (pid {answering}) answers there";
                await KillAsync().ConfigureAwait(false);
                throw new PortTakenException($"redis-server could not start on port {Port}: {why}.");
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

    /// <summary>The process id of the Redis server answering on <see cref="Port"/> (INFO server), or null when none answers.</summary>
    private async Task<int?> ServerProcessIdAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
            var stream = client.GetStream();
            var auth = Password is null ? string.Empty : $"AUTH {Password}\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(auth + "INFO server\r\n")).ConfigureAwait(false);
            var buffer = new byte[4096];
            var text = new StringBuilder();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            while (true)
            {
                var all = text.ToString();
                var at = all.IndexOf("process_id:", StringComparison.Ordinal);
                if (at >= 0 && all.IndexOf('\r', at) is var end and > 0)
                {
                    return int.Parse(all.AsSpan(at + "process_id:".Length, end - at - "process_id:".Length), CultureInfo.InvariantCulture);
                }

                var n = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return null;
                }

                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    private sealed class PortTakenException(string message) : InvalidOperationException(message);
}
