namespace Streaming.Sink;

/// <summary>
/// Starts the development broker that <c>Sink:Kafka:BootstrapServers = "embedded"</c> asks for: librdkafka's mock
/// cluster, in this process, in memory. The Sink ships no broker: Stream.DevServices fills this seam
/// (<c>AddEmbeddedKafka</c>), and the stream executable registers it; a process without it refuses "embedded" with one
/// line.
/// </summary>
public interface IEmbeddedKafkaLauncher
{
    /// <summary>Starts a one-broker cluster holding <paramref name="topic"/>; disposing the result stops it.</summary>
    /// <param name="problem">Receives the broker's error lines (called on a librdkafka thread).</param>
    Task<IEmbeddedKafka> StartAsync(string topic, Action<string> problem, CancellationToken cancellationToken);
}

/// <summary>A running embedded broker; disposing it stops it (its events are gone).</summary>
public interface IEmbeddedKafka : IDisposable
{
    /// <summary>host:port list of its brokers.</summary>
    string BootstrapServers { get; }
}
