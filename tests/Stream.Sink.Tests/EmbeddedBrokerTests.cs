namespace Streaming.Sink.Tests;

/// <summary>Issue 25, part 1: the Sink ships no broker; "embedded" is the host's to offer (Stream.DevServices).</summary>
public sealed class EmbeddedBrokerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stream-embedded-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_sink_told_to_use_the_embedded_broker_in_a_process_that_offers_none_refuses_with_one_line_naming_the_fix()
    {
        var options = SinkHarness.DefaultOptions(KafkaSinkOptions.Embedded, "127.0.0.1:1", Path.Combine(_dir, "spool"));
        await using var sink = new SinkHarness(options);
        await sink.Service.StartAsync(CancellationToken.None);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => sink.Service.BootstrapServers.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain('\n', refused.Message);
        Assert.Contains("Sink:Kafka:BootstrapServers is \"embedded\"", refused.Message, StringComparison.Ordinal);
        Assert.Contains("name your Kafka brokers", refused.Message, StringComparison.Ordinal);
    }
}
