using Confluent.Kafka;

namespace Streaming.Sink;

/// <summary>
/// The one reading of the Kafka enum strings of <see cref="KafkaSinkOptions"/> (Acks, SecurityProtocol, SaslMechanism):
/// <see cref="SinkOptionsRules"/> checks a config with it and <see cref="KafkaProducerConfigBuilder"/> builds the producer
/// with it, so a value the check accepts is exactly a value the producer gets.
/// </summary>
public static class KafkaEnums
{
    /// <summary>What <see cref="KafkaSinkOptions.Acks"/> takes, for error messages.</summary>
    public const string AcksChoices = "all, 1 or 0";

    public const string SecurityProtocolChoices = "Plaintext, Ssl, SaslPlaintext or SaslSsl";

    public const string SaslMechanismChoices = "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER";

    /// <summary>all (or -1): every in-sync replica; 1: the leader; 0: none.</summary>
    public static bool TryParseAcks(string? text, out Acks acks)
    {
        (var ok, acks) = text switch
        {
            "all" or "-1" => (true, Acks.All),
            "1" => (true, Acks.Leader),
            "0" => (true, Acks.None),
            _ => (false, default),
        };
        return ok;
    }

    /// <summary>Plaintext, Ssl, SaslPlaintext or SaslSsl, in any case, with or without underscores (SASL_SSL).</summary>
    public static bool TryParseSecurityProtocol(string? text, out SecurityProtocol protocol)
    {
        protocol = default;
        return !string.IsNullOrEmpty(text) && Enum.TryParse(text.Replace("_", string.Empty, StringComparison.Ordinal), true, out protocol);
    }

    /// <summary>PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER, in any case, with or without dashes.</summary>
    public static bool TryParseSaslMechanism(string? text, out SaslMechanism mechanism)
    {
        mechanism = default;
        return !string.IsNullOrEmpty(text) && Enum.TryParse(text.Replace("-", string.Empty, StringComparison.Ordinal), true, out mechanism);
    }
}
