using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Streaming.DevServices;

/// <summary>
/// A private <c>redis-server</c> child process (the Debian package) for benchmarks and tests: loopback only, no
/// persistence, optionally with a password; it can be killed and started again on the same port (fault tests), and is
/// killed on dispose. Ready means the server answering on the port is this very process (INFO server's process_id),
/// so another Redis that happens to hold the port is never mistaken for it. A tool, not part of the pipeline: the
/// benchmarks start one, and so do the test fixtures (tests/Stream.Testing).
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private const int PortAttempts = 5;
    private Process? _process;

    private RedisServerProcess(int port, string? password)
    {
        Port = port;
        Password = password;
    }

    public int Port { get; }

    public string? Password { get; }

    /// <summary>StackExchange.Redis configuration string for this server.</summary>
    public string Configuration => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>
    /// Starts a server on a free port (from <paramref name="nextPort"/>, else one the OS gives out). A port taken by
    /// something else between choosing and binding it is retried with another, a few times.
    /// </summary>
    public static async Task<RedisServerProcess> StartAsync(Func<int>? nextPort = null, string? password = null, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = new RedisServerProcess(nextPort?.Invoke() ?? FreeLoopbackPort(), password);
            try
            {
                await server.StartAgainAsync(cancellationToken).ConfigureAwait(false);
                return server;
            }
            catch (PortTakenException) when (attempt < PortAttempts)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Starts the server (again, after <see cref="KillAsync"/>) on <see cref="Port"/> and waits until it answers.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
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
            _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start: run scripts/setup.sh (apt-get install redis-server).");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not installed: run scripts/setup.sh (apt-get install redis-server).", ex);
        }

        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            var answering = await AnsweringProcessIdAsync(cancellationToken).ConfigureAwait(false);
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

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        await KillAsync().ConfigureAwait(false);
        throw new TimeoutException($"redis-server on port {Port} did not answer within 10 s: check that redis-server runs on this machine.");
    }

    /// <summary>Kills the server (SIGKILL, like a crash) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        _process = null;
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        process.Dispose();
    }

    public async ValueTask DisposeAsync() => await KillAsync().ConfigureAwait(false);

    /// <summary>The process id of the Redis server answering on <see cref="Port"/> (INFO server), or null when none answers.</summary>
    private async Task<int?> AnsweringProcessIdAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            var auth = Password is null ? string.Empty : $"AUTH {Password}\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(auth + "INFO server\r\n"), timeout.Token).ConfigureAwait(false);
            var buffer = new byte[4096];
            var text = new StringBuilder();
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
        catch (Exception ex) when (ex is SocketException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class PortTakenException(string message) : IOException(message);
}
