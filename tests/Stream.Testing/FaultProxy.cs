using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Streaming.Testing;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of one upstream server, whose faults the test sets, as Toxiproxy does: the client
/// connects to <see cref="Endpoint"/>, the proxy connects to the upstream and copies bytes both ways, through the fault
/// in force. Faults apply to open connections and to new ones at once:
/// <list type="bullet">
/// <item><see cref="Pause"/>: bytes are held (read no further, sent on <see cref="Heal"/>), connections stay open: a server
/// that stopped answering, without stopping its process.</item>
/// <item><see cref="Blackhole"/>: bytes are read and thrown away both ways, connections stay open.</item>
/// <item><see cref="ResetAll"/>: every open connection is reset (RST) now; with <c>refuse: true</c>, new ones too.</item>
/// <item><see cref="Latency"/> and <see cref="Bandwidth"/>: each chunk waits that long before it is passed on, or as long
/// as its size takes at that rate.</item>
/// </list>
/// Each connection is two pumps (client to upstream, upstream to client) that read a chunk, then ask the fault in force
/// what to do with it; the fault is one immutable value swapped as a whole, and a pause is a task the pumps wait on.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private const int ChunkBytes = 16 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private volatile string _upstreamHost;
    private volatile int _upstreamPort;
    private readonly List<Connection> _connections = [];
    private volatile Fault _fault = Fault.None;
    private long _bytesUp;
    private long _bytesDown;
    private int _accepted;

    public FaultProxy(string upstreamHost, int upstreamPort)
    {
        _upstreamHost = upstreamHost;
        _upstreamPort = upstreamPort;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptAsync);
    }

    /// <summary>A proxy whose upstream is set later (<see cref="SetUpstream"/>), before the first client connects: its port is known first.</summary>
    public FaultProxy()
        : this(string.Empty, 0)
    {
    }

    /// <summary>Where the proxy forwards to (for a proxy created before its server).</summary>
    public void SetUpstream(string host, int port)
    {
        _upstreamHost = host;
        _upstreamPort = port;
    }

    /// <summary>A proxy in front of <c>host:port</c>.</summary>
    public static FaultProxy For(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        return new FaultProxy(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public int Port { get; }

    /// <summary><c>127.0.0.1:PORT</c>, for the client's configuration.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Connections open now.</summary>
    public int Open
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Bytes passed on from clients to the upstream, and back.</summary>
    public (long Up, long Down) Bytes => (Interlocked.Read(ref _bytesUp), Interlocked.Read(ref _bytesDown));

    /// <summary>What is in force now, for a test's message.</summary>
    public string Describe() => $"proxy {Endpoint} -> {_upstreamHost}:{_upstreamPort}: {_fault.Name}, {Open} open, {Accepted} accepted, {Bytes.Up} bytes up, {Bytes.Down} down";

    /// <summary>Holds every byte both ways (nothing is lost: it is passed on at <see cref="Heal"/>); connections stay open.</summary>
    public void Pause() => Set(Fault.None with { Name = "paused", Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) });

    /// <summary>Throws away every byte both ways; connections stay open and new ones are accepted.</summary>
    public void Blackhole() => Set(Fault.None with { Name = "blackhole", Discard = true });

    /// <summary>Each chunk waits <paramref name="delay"/> before it is passed on, both ways.</summary>
    public void Latency(TimeSpan delay) => Set(Fault.None with { Name = $"latency {delay.TotalMilliseconds:0} ms", Delay = delay });

    /// <summary>At most <paramref name="bytesPerSecond"/> each way per connection.</summary>
    public void Bandwidth(long bytesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerSecond, 1);
        Set(Fault.None with { Name = $"bandwidth {bytesPerSecond} B/s", BytesPerSecond = bytesPerSecond });
    }

    /// <summary>Resets (RST) every open connection; with <paramref name="refuse"/>, resets new ones as soon as they are accepted until <see cref="Heal"/>.</summary>
    public void ResetAll(bool refuse = false)
    {
        if (refuse)
        {
            Set(Fault.None with { Name = "refusing", Refuse = true });
        }

        Connection[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

        foreach (var c in open)
        {
            c.Reset();
        }
    }

    /// <summary>Back to passing bytes through as they come; bytes held by a pause go on now.</summary>
    public void Heal() => Set(Fault.None);

    private void Set(Fault fault)
    {
        var old = Interlocked.Exchange(ref _fault, fault);
        old.Gate?.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        Heal();
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Connection[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

        foreach (var c in open)
        {
            c.Close();
        }

        await Task.WhenAll(open.Select(c => c.Done)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _listener.Dispose();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            if (_fault.Refuse)
            {
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            var connection = new Connection(this, client);
            lock (_connections)
            {
                _connections.Add(connection);
            }

            connection.Start();
        }
    }

    private void Remove(Connection connection)
    {
        lock (_connections)
        {
            _connections.Remove(connection);
        }
    }

    /// <summary>The fault in force: one immutable value, replaced as a whole.</summary>
    private sealed record Fault(string Name, TaskCompletionSource? Gate, bool Discard, TimeSpan Delay, long BytesPerSecond, bool Refuse)
    {
        public static readonly Fault None = new("none", null, false, TimeSpan.Zero, 0, false);
    }

    private sealed class Connection(FaultProxy proxy, Socket client)
    {
        private readonly Socket _upstream = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        private readonly CancellationTokenSource _closed = new();

        public Task Done { get; private set; } = Task.CompletedTask;

        public void Start() => Done = RunAsync();

        /// <summary>RST to both sides.</summary>
        public void Reset()
        {
            client.LingerState = new LingerOption(true, 0);
            _upstream.LingerState = new LingerOption(true, 0);
            Close();
        }

        public void Close()
        {
            try
            {
                _closed.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            client.Dispose();
            _upstream.Dispose();
        }

        private async Task RunAsync()
        {
            try
            {
                client.NoDelay = true;
                await _upstream.ConnectAsync(proxy._upstreamHost, proxy._upstreamPort, _closed.Token).ConfigureAwait(false);
                await Task.WhenAny(PumpAsync(client, _upstream, up: true), PumpAsync(_upstream, client, up: false)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                Close();
                proxy.Remove(this);
                _closed.Dispose();
            }
        }

        /// <summary>
        /// One direction: a reader that takes each chunk as it comes, asks the fault in force what to do with it (a pause
        /// holds it, and by not reading further the rest; a blackhole drops it) and stamps when it is due (latency); and a
        /// writer that sends each chunk when it is due, no faster than the bandwidth allows. Latency delays every chunk by
        /// the same amount without spacing them out, as a long wire would.
        /// </summary>
        private async Task PumpAsync(Socket from, Socket to, bool up)
        {
            var chunks = Channel.CreateBounded<(byte[] Data, long Due)>(new BoundedChannelOptions(64)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = true,
            });
            var writer = SendAsync(chunks.Reader, to, up);
            try
            {
                var buffer = new byte[ChunkBytes];
                while (true)
                {
                    // Under a bandwidth limit, chunks of a twentieth of a second's worth, so the rate holds on short messages too.
                    var limit = proxy._fault.BytesPerSecond;
                    var size = limit > 0 ? (int)Math.Clamp(limit / 20, 1, ChunkBytes) : ChunkBytes;
                    var n = await from.ReceiveAsync(buffer.AsMemory(0, size), SocketFlags.None, _closed.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    var fault = proxy._fault;
                    while (fault.Gate is { } gate)
                    {
                        await gate.Task.WaitAsync(_closed.Token).ConfigureAwait(false);
                        fault = proxy._fault;
                    }

                    if (fault.Discard)
                    {
                        continue;
                    }

                    var due = TimeProvider.System.GetTimestamp() + (long)(fault.Delay.TotalSeconds * TimeProvider.System.TimestampFrequency);
                    await chunks.Writer.WriteAsync((buffer[..n], due), _closed.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                chunks.Writer.TryComplete();
            }

            await writer.ConfigureAwait(false);
        }

        private async Task SendAsync(ChannelReader<(byte[] Data, long Due)> chunks, Socket to, bool up)
        {
            try
            {
                while (await chunks.WaitToReadAsync(_closed.Token).ConfigureAwait(false))
                {
                    while (chunks.TryRead(out var chunk))
                    {
                        var wait = TimeProvider.System.GetElapsedTime(TimeProvider.System.GetTimestamp(), chunk.Due);
                        var limit = proxy._fault.BytesPerSecond;
                        if (limit > 0)
                        {
                            wait += TimeSpan.FromSeconds((double)chunk.Data.Length / limit);
                        }

                        if (wait > TimeSpan.Zero)
                        {
                            await Task.Delay(wait, _closed.Token).ConfigureAwait(false);
                        }

                        // A pause that came after the chunk was read holds it here too.
                        while (proxy._fault.Gate is { } gate)
                        {
                            await gate.Task.WaitAsync(_closed.Token).ConfigureAwait(false);
                        }

                        if (proxy._fault.Discard)
                        {
                            continue;
                        }

                        await to.SendAsync(chunk.Data, SocketFlags.None, _closed.Token).ConfigureAwait(false);
                        if (up)
                        {
                            Interlocked.Add(ref proxy._bytesUp, chunk.Data.Length);
                        }
                        else
                        {
                            Interlocked.Add(ref proxy._bytesDown, chunk.Data.Length);
                        }
                    }
                }

                to.Shutdown(SocketShutdown.Send); // the peer closed its side: pass the half-close on
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }
}
