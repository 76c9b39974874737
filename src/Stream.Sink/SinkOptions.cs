using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>Configuration of the Sink stage (section <c>Sink</c>). Secrets may come from the environment, e.g. <c>STREAM_Sink__Kafka__SaslPassword</c>.</summary>
public sealed class SinkOptions
{
    public const string Section = "Sink";

    [Required]
    [ValidateObjectMembers]
    public KafkaSinkOptions Kafka { get; set; } = new();

    [Required]
    [ValidateObjectMembers]
    public SpoolOptions Spool { get; set; } = new();

    [Required]
    [ValidateObjectMembers]
    public RedisSinkOptions Redis { get; set; } = new();

    /// <summary>The whole check of the <c>Sink</c> section (annotations and cross-field rules), for the host and for code that builds options itself.</summary>
    public static SectionValidator<SinkOptions> Validator { get; } = new(Section, new SinkOptionsValidator(), new SinkOptionsRules());
}

/// <summary>Kafka producer settings (section <c>Sink:Kafka</c>).</summary>
public sealed class KafkaSinkOptions
{
    /// <summary>The value of <see cref="BootstrapServers"/> that asks for librdkafka's mock cluster in-process (development only).</summary>
    public const string Embedded = "embedded";

    /// <summary>
    /// host:port list of the Kafka brokers, or <see cref="Embedded"/> ("embedded") for an in-process mock cluster (development
    /// only: its events are gone at exit). Required: a production config that forgets its broker must not start.
    /// </summary>
    public string BootstrapServers { get; set; } = string.Empty;

    /// <summary>True when <see cref="BootstrapServers"/> asks for the in-process mock cluster.</summary>
    public bool IsEmbedded => string.Equals(BootstrapServers.Trim(), Embedded, StringComparison.OrdinalIgnoreCase);

    [Required(ErrorMessage = "{0} is empty: set the Kafka topic events go to (e.g. \"stream.events\")")]
    public string Topic { get; set; } = "stream.events";

    public string ClientId { get; set; } = "stream";

    /// <summary>all (default, needed by idempotence), 1 or 0 (read by <see cref="KafkaEnums"/>).</summary>
    public string Acks { get; set; } = "all";

    public bool EnableIdempotence { get; set; } = true;

    /// <summary>
    /// How long the producer waits to batch events (librdkafka linger.ms). Default 1 ms: events are few next to frames,
    /// so latency matters more than batching (librdkafka's own default, 5 ms, adds ~4 ms to every capture-to-ack figure).
    /// </summary>
    [Range(0, 900_000)]
    public int LingerMs { get; set; } = 1;

    /// <summary>Bound of the producer's in-memory queue (queue.buffering.max.messages). Beyond it events go to the spool.</summary>
    [Range(1, 10_000_000)]
    public int QueueBufferingMaxMessages { get; set; } = 100_000;

    /// <summary>
    /// librdkafka message.timeout.ms. 0 (default) = the producer retries each event until the broker acknowledges it,
    /// so an outage never fails events; it only fills the queue and then the spool.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int MessageTimeoutMs { get; set; }

    /// <summary>On shutdown, how long to wait for the broker to acknowledge what is queued; the rest stays in the spool.</summary>
    [Range(0, 3600)]
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

    /// <summary>Plaintext (default), Ssl, SaslPlaintext or SaslSsl (read by <see cref="KafkaEnums"/>).</summary>
    public string? SecurityProtocol { get; set; }

    /// <summary>PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER (read by <see cref="KafkaEnums"/>).</summary>
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
    [Required(ErrorMessage = "{0} is empty: set a writable directory for the event spool (e.g. data/spool)")]
    public string Directory { get; set; } = Path.Combine("data", "spool");

    /// <summary>Upper bound of the spool on disk; when reached the sink waits (backpressure) rather than losing events.</summary>
    [Range(typeof(long), "1048576", "1125899906842624")]
    public long MaxBytes { get; set; } = 1L << 30;

    /// <summary>Size at which a new segment file is started.</summary>
    [Range(typeof(long), "4096", "1125899906842624")]
    public long SegmentBytes { get; set; } = 16L << 20;

    public SpoolFsync Fsync { get; set; } = SpoolFsync.Interval;

    [Range(0, int.MaxValue)]
    public int FsyncIntervalMs { get; set; } = 100;
}

/// <summary>Recent-frame cache settings (section <c>Sink:Redis</c>).</summary>
public sealed class RedisSinkOptions
{
    /// <summary>StackExchange.Redis configuration string, e.g. "localhost:6379" or "redis.example:6380,ssl=true,password=...".</summary>
    [Required(ErrorMessage = "{0} is empty: set it to host:port (e.g. \"localhost:6379\")")]
    public string Configuration { get; set; } = "localhost:6379";

    /// <summary>Secret: prefer the environment variable <c>STREAM_Sink__Redis__Password</c>. Overrides a password in <see cref="Configuration"/>.</summary>
    public string? Password { get; set; }

    /// <summary>Redis ACL user name (Redis 6+), optional.</summary>
    public string? User { get; set; }

    /// <summary>Connect with TLS.</summary>
    public bool Ssl { get; set; }

    /// <summary>Expected TLS host name (defaults to the endpoint's).</summary>
    public string? SslHost { get; set; }

    [Range(1, 7 * 24 * 3600)]
    public int FrameTtlSeconds { get; set; } = 300;

    /// <summary>Store every Nth frame per camera as well as the frames events refer to (0: only those).</summary>
    [Range(0, int.MaxValue)]
    public int EveryNthFrame { get; set; } = 25;

    [Range(1, 100)]
    public int JpegQuality { get; set; } = 80;

    /// <summary>Length of the per-camera index of recent frames (<c>frame:{camera}:index</c>).</summary>
    [Range(1, 100_000)]
    public int IndexLength { get; set; } = 100;

    [RegularExpression(@"^\S+$", ErrorMessage = "{0} is not valid: use a word without spaces (e.g. \"frame\")")]
    public string KeyPrefix { get; set; } = "frame";

    /// <summary>Frames waiting to be encoded; when full further frames are skipped and counted.</summary>
    [Range(1, 4096)]
    public int EncodeQueue { get; set; } = 16;

    /// <summary>Frames events refer to (and keep-frames) waiting to be encoded; encoded before periodic frames; when full they are skipped and counted.</summary>
    [Range(1, 65536)]
    public int EventFrameQueue { get; set; } = 256;

    [Range(1, 64)]
    public int EncodeWorkers { get; set; } = 1;

    /// <summary>
    /// Builds the StackExchange.Redis options: reconnects by itself (AbortOnConnectFail = false), client name "stream"
    /// unless the string names one, and no pub/sub connection beside the one for commands (the pipeline subscribes to
    /// nothing) unless the string sets its own command map: one TCP connection per process.
    /// </summary>
    public StackExchange.Redis.ConfigurationOptions ToConfigurationOptions()
    {
        var options = StackExchange.Redis.ConfigurationOptions.Parse(Configuration);
        options.AbortOnConnectFail = false;
        options.ClientName ??= "stream";
        if (options.CommandMap == StackExchange.Redis.CommandMap.Default)
        {
            options.CommandMap = StackExchange.Redis.CommandMap.Create(new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "SUBSCRIBE" }, available: false);
        }

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

/// <summary>DataAnnotations of <see cref="SinkOptions"/> and its nested sections, written by the options source generator.</summary>
[OptionsValidator]
public sealed partial class SinkOptionsValidator : IValidateOptions<SinkOptions>;

/// <summary>The <c>Sink</c> rules that span fields, parse strings for Kafka and Redis, or look at files.</summary>
public sealed class SinkOptionsRules : IValidateOptions<SinkOptions>
{
    public ValidateOptionsResult Validate(string? name, SinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var k = options.Kafka;
        if (string.IsNullOrWhiteSpace(k.BootstrapServers))
        {
            errors.Add($"Sink:Kafka:BootstrapServers is empty: name your Kafka brokers (host:port,...), or set it to \"{KafkaSinkOptions.Embedded}\" for an in-process mock broker (development only: its events are gone at exit).");
        }

        // Read as the producer builder reads them (KafkaEnums), so that what passes here is what librdkafka gets.
        if (!KafkaEnums.TryParseAcks(k.Acks, out var acks))
        {
            errors.Add($"Sink:Kafka:Acks '{k.Acks}' is not valid: use {KafkaEnums.AcksChoices}.");
        }

        if (k.EnableIdempotence && acks != Confluent.Kafka.Acks.All)
        {
            errors.Add("Sink:Kafka:EnableIdempotence needs Acks=all: set Acks to all or turn idempotence off.");
        }

        if (!string.IsNullOrEmpty(k.SecurityProtocol) && !KafkaEnums.TryParseSecurityProtocol(k.SecurityProtocol, out _))
        {
            errors.Add($"Sink:Kafka:SecurityProtocol '{k.SecurityProtocol}' is not valid: use {KafkaEnums.SecurityProtocolChoices}.");
        }

        if (!string.IsNullOrEmpty(k.SaslMechanism) && !KafkaEnums.TryParseSaslMechanism(k.SaslMechanism, out _))
        {
            errors.Add($"Sink:Kafka:SaslMechanism '{k.SaslMechanism}' is not valid: use {KafkaEnums.SaslMechanismChoices}.");
        }

        if (!string.IsNullOrEmpty(k.SslCaLocation) && !File.Exists(k.SslCaLocation) && !Directory.Exists(k.SslCaLocation))
        {
            errors.Add($"Sink:Kafka:SslCaLocation '{k.SslCaLocation}' does not exist: point it at the broker's CA certificate file.");
        }

        if (options.Spool.SegmentBytes > options.Spool.MaxBytes)
        {
            errors.Add($"Sink:Spool:SegmentBytes {options.Spool.SegmentBytes} is above Sink:Spool:MaxBytes {options.Spool.MaxBytes}: use 4096..MaxBytes.");
        }

        if (!string.IsNullOrWhiteSpace(options.Spool.Directory) && SpoolDirectoryProblem(options.Spool.Directory) is { } spoolProblem)
        {
            errors.Add(spoolProblem);
        }

        if (!string.IsNullOrWhiteSpace(options.Redis.Configuration))
        {
            try
            {
                _ = StackExchange.Redis.ConfigurationOptions.Parse(options.Redis.Configuration);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"Sink:Redis:Configuration is not a valid StackExchange.Redis configuration string ({ex.Message.Split('\n')[0]}): use host:port[,option=value...].");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>
    /// The spool directory must take files: it is created if missing (as the spool would) and a file is written and removed
    /// in it. A read-only mount, a path under a file or a directory without write permission is named here, at the start.
    /// </summary>
    private static string? SpoolDirectoryProblem(string directory)
    {
        string full;
        try
        {
            full = Path.GetFullPath(directory);
            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, ".write-test-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"Sink:Spool:Directory '{directory}' is not writable ({ex.Message}): point it at a writable directory (events are written there before they count as accepted).";
        }
    }
}
