using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Time.Testing;
using Streaming.Core;

namespace Streaming.Sink.Tests;

/// <summary>
/// The publisher's states without a broker (issue 24): its producer comes from a factory, here one the test scripts, and
/// its clock is a <see cref="FakeTimeProvider"/>, so backoff and the close deadline take milliseconds, not seconds. The
/// spool under it is the real one (default Fsync=Interval) in a temporary directory.
/// </summary>
public sealed class KafkaPublisherStateTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "stream-pub-" + Guid.NewGuid().ToString("N"));
    private readonly StandaloneMeterFactory _meters = new();
    private readonly ListLogger<KafkaEventPublisher> _log = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ScriptedProducer _producer = new();
    private KafkaEventPublisher? _publisher;
    private SinkMetrics _metrics = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_publisher is not null)
        {
            await CloseByTheClockAsync(_publisher);
            await _publisher.DisposeAsync();
        }

        _meters.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private KafkaEventPublisher Start(int maxDeliveryAttempts = 5)
    {
        _metrics = new SinkMetrics(_meters);
        var kafka = new KafkaSinkOptions { BootstrapServers = "scripted:9092", Topic = "t", MaxDeliveryAttempts = maxDeliveryAttempts, FlushTimeoutSeconds = 10 };
        _publisher = new KafkaEventPublisher(kafka, OpenSpool(), kafka.BootstrapServers, _producer, _metrics, _log.Factory, _time);
        return _publisher;
    }

    /// <summary>The real spool (default Fsync=Interval) in the test's directory, on the fake clock.</summary>
    private EventSpool OpenSpool() => new EventSpoolFactory(new SpoolOptions { Directory = _dir }, _log.Factory, _time).Open();

    private static byte[] Event(int i) => Encoding.UTF8.GetBytes($"{{\"n\":{i}}}");

    private static async Task PublishAsync(KafkaEventPublisher publisher, int from, int count)
    {
        for (var i = from; i < from + count; i++)
        {
            await publisher.PublishAsync("cam-1", Event(i), EventKind.TrackStarted, 0, CancellationToken.None);
        }
    }

    /// <summary>
    /// Closes <paramref name="publisher"/>, moving the fake clock on in 100 ms steps until the close is over (its deadline is
    /// armed by the loop when it takes the close, so the clock moves on after that); returns the events left and how much
    /// clock time the close took.
    /// </summary>
    private async Task<(long Left, TimeSpan Took)> CloseByTheClockAsync(KafkaEventPublisher publisher, int timeoutSeconds = 10)
    {
        var close = publisher.CloseAsync(TimeSpan.FromSeconds(timeoutSeconds), CancellationToken.None);
        await Task.Delay(50);
        var took = TimeSpan.Zero;
        while (!close.IsCompleted && took < TimeSpan.FromMinutes(5))
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            took += TimeSpan.FromMilliseconds(100);
            await Task.WhenAny(close, Task.Delay(5));
        }

        return (await close, took);
    }

    /// <summary>The loop runs on its own: waits (real time, bounded) until it got there.</summary>
    private static async Task Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException(what);
            }

            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Waiting_while_the_producer_queue_is_full_events_stay_in_the_spool_and_go_out_as_acknowledgements_free_room()
    {
        _producer.OnProduce = _ => _producer.Pending >= 3 ? new KafkaException(ErrorCode.Local_QueueFull) : null;
        var publisher = Start();
        await PublishAsync(publisher, 0, 10);
        await Until(() => _metrics.Accepted == 10 && publisher.SpoolDepth == 7, "10 accepted, 7 of them waiting in the spool");
        Assert.Equal(3, _producer.Pending);

        while (_metrics.Delivered < 10)
        {
            _producer.Acknowledge();
            await Task.Delay(5);
        }

        Assert.Equal(0, publisher.SpoolDepth);
        Assert.Equal(0, await publisher.CloseAsync(TimeSpan.FromSeconds(10), CancellationToken.None));
    }

    [Fact]
    public async Task Refused_for_good_an_event_goes_to_the_dead_letter_file_and_the_next_ones_are_delivered()
    {
        _producer.OnProduce = m => Encoding.UTF8.GetString(m.Value) == "{\"n\":1}" ? new KafkaException(ErrorCode.MsgSizeTooLarge) : null;
        var publisher = Start();
        await PublishAsync(publisher, 0, 3);
        await Until(() => _producer.Pending == 2, "the other two produced");
        _producer.Acknowledge();
        await Until(() => _metrics.Delivered == 2, "two delivered");

        Assert.Equal(1, _metrics.Failed);
        var line = Assert.Single(File.ReadAllLines(Path.Combine(_dir, "dead-letter.jsonl")));
        Assert.Contains("\"n\":1", line, StringComparison.Ordinal);
        Assert.Equal(0, await publisher.CloseAsync(TimeSpan.FromSeconds(10), CancellationToken.None));
    }

    [Fact]
    public async Task After_a_transient_refusal_the_publisher_backs_off_one_second_by_its_clock_then_produces_again()
    {
        var refusals = 1;
        _producer.OnProduce = _ => Interlocked.Decrement(ref refusals) >= 0 ? new KafkaException(ErrorCode.Local_Transport) : null;
        var publisher = Start();
        await PublishAsync(publisher, 0, 2);
        await Until(() => _producer.ProduceCalls == 1 && _metrics.Accepted == 2, "the first attempt refused");

        // Backing off: nothing more is produced while the fake clock stands still.
        await Task.Delay(200);
        Assert.Equal(1, _producer.ProduceCalls);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        await Task.Delay(100);
        Assert.Equal(1, _producer.ProduceCalls);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await Until(() => _producer.Pending == 2, "both produced after the backoff");
        _producer.Acknowledge();
        await Until(() => _metrics.Delivered == 2, "both delivered");
    }

    [Fact]
    public async Task A_fatal_producer_error_stops_producing_and_keeps_every_unacknowledged_event_in_the_spool()
    {
        var publisher = Start();
        await PublishAsync(publisher, 0, 3);
        await Until(() => _producer.Pending == 3, "three produced");
        _producer.Report(1, new Error(ErrorCode.Local_Fatal, "fenced", isFatal: true));
        await Until(() => _log.Entries.Any(e => e.Message.Contains("fatal", StringComparison.Ordinal)), "the fatal error logged");

        await PublishAsync(publisher, 3, 2);
        await Until(() => _metrics.Accepted == 5, "the later two accepted");
        _time.Advance(TimeSpan.FromSeconds(5));
        await Task.Delay(100);
        Assert.Equal(3, _producer.ProduceCalls); // nothing produced since

        _producer.Acknowledge(); // the two still in the producer's hands are acknowledged after all
        await Until(() => _metrics.Delivered == 2, "two delivered");

        // The fatal one and the two never produced are left for the next start.
        Assert.Equal(3, (await CloseByTheClockAsync(publisher)).Left);
    }

    [Fact]
    public async Task Close_waits_for_acknowledgements_until_its_deadline_by_the_clock_then_leaves_the_rest_in_the_spool()
    {
        var publisher = Start();
        await PublishAsync(publisher, 0, 4);
        await Until(() => _producer.Pending == 4, "four produced");
        _producer.Acknowledge(1);
        await Until(() => _metrics.Delivered == 1, "one delivered");

        // Not a moment before its deadline by the clock (however long it takes in real time), and not much after.
        var (left, took) = await CloseByTheClockAsync(publisher, timeoutSeconds: 10);
        Assert.Equal(3, left);
        Assert.InRange(took.TotalSeconds, 10, 12);

        // The next start replays exactly those three.
        var producer = new ScriptedProducer();
        var next = new KafkaEventPublisher(new KafkaSinkOptions { BootstrapServers = "scripted:9092", Topic = "t" }, OpenSpool(),
            "scripted:9092", producer, new SinkMetrics(_meters), _log.Factory, _time);
        await Until(() => producer.Pending == 3, "the three replayed");
        producer.Acknowledge();
        Assert.Equal(0, (await CloseByTheClockAsync(next)).Left);
        await next.DisposeAsync();
    }
}
