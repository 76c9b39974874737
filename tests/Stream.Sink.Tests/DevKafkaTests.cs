using Confluent.Kafka;
using Streaming.DevServices;
using Streaming.Testing;

namespace Streaming.Sink.Tests;

public sealed class DevKafkaTests
{
    [Fact]
    public async Task Dev_kafka_prints_its_bootstrap_first_serves_clients_and_stops_on_sigterm()
    {
        var kafka = new KafkaMockFixture { Brokers = 3 };
        await kafka.InitializeAsync();
        try
        {
            Assert.Equal(3, kafka.BootstrapServers.Split(',').Length);
            Assert.All(kafka.BootstrapServers.Split(','), b => Assert.StartsWith("127.0.0.1:", b, StringComparison.Ordinal));

            // A plain client in this process sees the 3 brokers and the default topic.
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = kafka.BootstrapServers }).Build();
            var metadata = admin.GetMetadata("stream.events", TimeSpan.FromSeconds(10));
            Assert.Equal(3, metadata.Brokers.Count);
            Assert.True(metadata.Topics.Single().Partitions.Count > 1);

            Assert.Equal(0, await kafka.TerminateAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await kafka.DisposeAsync();
        }
    }

    [Fact]
    public async Task Dev_kafka_paused_and_resumed_a_hundred_times_still_takes_events()
    {
        // The mock's thread used to end the whole cluster (listener closed, process alive) when a SIGCONT handler
        // interrupted its poll(): about once in twenty pauses. Each resume here is a chance for that.
        var kafka = new KafkaMockFixture { Brokers = 1 };
        await kafka.InitializeAsync();
        try
        {
            for (var i = 0; i < 100; i++)
            {
                // The process itself, not the network: this is the one test that must SIGSTOP the broker.
                await kafka.FreezeProcessAsync();
                await Task.Delay(20);
                await kafka.ThawProcessAsync();
                await Task.Delay(20); // back in poll() before the next pause
            }

            using var producer = new ProducerBuilder<string, string>(new ProducerConfig
            {
                BootstrapServers = kafka.BootstrapServers,
                MessageTimeoutMs = 10_000,
            }).Build();
            var result = await producer.ProduceAsync("stream.events", new Message<string, string> { Key = "cam", Value = "{}" });
            Assert.True(result.Status == PersistenceStatus.Persisted, kafka.Describe());
        }
        catch (ProduceException<string, string> ex)
        {
            Assert.Fail($"the resumed broker took no event ({ex.Error.Reason}): {kafka.Describe()}");
        }
        finally
        {
            await kafka.DisposeAsync();
        }
    }

    [Fact]
    public async Task In_process_dev_cluster_takes_events_and_creates_topics()
    {
        using var cluster = await EmbeddedKafkaCluster.StartAsync(1, ["alpha"]);
        Assert.True(cluster.EnsureTopic("beta") > 1);
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build();
        var result = await producer.ProduceAsync("alpha", new Message<string, string> { Key = "cam", Value = "{}" });
        Assert.Equal(PersistenceStatus.Persisted, result.Status);
    }
}
