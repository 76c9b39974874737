using System.Threading.Channels;
using Streaming.Core;
using Streaming.Sink;

namespace Streaming.Hosting.Web;

/// <summary>
/// The latest events for the web view: the last <see cref="Capacity"/> in memory (for the feed, its filters and the
/// snapshot of an event), and a live copy for each server-sent-events subscriber. Events are turned into the same
/// <see cref="EventMessage"/> as Kafka's. A subscriber that reads too slowly loses its oldest events, never the
/// pipeline's time: publishing never waits.
/// </summary>
internal sealed class EventFeed
{
    public const int Capacity = 500;
    private const int PerSubscriber = 256;

    private readonly Lock _gate = new();
    private readonly EventMessage[] _ring = new EventMessage[Capacity];
    private readonly List<Channel<EventMessage>> _subscribers = [];
    private readonly string _framePrefix;
    private readonly string? _worker;
    private int _next;
    private int _count;

    public EventFeed(string framePrefix, string? worker = null)
    {
        _framePrefix = framePrefix;
        _worker = worker;
    }

    /// <summary>Called on the tap's thread with each tracked frame's events (usually none).</summary>
    public void Publish(IReadOnlyList<PipelineEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var e in events)
            {
                Keep(EventMessage.From(e, _framePrefix, _worker));
            }
        }
    }

    /// <summary>Called by the status tap with each camera status change, as the camera_status event Kafka gets (same id, same worker).</summary>
    public void Publish(CameraStatusChange change)
    {
        var message = EventMessage.From(change, _worker);
        lock (_gate)
        {
            Keep(message);
        }
    }

    private void Keep(EventMessage message)
    {
        _ring[_next] = message;
        _next = (_next + 1) % Capacity;
        _count = Math.Min(_count + 1, Capacity);
        foreach (var s in _subscribers)
        {
            s.Writer.TryWrite(message);
        }
    }

    /// <summary>The kept events, newest first, optionally only one camera's and/or one kind's (e.g. "zone_entered").</summary>
    public IReadOnlyList<EventMessage> Recent(string? cameraId = null, string? kind = null, int limit = Capacity)
    {
        var list = new List<EventMessage>();
        lock (_gate)
        {
            for (var i = 1; i <= _count && list.Count < limit; i++)
            {
                var m = _ring[(_next - i + Capacity) % Capacity];
                if ((string.IsNullOrEmpty(cameraId) || m.CameraId == cameraId) && (string.IsNullOrEmpty(kind) || m.Kind == kind))
                {
                    list.Add(m);
                }
            }
        }

        return list;
    }

    public EventMessage? Find(Guid id)
    {
        lock (_gate)
        {
            for (var i = 1; i <= _count; i++)
            {
                var m = _ring[(_next - i + Capacity) % Capacity];
                if (m.Id == id)
                {
                    return m;
                }
            }
        }

        return null;
    }

    /// <summary>A live subscription: every event published from now on, until disposed.</summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<EventMessage>(new BoundedChannelOptions(PerSubscriber)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = true, // written only under _gate
        });
        lock (_gate)
        {
            _subscribers.Add(channel);
        }

        return new Subscription(this, channel);
    }

    public int Subscribers
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    public sealed class Subscription(EventFeed feed, Channel<EventMessage> channel) : IDisposable
    {
        public ChannelReader<EventMessage> Reader => channel.Reader;

        public void Dispose()
        {
            lock (feed._gate)
            {
                feed._subscribers.Remove(channel);
            }

            channel.Writer.TryComplete();
        }
    }
}
