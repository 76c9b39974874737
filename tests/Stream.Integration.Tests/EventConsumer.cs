using System.Text;
using Confluent.Kafka;
using Streaming.Sink;

namespace Streaming.Integration.Tests;

/// <summary>One consumed Kafka record: key, partition offset order and the parsed event (plus the raw text for secret greps).</summary>
internal sealed record ConsumedEvent(string Key, int Partition, long Offset, EventMessage Event, string Raw);

/// <summary>Reads a whole topic with a real Confluent.Kafka consumer (its own group, from the earliest offset).</summary>
internal static class EventConsumer
{
    /// <summary>
    /// Consumes <paramref name="topic"/> from the beginning until no record arrived for <paramref name="idle"/> (after at
    /// least <paramref name="atLeast"/> records) or <paramref name="timeout"/> passed.
    /// </summary>
    public static Task<List<ConsumedEvent>> ConsumeAllAsync(string bootstrap, string topic, long atLeast, TimeSpan idle, TimeSpan timeout) =>
        Task.Run(() =>
        {
            var config = new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = "it-" + Guid.NewGuid().ToString("N"),
                AutoOffsetReset = AutoOffsetReset.Earliest,
                EnableAutoCommit = false,
                EnablePartitionEof = false,
                TopicMetadataRefreshIntervalMs = 1000,
            };
            using var consumer = new ConsumerBuilder<string, byte[]>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
            consumer.Subscribe(topic);
            var result = new List<ConsumedEvent>();
            var started = DateTime.UtcNow;
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

            consumer.Close();
            return result;
        });
}
