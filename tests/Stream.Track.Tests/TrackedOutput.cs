using System.Threading.Channels;
using Streaming.Core;

namespace Streaming.Track.Tests;

/// <summary>The end of a test that feeds a real <see cref="TrackService"/>: everything it emits, then its producer and its stop.</summary>
internal static class TrackedOutput
{
    /// <summary>Reads <paramref name="output"/> to its completion (disposing every frame), awaits the producer and stops the service: the events in order.</summary>
    public static async Task<List<PipelineEvent>> EventsAsync(ChannelReader<TrackedFrame> output, Task producer, TrackService service)
    {
        var events = new List<PipelineEvent>();
        await foreach (var tracked in output.ReadAllAsync())
        {
            events.AddRange(tracked.Events);
            tracked.Dispose();
        }

        await producer;
        await service.StopAsync(CancellationToken.None);
        return events;
    }
}
