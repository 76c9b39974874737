using System.Text;
using Confluent.Kafka;
using Streaming.Sink;

namespace Streaming.Integration.Tests;

/// <summary>One consumed Kafka record: key, partition offset order and the parsed event (plus the raw text for secret greps).</summary>
internal sealed record ConsumedEvent(string Key, int Partition, long Offset, EventMessage Event, string Raw);

/// <summary>
/// Reads a whole topic with a real Confluent.Kafka consumer: every partition assigned directly from its earliest offset.
/// No consumer group: a test reads what the pipeline wrote, and a group join adds a rebalance the mock cluster
/// sometimes did not finish within the read's 30 s (CI, MotionGateTests: 0 of 18 acknowledged events read).
/// </summary>
internal static class EventConsumer
{
    /// <summary>
    /// Consumes <paramref name="topic"/> from the beginning until no record arrived for <paramref name="idle"/> (after at
    /// least <paramref name="atLeast"/> records) or <paramref name="timeout"/> passed.
    /// </summary>
    public static Task<List<ConsumedEvent>> ConsumeAllAsync(string bootstrap, string topic, long atLeast, TimeSpan idle, TimeSpan timeout) =>
        Task.Run(() =>
        {
            var started = DateTime.UtcNow;
            var partitions = Partitions(bootstrap, topic, timeout);
            var result = new List<ConsumedEvent>();
            if (partitions.Count == 0)
            {
                return result;
            }

            var config = new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = "it-unused", // required by the client; never joined (Assign, no commits)
                EnableAutoCommit = false,
                EnablePartitionEof = false,
            };
            using var consumer = new ConsumerBuilder<string, byte[]>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
            consumer.Assign(partitions.Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
            var last = DateTime.UtcNow;
            while (DateTime.UtcNow - started < timeout)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(250));
                if (r?.Message is { } m)
                {
                    var raw = Encoding.UTF8.GetString(m.Value);
                    result.Add(new ConsumedEvent(m.Key, r.Partition.Value, r.Offset.Value, EventMessage.Parse(m.Value)
                        ?? throw new InvalidOperationException("unparsable event: " + raw), raw));
                    last = DateTime.UtcNow;
                }
                else if (result.Count >= atLeast && DateTime.UtcNow - last > idle)
                {
                    break;
                }
            }

            consumer.Unassign();
            return result;
        });

    /// <summary>The topic's partitions from the cluster's metadata, asked again until it names them or <paramref name="timeout"/> passed (none: no such topic).</summary>
    private static List<Partition> Partitions(string bootstrap, string topic, TimeSpan timeout)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        var started = DateTime.UtcNow;
        while (true)
        {
            try
            {
                var topicMetadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(5)).Topics.SingleOrDefault(t => t.Topic == topic);
                if (topicMetadata is { Error.IsError: false, Partitions.Count: > 0 })
                {
                    return [.. topicMetadata.Partitions.Select(p => new Partition(p.PartitionId))];
                }
            }
            catch (KafkaException)
            {
                // no broker answered in time: ask again below
            }

            if (DateTime.UtcNow - started > timeout / 2)
            {
                return [];
            }

            Thread.Sleep(250);
        }
    }
}
