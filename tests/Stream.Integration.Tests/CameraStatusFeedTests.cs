using System.Text;
using System.Text.Json;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>Issue 13: camera_status events reach the page's server-sent events, as the same JSON Kafka gets.</summary>
[Collection(PipelineCollection.Name)]
public sealed class CameraStatusFeedTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Disabling_a_camera_sends_its_camera_status_event_to_the_event_stream_with_the_same_JSON_as_on_Kafka()
    {
        await using var kafka = new KafkaMockFixture();
        await kafka.InitializeAsync();
        var topic = "status-" + Guid.NewGuid().ToString("N")[..8];
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-a", maxFps: 5)),
            ["Sink:Kafka:BootstrapServers=" + kafka.BootstrapServers, "Sink:Kafka:Topic=" + topic], output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(async () => (await run.CameraAsync("cam-a")).State == "Streaming", TimeSpan.FromSeconds(30), "cam-a streaming");

        using var sse = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{run.HttpPort}"), Timeout = Timeout.InfiniteTimeSpan };
        using var response = await sse.GetAsync("/api/events/stream?kind=camera_status", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);

        using (var disable = await run.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/cameras/cam-a/disable")))
        {
            Assert.True(disable.IsSuccessStatusCode, await disable.Content.ReadAsStringAsync());
        }

        // The stream's next camera_status event: the camera stopped.
        string? data = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (data is null)
        {
            var line = await reader.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("the event stream ended");
            if (line.StartsWith("data: ", StringComparison.Ordinal) && line.Contains("\"stopped\"", StringComparison.Ordinal))
            {
                data = line["data: ".Length..];
            }
        }

        using var sent = JsonDocument.Parse(data);
        Assert.Equal("camera_status", sent.RootElement.GetProperty("kind").GetString());
        Assert.Equal("cam-a", sent.RootElement.GetProperty("camera_id").GetString());
        var id = sent.RootElement.GetProperty("id").GetString();

        // Kafka got the same event: same id, same JSON.
        List<ConsumedEvent> consumed = [];
        await run.WaitUntilAsync(async () =>
        {
            consumed = await EventConsumer.ConsumeAllAsync(kafka.BootstrapServers, topic, 1, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15));
            return consumed.Any(c => c.Event.Id.ToString() == id);
        }, TimeSpan.FromSeconds(40), "the camera_status event on Kafka");
        var onKafka = consumed.Single(c => c.Event.Id.ToString() == id);
        Assert.Equal(data, onKafka.Raw);
    }
}
