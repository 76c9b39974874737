using System.ComponentModel.DataAnnotations;

namespace Streaming.Sink;

/// <summary>Configuration of the Sink stage (section <c>Sink</c>). Secrets may come from the environment, e.g. <c>STREAM_Sink__Kafka__SaslPassword</c>.</summary>
public sealed class SinkOptions
{
    public const string Section = "Sink";

    [Required]
    public KafkaSinkOptions Kafka { get; set; } = new();

    [Required]
    public SpoolOptions Spool { get; set; } = new();

    [Required]
    public RedisSinkOptions Redis { get; set; } = new();

    /// <summary>Returns one line per problem (empty when valid). Messages name the key and the fix.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var k = Kafka;
        if (string.IsNullOrWhiteSpace(k.Topic))
        {
            errors.Add("Sink:Kafka:Topic is empty: set the Kafka topic events go to (e.g. \"stream.events\").");
        }

        if (k.Acks is not ("all" or "-1" or "1" or "0"))
        {
            errors.Add($"Sink:Kafka:Acks '{k.Acks}' is not valid: use all, 1 or 0.");
        }

        if (k.EnableIdempotence && k.Acks is not ("all" or "-1"))
        {
            errors.Add("Sink:Kafka:EnableIdempotence needs Acks=all: set Acks to all or turn idempotence off.");
        }

        if (k.QueueBufferingMaxMessages is < 1 or > 10_000_000)
        {
            errors.Add($"Sink:Kafka:QueueBufferingMaxMessages {k.QueueBufferingMaxMessages} is out of range: use 1..10000000.");
        }

        if (k.LingerMs is < 0 or > 900_000)
        {
            errors.Add($"Sink:Kafka:LingerMs {k.LingerMs} is out of range: use 0..900000.");
        }

        if (k.MessageTimeoutMs < 0)
        {
            errors.Add($"Sink:Kafka:MessageTimeoutMs {k.MessageTimeoutMs} is negative: use 0 (retry until delivered) or a positive number of milliseconds.");
        }

        if (k.FlushTimeoutSeconds is < 0 or > 3600)
        {
            errors.Add($"Sink:Kafka:FlushTimeoutSeconds {k.FlushTimeoutSeconds} is out of range: use 0..3600.");
        }

        if (!string.IsNullOrEmpty(k.SecurityProtocol) && !Enum.TryParse<Confluent.Kafka.SecurityProtocol>(k.SecurityProtocol.Replace("_", string.Empty, StringComparison.Ordinal), true, out _))
        {
            errors.Add($"Sink:Kafka:SecurityProtocol '{k.SecurityProtocol}' is not valid: use Plaintext, Ssl, SaslPlaintext or SaslSsl.");
        }

        if (!string.IsNullOrEmpty(k.SaslMechanism) && !Enum.TryParse<Confluent.Kafka.SaslMechanism>(k.SaslMechanism.Replace("-", string.Empty, StringComparison.Ordinal), true, out _))
        {
            errors.Add($"Sink:Kafka:SaslMechanism '{k.SaslMechanism}' is not valid: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER.");
        }

        if (!string.IsNullOrEmpty(k.SslCaLocation) && !File.Exists(k.SslCaLocation) && !Directory.Exists(k.SslCaLocation))
        {
            errors.Add($"Sink:Kafka:SslCaLocation '{k.SslCaLocation}' does not exist: point it at the broker's CA certificate file.");
        }

        if (string.IsNullOrWhiteSpace(Spool.Directory))
        {
            errors.Add("Sink:Spool:Directory is empty: set a writable directory for the event spool (e.g. data/spool).");
        }

        if (Spool.MaxBytes < 1024 * 1024)
        {
            errors.Add($"Sink:Spool:MaxBytes {Spool.MaxBytes} is too small: use at least 1048576 (1 MiB).");
        }

        if (Spool.SegmentBytes < 4096 || Spool.SegmentBytes > Spool.MaxBytes)
        {
            errors.Add($"Sink:Spool:SegmentBytes {Spool.SegmentBytes} is out of range: use 4096..MaxBytes.");
        }

        if (Spool.FsyncIntervalMs < 0)
        {
            errors.Add($"Sink:Spool:FsyncIntervalMs {Spool.FsyncIntervalMs} is negative: use 0 or more.");
        }

        var r = Redis;
        if (string.IsNullOrWhiteSpace(r.Configuration))
        {
            errors.Add("Sink:Redis:Configuration is empty: set it to host:port (e.g. \"localhost:6379\").");
        }
        else
        {
            try
            {
                _ = StackExchange.Redis.ConfigurationOptions.Parse(r.Configuration);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"Sink:Redis:Configuration is not a valid StackExchange.Redis configuration string ({ex.Message.Split('\n')[0]}): use host:port[,option=value...].");
            }
        }

        if (r.FrameTtlSeconds is < 1 or > 7 * 24 * 3600)
        {
            errors.Add($"Sink:Redis:FrameTtlSeconds {r.FrameTtlSeconds} is out of range: use 1..604800.");
        }

        if (r.EveryNthFrame < 0)
        {
            errors.Add($"Sink:Redis:EveryNthFrame {r.EveryNthFrame} is negative: use 0 (only frames events refer to) or N > 0.");
        }

        if (r.JpegQuality is < 1 or > 100)
        {
            errors.Add($"Sink:Redis:JpegQuality {r.JpegQuality} is out of range: use 1..100.");
        }

        if (r.IndexLength is < 1 or > 100_000)
        {
            errors.Add($"Sink:Redis:IndexLength {r.IndexLength} is out of range: use 1..100000.");
        }

        if (r.EncodeQueue is < 1 or > 4096)
        {
            errors.Add($"Sink:Redis:EncodeQueue {r.EncodeQueue} is out of range: use 1..4096.");
        }

        if (r.EventFrameQueue is < 1 or > 65536)
        {
            errors.Add($"Sink:Redis:EventFrameQueue {r.EventFrameQueue} is out of range: use 1..65536.");
        }

        if (r.EncodeWorkers is < 1 or > 64)
        {
            errors.Add($"Sink:Redis:EncodeWorkers {r.EncodeWorkers} is out of range: use 1..64.");
        }

        if (string.IsNullOrWhiteSpace(r.KeyPrefix) || r.KeyPrefix.Contains(' ', StringComparison.Ordinal))
        {
            errors.Add($"Sink:Redis:KeyPrefix '{r.KeyPrefix}' is not valid: use a word without spaces (e.g. \"frame\").");
        }

        return errors;
    }
}

/// <summary>Kafka producer settings (section <c>Sink:Kafka</c>).</summary>
public sealed class KafkaSinkOptions
{
    /// <summary>host:port list. Empty: <c>stream run</c> starts librdkafka's mock cluster in-process (development only).</summary>
    public string BootstrapServers { get; set; } = string.Empty;

    public string Topic { get; set; } = "stream.events";

    public string ClientId { get; set; } = "stream";

    /// <summary>all (default, needed by idempotence), 1 or 0.</summary>
    public string Acks { get; set; } = "all";

    public bool EnableIdempotence { get; set; } = true;

    /// <summary>
    /// How long the producer waits to batch events (librdkafka linger.ms). Default 1 ms: events are few next to frames,
    /// so latency matters more than batching (librdkafka's own default, 5 ms, adds ~4 ms to every capture-to-ack figure).
    /// </summary>
    public int LingerMs { get; set; } = 1;

    /// <summary>Bound of the producer's in-memory queue (queue.buffering.max.messages). Beyond it events go to the spool.</summary>
    public int QueueBufferingMaxMessages { get; set; } = 100_000;

    /// <summary>
    /// librdkafka message.timeout.ms. 0 (default) = the producer retries each event until the broker acknowledges it,
    /// so an outage never fails events; it only fills the queue and then the spool.
    /// </summary>
    public int MessageTimeoutMs { get; set; }

    /// <summary>On shutdown, how long to wait for the broker to acknowledge what is queued; the rest stays in the spool.</summary>
    public int FlushTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// Largest event (serialised JSON) handed to Kafka. A larger one has its free-text fields (reason, zone, line, label...)
    /// truncated to fit; one that cannot be cut down goes to the dead-letter file. Keep it under the broker's
    /// message.max.bytes (default about 1 MB). Default 64 KiB, far above any normal event (a few hundred bytes).
    /// </summary>
    [Range(1024, 100_000_000)]
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How many times an event may fail for a reason that is not known to be permanent (a transient produce error, a
    /// delivery timeout) before it goes to the dead-letter file, so that one event never blocks the ones behind it.
    /// Permanent refusals (record too large, not authorised...) go there at the first failure. Counted per process run.
    /// </summary>
    [Range(1, 1000)]
    public int MaxDeliveryAttempts { get; set; } = 5;

    /// <summary>Plaintext (default), Ssl, SaslPlaintext or SaslSsl.</summary>
    public string? SecurityProtocol { get; set; }

    /// <summary>PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER.</summary>
    public string? SaslMechanism { get; set; }

    public string? SaslUsername { get; set; }

    /// <summary>Secret: prefer the environment variable <c>STREAM_Sink__Kafka__SaslPassword</c>. Never logged.</summary>
    public string? SaslPassword { get; set; }

    /// <summary>CA certificate file used to verify the broker (ssl.ca.location).</summary>
    public string? SslCaLocation { get; set; }

    /// <summary>Further librdkafka properties passed through as they are (e.g. "compression.type": "lz4").</summary>
    public Dictionary<string, string> Properties { get; set; } = new(StringComparer.Ordinal);
}

public enum SpoolFsync
{
    /// <summary>fsync after every record (safest, slowest).</summary>
    Always,

    /// <summary>Every record reaches the OS at once; fsync at most every <see cref="SpoolOptions.FsyncIntervalMs"/>.</summary>
    Interval,

    /// <summary>Leave flushing to the OS (survives a process crash, not a power cut).</summary>
    Never,
}

/// <summary>The durable on-disk spool used while the broker cannot take events (section <c>Sink:Spool</c>).</summary>
public sealed class SpoolOptions
{
    public string Directory { get; set; } = Path.Combine("data", "spool");

    /// <summary>Upper bound of the spool on disk; when reached the sink waits (backpressure) rather than losing events.</summary>
    public long MaxBytes { get; set; } = 1L << 30;

    /// <summary>Size at which a new segment file is started.</summary>
    public long SegmentBytes { get; set; } = 16L << 20;

    public SpoolFsync Fsync { get; set; } = SpoolFsync.Interval;

    public int FsyncIntervalMs { get; set; } = 100;
}

/// <summary>Recent-frame cache settings (section <c>Sink:Redis</c>).</summary>
public sealed class RedisSinkOptions
{
    /// <summary>StackExchange.Redis configuration string, e.g. "localhost:6379" or "redis.example:6380,ssl=true,password=...".</summary>
    public string Configuration { get; set; } = "localhost:6379";

    /// <summary>Secret: prefer the environment variable <c>STREAM_Sink__Redis__Password</c>. Overrides a password in <see cref="Configuration"/>.</summary>
    public string? Password { get; set; }

    /// <summary>Redis ACL user name (Redis 6+), optional.</summary>
    public string? User { get; set; }

    /// <summary>Connect with TLS.</summary>
    public bool Ssl { get; set; }

    /// <summary>Expected TLS host name (defaults to the endpoint's).</summary>
    public string? SslHost { get; set; }

    public int FrameTtlSeconds { get; set; } = 300;

    /// <summary>Store every Nth frame per camera as well as the frames events refer to (0: only those).</summary>
    public int EveryNthFrame { get; set; } = 25;

    public int JpegQuality { get; set; } = 80;

    /// <summary>Length of the per-camera index of recent frames (<c>frame:{camera}:index</c>).</summary>
    public int IndexLength { get; set; } = 100;

    public string KeyPrefix { get; set; } = "frame";

    /// <summary>Frames waiting to be encoded; when full further frames are skipped and counted.</summary>
    public int EncodeQueue { get; set; } = 16;

    /// <summary>Frames events refer to (and keep-frames) waiting to be encoded; encoded before periodic frames; when full they are skipped and counted.</summary>
    public int EventFrameQueue { get; set; } = 256;

    public int EncodeWorkers { get; set; } = 1;

    /// <summary>Builds the StackExchange.Redis options (reconnects by itself: AbortOnConnectFail = false).</summary>
    public StackExchange.Redis.ConfigurationOptions ToConfigurationOptions()
    {
        var options = StackExchange.Redis.ConfigurationOptions.Parse(Configuration);
        options.AbortOnConnectFail = false;
        options.ClientName ??= "stream-sink";
        if (!string.IsNullOrEmpty(Password))
        {
            options.Password = Password;
        }

        if (!string.IsNullOrEmpty(User))
        {
            options.User = User;
        }

        if (Ssl)
        {
            options.Ssl = true;
        }

        if (!string.IsNullOrEmpty(SslHost))
        {
            options.SslHost = SslHost;
        }

        return options;
    }

    /// <summary>The endpoints only, for logs (never the password).</summary>
    public string DescribeEndpoints()
    {
        try
        {
            var options = StackExchange.Redis.ConfigurationOptions.Parse(Configuration);
            return string.Join(',', options.EndPoints.Select(e => e.ToString()));
        }
        catch (ArgumentException)
        {
            return "(invalid)";
        }
    }
}
