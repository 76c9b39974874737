using Confluent.Kafka;

namespace Streaming.Sink;

/// <summary>
/// The librdkafka producer configuration for <see cref="KafkaSinkOptions"/>: the event producer's, and the client
/// settings (bootstrap, security) that the health probe, the camera registry and the benchmarks share with it. The enum
/// strings are read by <see cref="KafkaEnums"/>, as the options check reads them.
/// </summary>
public static class KafkaProducerConfigBuilder
{
    /// <summary>The producer configuration (secrets included; never log it). Throws <see cref="ArgumentException"/> for a value the options check refuses.</summary>
    public static ProducerConfig Build(KafkaSinkOptions options, string bootstrapServers)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = options.ClientId,
            Acks = KafkaEnums.TryParseAcks(options.Acks, out var acks) ? acks
                : throw new ArgumentException($"Sink:Kafka:Acks '{options.Acks}' is not valid: use {KafkaEnums.AcksChoices}.", nameof(options)),
            EnableIdempotence = options.EnableIdempotence,
            LingerMs = options.LingerMs,
            QueueBufferingMaxMessages = options.QueueBufferingMaxMessages,
            MessageTimeoutMs = options.MessageTimeoutMs,
            // librdkafka statistics every 5 s: the sink reads the request retry count from them.
            StatisticsIntervalMs = 5000,
            // Same partition for the same camera in every Kafka client (Java-compatible murmur2).
            Partitioner = Partitioner.Murmur2Random,
        };
        if (!string.IsNullOrEmpty(options.SecurityProtocol))
        {
            config.SecurityProtocol = KafkaEnums.TryParseSecurityProtocol(options.SecurityProtocol, out var protocol) ? protocol
                : throw new ArgumentException($"Sink:Kafka:SecurityProtocol '{options.SecurityProtocol}' is not valid: use {KafkaEnums.SecurityProtocolChoices}.", nameof(options));
        }

        if (!string.IsNullOrEmpty(options.SaslMechanism))
        {
            config.SaslMechanism = KafkaEnums.TryParseSaslMechanism(options.SaslMechanism, out var mechanism) ? mechanism
                : throw new ArgumentException($"Sink:Kafka:SaslMechanism '{options.SaslMechanism}' is not valid: use {KafkaEnums.SaslMechanismChoices}.", nameof(options));
        }

        if (!string.IsNullOrEmpty(options.SaslUsername))
        {
            config.SaslUsername = options.SaslUsername;
        }

        if (!string.IsNullOrEmpty(options.SaslPassword))
        {
            config.SaslPassword = options.SaslPassword;
        }

        if (!string.IsNullOrEmpty(options.SslCaLocation))
        {
            config.SslCaLocation = options.SslCaLocation;
        }

        foreach (var (key, value) in options.Properties)
        {
            config.Set(key, value);
        }

        return config;
    }
}
