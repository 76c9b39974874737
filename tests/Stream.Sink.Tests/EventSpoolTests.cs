using System.Text;
using Microsoft.Extensions.Logging;
using Streaming.Core;

namespace Streaming.Sink.Tests;

public sealed class EventSpoolTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "stream-spool-" + Guid.NewGuid().ToString("N"));
    private readonly ListLogger<EventSpool> _log = new();

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private SpoolOptions Options(long segmentBytes = 16 << 20, long maxBytes = 1 << 30) =>
        new() { Directory = _dir, SegmentBytes = segmentBytes, MaxBytes = maxBytes, Fsync = SpoolFsync.Always };

    private static SpoolRecord Record(int i, string camera = "cam-1") =>
        new(camera, Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), EventKind.TrackStarted, 1_700_000_000_000 + i);

    private static List<int> ReadAll(EventSpool spool, bool settle = true)
    {
        var seen = new List<int>();
        while (spool.TryPeek(out var r, out var token))
        {
            seen.Add(int.Parse(Encoding.UTF8.GetString(r.Value)[5..^1], System.Globalization.CultureInfo.InvariantCulture));
            spool.Advance();
            if (settle)
            {
                spool.Settle(token);
            }
        }

        return seen;
    }

    [Fact]
    public void Spool_replays_in_order_across_a_restart()
    {
        // Small segments so that the records span several files.
        using (var spool = new EventSpool(Options(segmentBytes: 4096), _log))
        {
            for (var i = 0; i < 500; i++)
            {
                Assert.True(spool.TryAppend(Record(i)));
            }

            Assert.True(spool.SegmentCount > 1);

            // Read 100 of them without their delivery being settled, then "crash" (no rewrite, no settle).
            for (var i = 0; i < 100; i++)
            {
                Assert.True(spool.TryPeek(out _, out _));
                spool.Advance();
            }
        }

        using var reopened = new EventSpool(Options(segmentBytes: 4096), _log);
        var replayed = ReadAll(reopened);

        // At-least-once: records whose delivery was not settled come again, nothing is lost, order holds.
        Assert.Equal(499, replayed[^1]);
        var firstReplayed = replayed[0];
        Assert.True(firstReplayed <= 100);
        Assert.Equal(Enumerable.Range(firstReplayed, 500 - firstReplayed), replayed);
        Assert.Contains(_log.Entries, e => e.Message.Contains("undelivered events", StringComparison.Ordinal));
    }

    [Fact]
    public void Settled_segments_are_deleted_and_nothing_is_replayed_after_a_clean_drain()
    {
        using (var spool = new EventSpool(Options(segmentBytes: 4096), _log))
        {
            for (var i = 0; i < 300; i++)
            {
                spool.TryAppend(Record(i));
            }

            Assert.Equal(Enumerable.Range(0, 300), ReadAll(spool));
            Assert.Equal(0, spool.Depth);
            Assert.Equal(0, spool.Bytes);

            // The full segments are deleted; the one being written is emptied in place (kept open for the next append).
            Assert.Equal(1, spool.SegmentCount);
            Assert.Equal(0, new FileInfo(Directory.GetFiles(_dir, "*.spool").Single()).Length);
            spool.TryAppend(Record(300));
            Assert.Equal([300], ReadAll(spool));
        }

        Assert.Empty(Directory.GetFiles(_dir, "*.spool"));
        using var reopened = new EventSpool(Options(), _log);
        Assert.False(reopened.HasUnread);
    }

    [Fact]
    public void Truncated_tail_record_is_detected_skipped_and_logged()
    {
        using (var spool = new EventSpool(Options(), _log))
        {
            for (var i = 0; i < 10; i++)
            {
                spool.TryAppend(Record(i));
            }
        }

        var file = Directory.GetFiles(_dir, "*.spool").Single();
        var length = new FileInfo(file).Length;
        using (var fs = new FileStream(file, FileMode.Open))
        {
            fs.SetLength(length - 3); // a torn last write
        }

        using var reopened = new EventSpool(Options(), _log);
        Assert.Equal(Enumerable.Range(0, 9), ReadAll(reopened));
        var error = Assert.Single(_log.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("truncated record", error.Message, StringComparison.Ordinal);
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_record_is_detected_by_its_checksum_and_the_rest_of_its_segment_skipped()
    {
        using (var spool = new EventSpool(Options(), _log))
        {
            for (var i = 0; i < 10; i++)
            {
                spool.TryAppend(Record(i));
            }
        }

        var file = Directory.GetFiles(_dir, "*.spool").Single();
        var bytes = File.ReadAllBytes(file);
        var recordLength = bytes.Length / 10;
        bytes[(recordLength * 7) + 20] ^= 0xFF; // flip a byte inside record 7's payload
        File.WriteAllBytes(file, bytes);

        using var reopened = new EventSpool(Options(), _log);
        Assert.Equal(Enumerable.Range(0, 7), ReadAll(reopened));
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("checksum mismatch", StringComparison.Ordinal));
    }

    [Fact]
    public void Rewrite_puts_in_flight_events_before_unread_ones_for_the_next_start()
    {
        using (var spool = new EventSpool(Options(segmentBytes: 4096), _log))
        {
            for (var i = 0; i < 200; i++)
            {
                spool.TryAppend(Record(i));
            }

            // 50 read and in flight (not acknowledged), 150 unread; plus 3 direct events that were in flight before them.
            for (var i = 0; i < 50; i++)
            {
                spool.TryPeek(out _, out _);
                spool.Advance();
            }

            var inFlight = new List<SpoolRecord> { Record(-3), Record(-2), Record(-1) };
            inFlight.AddRange(Enumerable.Range(0, 50).Select(i => Record(i)));
            spool.Rewrite(inFlight);
        }

        using var reopened = new EventSpool(Options(), _log);
        Assert.Equal(Enumerable.Range(-3, 203), ReadAll(reopened));
    }

    [Fact]
    public void A_full_spool_refuses_records_until_delivered_ones_free_space()
    {
        using var spool = new EventSpool(Options(segmentBytes: 4096, maxBytes: 1 << 20), _log);
        var big = new SpoolRecord("cam-1", new byte[3000], EventKind.Counts, 0);
        var accepted = 0;
        while (spool.TryAppend(big))
        {
            accepted++;
        }

        Assert.True(accepted > 300);
        Assert.True(spool.Bytes <= 1 << 20);
        for (var i = 0; i < 10; i++)
        {
            Assert.True(spool.TryPeek(out _, out var token));
            spool.Advance();
            spool.Settle(token);
        }

        // The first segment (one record of 3 KB per 4 KB segment) has been settled and deleted.
        Assert.True(spool.TryAppend(big));
    }
}
