using StackExchange.Redis;

namespace Streaming.Sink;

/// <summary>
/// The process's one connection to Redis (<c>Sink:Redis</c>), registered by <c>AddSink</c> and shared by everything that
/// talks to Redis: the frame cache (<see cref="RedisFrameStore"/>), the web page's snapshots and the health probe. It
/// connects in the background as soon as it is made (AbortOnConnectFail = false: the multiplexer reconnects by itself),
/// so nothing waits for Redis to start; <see cref="Multiplexer"/> is there once the first attempt is over, connected or
/// not. It knows whether the server refused the credentials (the first attempt's connect log, then the connection
/// events), which the cache and the probe report. The host disposes it, after the stages that use it have stopped.
/// A process that registers no Sink makes none, so it never connects to Redis.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable, IDisposable
{
    private readonly ConfigurationOptions _configuration;
    private readonly Task _connecting;
    private IConnectionMultiplexer? _multiplexer; // set once the first attempt is over; taken out with Interlocked at dispose
    private volatile bool _authFailed;
    private volatile bool _disposed;

    /// <summary>Starts connecting to <paramref name="options"/>' server in the background.</summary>
    public RedisConnection(RedisSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _configuration = options.ToConfigurationOptions();
        Endpoints = options.DescribeEndpoints();
        ConnectTimeout = TimeSpan.FromMilliseconds(_configuration.ConnectTimeout);
        AnswerTimeout = TimeSpan.FromMilliseconds(_configuration.AsyncTimeout);
        _connecting = Task.Run(ConnectAsync);
    }

    /// <summary>The endpoints, for logs and reasons (never the password).</summary>
    public string Endpoints { get; }

    /// <summary>How long one connection attempt may take (connectTimeout).</summary>
    public TimeSpan ConnectTimeout { get; }

    /// <summary>How long a command waits for Redis's answer before it fails as a timeout (asyncTimeout).</summary>
    public TimeSpan AnswerTimeout { get; }

    /// <summary>Completes once the first connection attempt is over (connected or not; the multiplexer keeps retrying by itself).</summary>
    public Task Connecting => _connecting;

    /// <summary>The connection, once the first attempt is over (null before, and after dispose); connected or not.</summary>
    public IConnectionMultiplexer? Multiplexer => Volatile.Read(ref _multiplexer);

    public bool IsConnected => Multiplexer?.IsConnected == true;

    /// <summary>The server refused the credentials (wrong Sink:Redis:Password or User), until a connection is made again.</summary>
    public bool AuthenticationFailed => _authFailed;

    /// <summary>Whether a StackExchange.Redis message or connect log tells of refused credentials.</summary>
    public static bool IsAuthenticationFailure(string text) =>
        text.Contains("AuthenticationFailure", StringComparison.Ordinal) || text.Contains("WRONGPASS", StringComparison.Ordinal) ||
        text.Contains("NOAUTH", StringComparison.Ordinal) || text.Contains("invalid password", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a connection failure is the server refusing the credentials.</summary>
    public static bool IsAuthenticationFailure(ConnectionFailedEventArgs e) =>
        e?.FailureType == ConnectionFailureType.AuthenticationFailure || (e?.Exception is { } ex && IsAuthenticationFailure(ex.Message));

    private async Task ConnectAsync()
    {
        // The first attempt's failure (a wrong password, say) is only told through the connect log, before the events
        // below can be subscribed: the log is read for it once.
        using var connectLog = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var redis = await ConnectionMultiplexer.ConnectAsync(_configuration, connectLog).ConfigureAwait(false);
        if (!redis.IsConnected && IsAuthenticationFailure(connectLog.ToString()))
        {
            _authFailed = true;
        }

        redis.ConnectionFailed += (_, e) =>
        {
            if (IsAuthenticationFailure(e))
            {
                _authFailed = true;
            }
        };
        redis.ConnectionRestored += (_, _) => _authFailed = false;
        Volatile.Write(ref _multiplexer, redis);

        // Disposed while connecting: whichever side takes the connection out closes it (exactly one does).
        if (_disposed && Interlocked.CompareExchange(ref _multiplexer, null, redis) == redis)
        {
            await redis.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Closes the connection without waiting for commands still queued (their callers bound every wait themselves); one
    /// still being made is closed when it is made.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        if (Interlocked.Exchange(ref _multiplexer, null) is { } redis)
        {
            await redis.CloseAsync(allowCommandsToComplete: false).WaitAsync(ConnectTimeout + TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await redis.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
