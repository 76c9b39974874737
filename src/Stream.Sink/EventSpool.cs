using System.Buffers;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Streaming.Sink;

/// <summary>
/// A durable, append-only FIFO of events on disk: the Kafka publisher's write-ahead log (every accepted event is appended
/// here before it is produced, and settled once acknowledged).
/// Segment files <c>NNNNNNNNNNNNNNNNNNNN.spool</c> hold records in the <see cref="SpoolRecordFormat"/> (length, CRC-32, payload).
/// A segment is deleted once every record in it has been read and its delivery settled (acknowledged or dead-lettered),
/// so after a crash a segment may be replayed again: delivery is at-least-once and consumers dedupe by event id.
/// A truncated or corrupt record (torn write at a crash) ends its segment: it is logged and the rest of that segment skipped.
/// Records appended while the reader is caught up are also kept in memory (a bounded prefix of the unread records), so
/// that handing them to the producer reads nothing back from disk; a backlog beyond that bound is read from the files.
/// Not thread-safe: the caller serialises access.
/// <para>
/// This file holds the queue (append, peek, advance, settle, flush, rewrite); the segment files (start, close and fsync,
/// delete or empty in place, scan at the start) are in <c>EventSpool.Segments.cs</c>, the record format in <see cref="SpoolRecordFormat"/>.
/// </para>
/// </summary>
public sealed partial class EventSpool : IDisposable
{
    private const string Extension = ".spool";
    private const int MaxCachedRecords = 16_384;
    private const int WriteBufferBytes = 64 * 1024;
    private const long MaxCachedBytes = 16L << 20;

    private readonly SpoolOptions _options;
    private readonly ILogger _logger;
    private readonly List<Segment> _segments = [];
    private readonly TimeProvider _time;
    private readonly Queue<(SpoolRecord Record, int Length)> _cache = new();
    private long _cachedBytes;
    private long _lastId;
    private Task _backgroundSync = Task.CompletedTask;
    private bool _peekedFromCache;
    private Segment? _readHandleSegment;
    private SafeFileHandle? _readHandle;
    private Segment? _writeSegment;
    private FileStream? _writer;
    private long _lastFsync;
    private bool _dirty;
    private long _depth;
    private long _bytes;
    private int _readIndex;
    private long _readOffset;
    private (SpoolRecord Record, int Length)? _peeked;
    private bool _disposed;

    // Records appended since the last write to the OS (the write segment's tail): the spool's own buffer, so that a write
    // that fails (a full disk) can be undone exactly: the file is cut back, the counts restored, the records given back.
    private readonly ArrayBufferWriter<byte> _pending = new(WriteBufferBytes);
    private int _pendingRecords;
    private int _pendingCached;

    public EventSpool(SpoolOptions options, ILogger logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _time = time ?? TimeProvider.System;
        _lastFsync = _time.GetTimestamp();
        _options = options;
        _logger = logger;
        Directory = Path.GetFullPath(options.Directory);
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var probe = Path.Combine(Directory, ".write-test");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Sink:Spool:Directory '{Directory}' cannot be used ({ex.Message}): point it at a writable directory.", ex);
        }

        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + Extension).Order(StringComparer.Ordinal))
        {
            if (!long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                continue;
            }

            var segment = new Segment(id, path);
            Scan(segment);
            if (segment.Records == 0)
            {
                File.Delete(path);
                continue;
            }

            _segments.Add(segment);
            _depth += segment.Records;
            _bytes += new FileInfo(path).Length;
        }

        if (_depth > 0)
        {
            _logger.SpoolRecovered(_depth, _segments.Count, Directory);
        }
    }

    public string Directory { get; }

    /// <summary>Records appended and not yet read back.</summary>
    public long Depth => _depth;

    public bool HasUnread => _depth > 0;

    /// <summary>Bytes on disk.</summary>
    public long Bytes => _bytes;

    public int SegmentCount => _segments.Count;

    /// <summary>
    /// How many of the most recently appended records the last failed write took back (see <see cref="Flush"/>): they are
    /// not in the spool, and the caller still holds them.
    /// </summary>
    public int RolledBack { get; private set; }

    /// <summary>When records reach the disk (<see cref="SpoolOptions.Fsync"/>).</summary>
    public SpoolFsync Fsync => _options.Fsync;

    /// <summary>The Interval policy's period (<see cref="SpoolOptions.FsyncIntervalMs"/>).</summary>
    public int FsyncIntervalMs => _options.FsyncIntervalMs;

    /// <summary>
    /// Appends a record; false when the spool is at <see cref="SpoolOptions.MaxBytes"/> (the caller waits and tries again).
    /// The record reaches the OS (survives kill -9) at the next <see cref="Flush"/>, fsync or segment change, and the disk as
    /// the fsync policy says (Always: before this returns).
    /// </summary>
    public bool TryAppend(SpoolRecord record) => Append(record, force: false);

    private bool Append(SpoolRecord record, bool force)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var total = SpoolRecordFormat.Measure(record, out var keyBytes);

        if (!force && _bytes + total > _options.MaxBytes)
        {
            return false;
        }

        var added = false;
        RolledBack = 0;
        try
        {
            return Append(record, total, keyBytes, ref added);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // RolledBack counts the records of earlier calls only: this one was never appended, as far as the caller knows.
            if (added)
            {
                RolledBack--;
            }

            throw;
        }
    }

    private bool Append(SpoolRecord record, int total, int keyBytes, ref bool added)
    {
        if (_writeSegment is null || _writer is null || _writeSegment.ValidLength + total > _options.SegmentBytes)
        {
            Flush(); // the records so far belong to the segment being closed
            StartSegment();
        }
        else if (_pending.WrittenCount > 0 && _pending.WrittenCount + total > WriteBufferBytes)
        {
            Flush();
        }

        SpoolRecordFormat.Write(record, keyBytes, _pending.GetSpan(total)[..total]);
        _pending.Advance(total);
        _pendingRecords++;
        added = true;
        _writeSegment!.ValidLength += total;
        _writeSegment.Records++;

        // Still a prefix of the unread records (the reader had caught up with everything before this one): keep it in memory.
        if (_cache.Count == _depth && _cache.Count < MaxCachedRecords && _cachedBytes + total <= MaxCachedBytes)
        {
            _cache.Enqueue((record, total));
            _cachedBytes += total;
            _pendingCached++;
        }

        _depth++;
        _bytes += total;
        MaybeFsync(force: false);
        return true;
    }

    /// <summary>The oldest unread record, without consuming it. <paramref name="segmentToken"/> is passed to <see cref="Settle"/> once its delivery is settled.</summary>
    public bool TryPeek(out SpoolRecord record, out object segmentToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (_readIndex < _segments.Count)
        {
            var segment = _segments[_readIndex];
            if (_peeked is { } p)
            {
                record = p.Record;
                segmentToken = segment;
                return true;
            }

            // Records not yet written to the OS are not read: they are not in the spool until the write succeeds.
            var readable = segment == _writeSegment ? segment.ValidLength - _pending.WrittenCount : segment.ValidLength;
            if (_readOffset < readable)
            {
                if (_cache.TryPeek(out var cached))
                {
                    _peeked = cached;
                    _peekedFromCache = true;
                    record = cached.Record;
                    segmentToken = segment;
                    return true;
                }

                if (SpoolRecordFormat.TryRead(ReadHandle(segment), _readOffset, out var read, out var length, out var problem))
                {
                    _peeked = (read!, length);
                    record = read!;
                    segmentToken = segment;
                    return true;
                }

                // Only possible if the file changed under us after it was scanned: skip the rest of it.
                _logger.SpoolCorrupt(segment.Path, _readOffset, problem!);
                _depth -= segment.Records - segment.Read;
                segment.Records = segment.Read;
                segment.ValidLength = _readOffset;
                ClearCache();
            }

            if (segment == _writeSegment || _readOffset < segment.ValidLength)
            {
                break;
            }

            // Finished reading an old segment: move on, deleting it if nothing read from it is still in flight.
            segment.FullyRead = true;
            _readIndex++;
            _readOffset = 0;
            DeleteIfDone(segment);
        }

        record = null!;
        segmentToken = null!;
        return false;
    }

    /// <summary>Consumes the record returned by the last <see cref="TryPeek"/>; its delivery is now in flight.</summary>
    public void Advance()
    {
        if (_peeked is not { } p)
        {
            throw new InvalidOperationException("Advance without a peeked record.");
        }

        var segment = _segments[_readIndex];
        _peeked = null;
        if (_peekedFromCache)
        {
            _cachedBytes -= _cache.Dequeue().Length;
            _peekedFromCache = false;
        }

        _readOffset += p.Length;
        segment.Read++;
        segment.Outstanding++;
        _depth--;
    }

    /// <summary>A record read from this segment was delivered (or dead-lettered); the segment goes once all of its records are settled.</summary>
    public void Settle(object segmentToken)
    {
        if (segmentToken is not Segment segment)
        {
            return;
        }

        segment.Outstanding--;
        DeleteIfDone(segment);
    }

    /// <summary>
    /// Shutdown while events are still in flight: writes <paramref name="inFlight"/> (oldest first) followed by every unread
    /// record into a new segment, makes it durable, and removes the older segments, so the next start replays them in order.
    /// </summary>
    public void Rewrite(IReadOnlyList<SpoolRecord> inFlight)
    {
        ArgumentNullException.ThrowIfNull(inFlight);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var unread = new List<SpoolRecord>();
        while (TryPeek(out var r, out _))
        {
            unread.Add(r);
            Advance();
        }

        var old = _segments.ToList();
        CloseWriter();
        CloseReadHandle();
        ClearCache();
        _writeSegment = null;
        _segments.Clear();
        _readIndex = 0;
        _readOffset = 0;
        _depth = 0;
        _bytes = 0;
        if (inFlight.Count + unread.Count == 0)
        {
            foreach (var s in old)
            {
                TryDelete(s.Path);
            }

            return;
        }

        // Never refused here: these were accepted already.
        StartSegment(old.Count == 0 ? null : old.Max(s => s.Id) + 1);
        foreach (var r in inFlight.Concat(unread))
        {
            Append(r, force: true);
        }

        MaybeFsync(force: true);
        foreach (var s in old)
        {
            s.Outstanding = 0;
            s.FullyRead = true;
            TryDelete(s.Path);
        }
    }

    /// <summary>
    /// Hands the records appended so far to the OS (one write for a batch of appends): they survive a process kill. When the
    /// write fails (no space left on the disk, an I/O error) it is undone: the segment is cut back to its last good length,
    /// the records are taken out of the spool again (<see cref="RolledBack"/> says how many, the newest), and the
    /// exception propagates; the caller still holds those records and may append them again later.
    /// </summary>
    public void Flush()
    {
        RolledBack = 0;
        if (_pending.WrittenCount == 0)
        {
            return;
        }

        var segment = _writeSegment!;
        var good = segment.ValidLength - _pending.WrittenCount;
        try
        {
            _writer!.Write(_pending.WrittenSpan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                // A partial write leaves a torn record behind: cut it off, so that the file holds exactly what is counted.
                _writer!.SetLength(good);
                _writer.Position = good;
            }
            catch (Exception cut) when (cut is IOException or UnauthorizedAccessException)
            {
                // The file keeps a torn tail; a scan at the next start stops there (a torn record ends its segment).
                _writer = null;
            }

            segment.ValidLength = good;
            segment.Records -= _pendingRecords;
            _depth -= _pendingRecords;
            _bytes -= _pending.WrittenCount;
            if (_pendingCached > 0)
            {
                var keep = _cache.Count - _pendingCached;
                var kept = _cache.Take(keep).ToList();
                _cache.Clear();
                _cachedBytes = 0;
                foreach (var c in kept)
                {
                    _cache.Enqueue(c);
                    _cachedBytes += c.Length;
                }
            }

            RolledBack = _pendingRecords;
            ClearPending();
            throw;
        }

        ClearPending();
    }

    private void ClearPending()
    {
        _pending.ResetWrittenCount();
        _pendingRecords = 0;
        _pendingCached = 0;
    }

    /// <summary>Forces written records to disk.</summary>
    public void Sync() => MaybeFsync(force: true);

    /// <summary>
    /// Interval policy: once the interval has passed, hands the records written since the last fsync to the OS and fsyncs
    /// them on a pool thread, so that the caller (the publisher's loop) never waits for a slow disk. One fsync at a time.
    /// </summary>
    public void SyncIfDue()
    {
        if (_dirty && _writer is not null && _options.Fsync == SpoolFsync.Interval && _backgroundSync.IsCompleted &&
            _time.GetElapsedTime(_lastFsync).TotalMilliseconds >= _options.FsyncIntervalMs)
        {
            var handle = _writer.SafeFileHandle;
            var path = _writeSegment?.Path ?? Directory;
            _lastFsync = _time.GetTimestamp();
            _dirty = false;
            _backgroundSync = Task.Run(() =>
            {
                try
                {
                    RandomAccess.FlushToDisk(handle);
                }
                catch (ObjectDisposedException)
                {
                    // The segment was closed meanwhile: closing fsyncs it.
                }
                catch (IOException ex)
                {
                    _logger.SpoolFsyncFailed(path, ex.Message);
                }
            });
        }
    }

    /// <summary>Whether records written since the last fsync are waiting for one (the Interval policy's timer).</summary>
    public bool NeedsFsync => _dirty && _writer is not null && _options.Fsync == SpoolFsync.Interval;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            Flush();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Taken back out of the spool: the caller held them as not accepted.
        }

        CloseWriter();
        CloseReadHandle();
        try
        {
            _backgroundSync.Wait();
        }
        catch (AggregateException)
        {
            // Logged where it failed.
        }

        if (_writeSegment is { Outstanding: 0 } settled && settled.Read == settled.Records)
        {
            // Every record in it was read and settled (it was emptied in place, or kept while an fsync ran): nothing
            // in it is for the next start.
            TryDelete(settled.Path);
        }

        _disposed = true;
    }

    private void ClearCache()
    {
        _cache.Clear();
        _cachedBytes = 0;
        if (_peekedFromCache)
        {
            _peeked = null;
            _peekedFromCache = false;
        }
    }
}
