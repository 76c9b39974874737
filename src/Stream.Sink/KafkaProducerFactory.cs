using Confluent.Kafka;

namespace Streaming.Sink;

/// <summary>What the Kafka publisher hands its producer's maker: where librdkafka's log lines, errors and statistics go.</summary>
public sealed record KafkaProducerHandlers(Action<LogMessage> Log, Action<Error> Error, Action<string> Statistics);

/// <summary>
/// Where <see cref="KafkaEventPublisher"/> gets its producer: librdkafka (<see cref="KafkaProducerFactory"/>) in the
/// pipeline; in tests, anything that behaves like one, so that the publisher's states (waiting, refused, backoff, fatal,
/// the close deadline) can be driven without a broker and on a fake clock.
/// </summary>
public interface IKafkaProducerFactory
{
    IProducer<string, byte[]> Create(ProducerConfig config, KafkaProducerHandlers handlers);
}

/// <summary>librdkafka's producer, with the publisher's handlers attached.</summary>
public sealed class KafkaProducerFactory : IKafkaProducerFactory
{
    public static KafkaProducerFactory Instance { get; } = new();

    public IProducer<string, byte[]> Create(ProducerConfig config, KafkaProducerHandlers handlers)
    {
        ArgumentNullException.ThrowIfNull(handlers);
        return new ProducerBuilder<string, byte[]>(config)
            .SetLogHandler((_, m) => handlers.Log(m))
            .SetErrorHandler((_, e) => handlers.Error(e))
            .SetStatisticsHandler((_, json) => handlers.Statistics(json))
            .Build();
    }
}
