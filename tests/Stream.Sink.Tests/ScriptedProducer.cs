using System.Collections.Concurrent;
using Confluent.Kafka;

namespace Streaming.Sink.Tests;

/// <summary>
/// A stand-in for librdkafka's producer that the test scripts: <see cref="OnProduce"/> decides what each Produce call
/// does (take the event, or throw as librdkafka would: queue full, a permanent or transient or fatal error), and the
/// test sends the delivery reports (<see cref="Acknowledge"/>, <see cref="Report"/>). It stands for the broker and
/// librdkafka, not for the publisher under test.
/// </summary>
internal sealed class ScriptedProducer : IProducer<string, byte[]>, IKafkaProducerFactory
{
    private readonly ConcurrentQueue<(Message<string, byte[]> Message, Action<DeliveryReport<string, byte[]>> Handler)> _pending = new();
    private int _produceCalls;

    /// <summary>Called for each Produce: return null to take the event, or the exception to throw.</summary>
    public Func<Message<string, byte[]>, KafkaException?> OnProduce { get; set; } = _ => null;

    /// <summary>Produce calls so far (taken or thrown).</summary>
    public int ProduceCalls => Volatile.Read(ref _produceCalls);

    /// <summary>Events taken and not yet reported.</summary>
    public int Pending => _pending.Count;

    public KafkaProducerHandlers? Handlers { get; private set; }

    public IProducer<string, byte[]> Create(ProducerConfig config, KafkaProducerHandlers handlers)
    {
        Handlers = handlers;
        return this;
    }

    /// <summary>Acknowledges up to <paramref name="count"/> taken events, oldest first; returns how many.</summary>
    public int Acknowledge(int count = int.MaxValue) => Report(count, new Error(ErrorCode.NoError), PersistenceStatus.Persisted);

    /// <summary>Reports up to <paramref name="count"/> taken events with <paramref name="error"/>; returns how many.</summary>
    public int Report(int count, Error error, PersistenceStatus status = PersistenceStatus.NotPersisted)
    {
        var n = 0;
        while (n < count && _pending.TryDequeue(out var p))
        {
            p.Handler(new DeliveryReport<string, byte[]> { Message = p.Message, Error = error, Status = status, TopicPartitionOffset = new TopicPartitionOffset("t", 0, n) });
            n++;
        }

        return n;
    }

    public void Produce(string topic, Message<string, byte[]> message, Action<DeliveryReport<string, byte[]>>? deliveryHandler = null)
    {
        Interlocked.Increment(ref _produceCalls);
        if (OnProduce(message) is { } refusal)
        {
            throw refusal;
        }

        _pending.Enqueue((message, deliveryHandler!));
    }

    public void Produce(TopicPartition topicPartition, Message<string, byte[]> message, Action<DeliveryReport<string, byte[]>>? deliveryHandler = null) =>
        Produce(topicPartition.Topic, message, deliveryHandler);

    public Task<DeliveryResult<string, byte[]>> ProduceAsync(string topic, Message<string, byte[]> message, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<DeliveryResult<string, byte[]>> ProduceAsync(TopicPartition topicPartition, Message<string, byte[]> message, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public int Poll(TimeSpan timeout) => 0;

    public int Flush(TimeSpan timeout) => _pending.Count;

    public void Flush(CancellationToken cancellationToken = default)
    {
    }

    public void InitTransactions(TimeSpan timeout) => throw new NotSupportedException();

    public void BeginTransaction() => throw new NotSupportedException();

    public void CommitTransaction(TimeSpan timeout) => throw new NotSupportedException();

    public void CommitTransaction() => throw new NotSupportedException();

    public void AbortTransaction(TimeSpan timeout) => throw new NotSupportedException();

    public void AbortTransaction() => throw new NotSupportedException();

    public void SendOffsetsToTransaction(IEnumerable<TopicPartitionOffset> offsets, IConsumerGroupMetadata groupMetadata, TimeSpan timeout) => throw new NotSupportedException();

    public Handle Handle => throw new NotSupportedException();

    public string Name => "scripted";

    public int AddBrokers(string brokers) => 0;

    public void SetSaslCredentials(string username, string password)
    {
    }

    public void Dispose()
    {
    }
}
