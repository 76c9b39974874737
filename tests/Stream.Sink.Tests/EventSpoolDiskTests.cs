using System.Text;
using Microsoft.Extensions.Time.Testing;
using Streaming.Core;
using Streaming.Testing;

namespace Streaming.Sink.Tests;

/// <summary>
/// The spool under the default <c>Fsync=Interval</c> and on a disk that fills up (a real 64 KiB tmpfs, mounted by the test
/// as root): what a batch write makes durable, and what a failed one leaves behind (issue 24).
/// </summary>
public sealed class EventSpoolDiskTests : IDisposable
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

    private static SpoolRecord Record(int i) =>
        new("cam-1", Encoding.UTF8.GetBytes($"{{\"n\":{i},\"pad\":\"{new string('x', 200)}\"}}"), EventKind.TrackStarted, 1_700_000_000_000 + i);

    private static int Number(SpoolRecord r) => int.Parse(Encoding.UTF8.GetString(r.Value).Split(',')[0][5..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads every record; settles them unless <paramref name="settle"/> is false (a second spool over live files must not delete them).</summary>
    private static List<int> ReadAll(EventSpool spool, bool settle = true)
    {
        var seen = new List<int>();
        while (spool.TryPeek(out var r, out var token))
        {
            seen.Add(Number(r));
            spool.Advance();
            if (settle)
            {
                spool.Settle(token);
            }
        }

        return seen;
    }

    [Fact]
    public void Under_the_default_fsync_interval_a_record_is_in_the_spool_once_its_batch_is_written_and_not_before()
    {
        var time = new FakeTimeProvider();
        var options = new SpoolOptions { Directory = _dir };
        Assert.Equal(SpoolFsync.Interval, options.Fsync);
        var spool = new EventSpool(options, _log, time);
        for (var i = 0; i < 50; i++)
        {
            Assert.True(spool.TryAppend(Record(i)));
        }

        // Not written yet: not readable (not in the spool for the producer), and not in the file.
        Assert.False(spool.TryPeek(out _, out _));
        Assert.Equal(0, new FileInfo(Directory.GetFiles(_dir, "*.spool").Single()).Length);

        spool.Flush();
        for (var i = 50; i < 60; i++)
        {
            spool.TryAppend(Record(i)); // the next batch, not written: lost on kill -9, never accepted
        }

        Assert.True(spool.NeedsFsync);
        time.Advance(TimeSpan.FromMilliseconds(options.FsyncIntervalMs));
        spool.SyncIfDue(); // the interval's fsync, on a pool thread
        Assert.False(spool.NeedsFsync);

        // "kill -9": the spool is never disposed. A new process finds exactly the written batch, in order.
        using var reopened = new EventSpool(options, new ListLogger<EventSpool>(), time);
        Assert.Equal(Enumerable.Range(0, 50), ReadAll(reopened, settle: false));
    }

    [Fact]
    public async Task On_a_full_disk_a_failed_write_is_undone_whole_and_the_spool_takes_records_again_when_space_returns()
    {
        await using var disk = await TmpfsMount.CreateAsync("64k");
        var options = new SpoolOptions { Directory = disk.Path };
        using var spool = new EventSpool(options, _log);

        // Batches of 20 records (about 5 KB) until the disk refuses one.
        var written = 0;
        var next = 0;
        IOException? failure = null;
        while (failure is null && next < 10_000)
        {
            for (var i = 0; i < 20; i++)
            {
                Assert.True(spool.TryAppend(Record(next++)));
            }

            try
            {
                spool.Flush();
                written = next;
            }
            catch (IOException ex)
            {
                failure = ex;
            }
        }

        Assert.NotNull(failure);
        Assert.Contains("No space left on device", failure.Message, StringComparison.Ordinal);
        Assert.Equal(next - written, spool.RolledBack);
        Assert.Equal(written, spool.Depth);
        var file = Directory.GetFiles(disk.Path, "*.spool").Single();
        Assert.Equal(spool.Bytes, new FileInfo(file).Length); // cut back: no torn tail

        // Another process would replay exactly what was written, nothing of the failed batch.
        using (var other = new EventSpool(options, new ListLogger<EventSpool>()))
        {
            Assert.Equal(Enumerable.Range(0, written), ReadAll(other, settle: false));
        }

        // Delivered and settled: the segment is emptied in place, the space comes back, the refused batch goes in.
        Assert.Equal(Enumerable.Range(0, written), ReadAll(spool));
        Assert.Equal(0, new FileInfo(file).Length);
        for (var i = written; i < next; i++)
        {
            Assert.True(spool.TryAppend(Record(i)));
        }

        spool.Flush();
        Assert.Equal(Enumerable.Range(written, next - written), ReadAll(spool));
    }
}
