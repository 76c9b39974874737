using Streaming.Core;

namespace Streaming.Sink.Tests;

public sealed class SinkOptionsTests
{
    [Fact]
    public void Defaults_are_valid_once_a_broker_is_named_and_naming_none_is_the_one_problem()
    {
        Assert.Empty(SinkOptions.Validator.Problems(new SinkOptions { Kafka = new KafkaSinkOptions { BootstrapServers = "kafka:9092" } }));
        Assert.Empty(SinkOptions.Validator.Problems(new SinkOptions { Kafka = new KafkaSinkOptions { BootstrapServers = KafkaSinkOptions.Embedded } }));
        var problem = Assert.Single(SinkOptions.Validator.Problems(new SinkOptions()));
        Assert.StartsWith("Sink:Kafka:BootstrapServers is empty: name your Kafka brokers", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_config_gives_one_line_errors_naming_the_key_and_the_fix()
    {
        var options = new SinkOptions
        {
            Kafka = new KafkaSinkOptions { Topic = "", Acks = "1", EnableIdempotence = true, SaslMechanism = "MAGIC", SaslPassword = "hunter2-secret", QueueBufferingMaxMessages = 0 },
            Spool = new SpoolOptions { Directory = "", MaxBytes = 10 },
            Redis = new RedisSinkOptions { Configuration = "", JpegQuality = 101, EveryNthFrame = -1 },
        };
        var errors = SinkOptions.Validator.Problems(options);
        foreach (var key in new[] { "Sink:Kafka:Topic", "Sink:Kafka:EnableIdempotence", "Sink:Kafka:SaslMechanism", "Sink:Kafka:QueueBufferingMaxMessages", "Sink:Spool:Directory", "Sink:Spool:MaxBytes", "Sink:Redis:Configuration", "Sink:Redis:JpegQuality", "Sink:Redis:EveryNthFrame" })
        {
            Assert.Contains(errors, e => e.StartsWith(key, StringComparison.Ordinal));
        }

        Assert.All(errors, e =>
        {
            Assert.DoesNotContain('\n', e);
            Assert.Contains(':', e[(e.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
            Assert.DoesNotContain("hunter2", e, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Redis_password_and_tls_from_options_reach_the_connection_settings_but_not_the_description()
    {
        var redis = new RedisSinkOptions { Configuration = "cache.example:6380", Password = "hunter2-secret", Ssl = true, User = "stream" };
        var config = redis.ToConfigurationOptions();
        Assert.Equal("hunter2-secret", config.Password);
        Assert.True(config.Ssl);
        Assert.False(config.AbortOnConnectFail);
        Assert.DoesNotContain("hunter2", redis.DescribeEndpoints(), StringComparison.Ordinal);
    }

    [Fact]
    public void Kafka_security_settings_and_extra_properties_are_passed_through()
    {
        var kafka = new KafkaSinkOptions
        {
            SecurityProtocol = "SaslSsl",
            SaslMechanism = "SCRAM-SHA-512",
            SaslUsername = "stream",
            SaslPassword = "hunter2-secret",
            Properties = { ["compression.type"] = "lz4" },
        };
        var config = KafkaProducerConfigBuilder.Build(kafka, "broker:9093");
        Assert.Equal(Confluent.Kafka.SecurityProtocol.SaslSsl, config.SecurityProtocol);
        Assert.Equal(Confluent.Kafka.SaslMechanism.ScramSha512, config.SaslMechanism);
        Assert.Equal("hunter2-secret", config.SaslPassword);
        Assert.Equal("lz4", config.Get("compression.type"));
        Assert.True(config.EnableIdempotence);
        Assert.Equal(Confluent.Kafka.Acks.All, config.Acks);
        Assert.Equal(0, config.MessageTimeoutMs);
    }

    [Fact]
    public void The_options_check_and_the_producer_builder_accept_exactly_the_same_kafka_enum_strings()
    {
        var cases = new[]
        {
            ("all", "SASL_SSL", "scram-sha-256"), ("-1", "ssl", "PLAIN"), ("1", "SaslPlaintext", "OAUTHBEARER"), ("0", null, "GSSAPI"),
            ("ALL", null, null), ("2", null, null), ("", null, null), ("all", "tls", null), ("all", null, "MAGIC"), ("all", "Plain_Text", "SCRAM-SHA-1024"),
        };
        var accepted = 0;
        foreach (var (acks, protocol, mechanism) in cases)
        {
            var kafka = new KafkaSinkOptions { BootstrapServers = "kafka:9092", Acks = acks, EnableIdempotence = false, SecurityProtocol = protocol, SaslMechanism = mechanism };
            var problems = SinkOptions.Validator.Problems(new SinkOptions { Kafka = kafka });
            var refusal = Record.Exception(() => KafkaProducerConfigBuilder.Build(kafka, "kafka:9092"));
            Assert.True(problems.Count == 0 == refusal is null, $"Acks={acks} SecurityProtocol={protocol} SaslMechanism={mechanism}: check says [{string.Join("; ", problems)}], builder {refusal?.Message ?? "builds"}");
            accepted += problems.Count == 0 ? 1 : 0;
        }

        Assert.Equal(4, accepted);
    }

    [Fact]
    public void Camera_states_map_to_online_offline_reconnecting()
    {
        Assert.Equal("online", EventMessage.StatusName(CameraState.Streaming));
        Assert.Equal("reconnecting", EventMessage.StatusName(CameraState.Connecting));
        Assert.Equal("reconnecting", EventMessage.StatusName(CameraState.Backoff));
        Assert.Equal("offline", EventMessage.StatusName(CameraState.Stopped));
        Assert.Equal("offline", EventMessage.StatusName(CameraState.Failed));
    }

    [Fact]
    public void An_unwritable_spool_directory_or_an_unknown_librdkafka_property_is_a_one_line_error_naming_the_key()
    {
        var blocker = Path.Combine(Path.GetTempPath(), "stream-not-a-dir-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(blocker, "x");
        try
        {
            var spool = new SpoolOptions { Directory = Path.Combine(blocker, "spool") };
            var ex = Assert.Throws<InvalidOperationException>(() => new EventSpool(spool, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
            Assert.StartsWith("Sink:Spool:Directory", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', ex.Message);

            var kafka = new KafkaSinkOptions { Properties = { ["no.such.property"] = "1" } };
            using var meters = new StandaloneMeterFactory();
            var loggers = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
            var spools = new EventSpoolFactory(new SpoolOptions { Directory = Path.Combine(Path.GetTempPath(), "stream-spool-" + Guid.NewGuid().ToString("N")) }, loggers, TimeProvider.System);
            var ex2 = Assert.Throws<InvalidOperationException>(() => new KafkaEventPublisher(kafka, spools.Open(), "127.0.0.1:9", KafkaProducerFactory.Instance,
                new SinkMetrics(meters), loggers, TimeProvider.System));
            Assert.StartsWith("Sink:Kafka", ex2.Message, StringComparison.Ordinal);
            Assert.Contains("no.such.property", ex2.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(blocker);
        }
    }
}
