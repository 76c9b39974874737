using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Streaming.Sink;

/// <summary>
/// The spool's segment files: <c>NNNNNNNNNNNNNNNNNNNN.spool</c> in the spool directory, ids only growing (segment order is
/// replay order). One is written (the newest), one is read (the oldest unread); a segment goes once all of its records
/// are read and settled, and the write segment, when the reader has caught up with it, is emptied in place instead.
/// </summary>
public sealed partial class EventSpool
{
    private SafeFileHandle ReadHandle(Segment segment)
    {
        if (_readHandleSegment != segment || _readHandle is null)
        {
            CloseReadHandle();
            _readHandle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            _readHandleSegment = segment;
        }

        return _readHandle;
    }

    private void CloseReadHandle()
    {
        _readHandle?.Dispose();
        _readHandle = null;
        _readHandleSegment = null;
    }

    private void StartSegment(long? forcedId = null)
    {
        CloseWriter(inBackground: _options.Fsync == SpoolFsync.Interval);
        // Ids only grow (segment order is replay order); the directory is listed once, not at every new segment.
        var id = forcedId ?? (_segments.Count > 0 ? _segments[^1].Id + 1 : _lastId > 0 ? _lastId + 1 : NextIdFromDisk());
        _lastId = id;
        var path = Path.Combine(Directory, id.ToString("D20", CultureInfo.InvariantCulture) + Extension);
        // Unbuffered: the spool buffers appends itself (Flush), so that a failed write can be undone exactly.
        _writer = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 0, FileOptions.None);
        _writeSegment = new Segment(id, path);
        _segments.Add(_writeSegment);
    }

    private long NextIdFromDisk()
    {
        long max = 0;
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + Extension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                max = Math.Max(max, id);
            }
        }

        return max + 1;
    }

    /// <param name="inBackground">
    /// Interval policy, a full segment: its records go to the OS now and its fsync (then close) runs on a pool thread
    /// after any fsync already running, so that the owner's loop never waits for the disk.
    /// </param>
    private void CloseWriter(bool inBackground = false)
    {
        if (_writer is not { } writer)
        {
            return;
        }

        _writer = null;
        if (!inBackground)
        {
            writer.Flush(flushToDisk: _options.Fsync != SpoolFsync.Never);
            writer.Dispose();
            return;
        }

        writer.Flush(flushToDisk: false);
        var path = _writeSegment?.Path ?? Directory;
        _backgroundSync = _backgroundSync.ContinueWith(_ =>
        {
            try
            {
                writer.Flush(flushToDisk: true);
            }
            catch (IOException ex)
            {
                _logger.SpoolFsyncFailed(path, ex.Message);
            }
            finally
            {
                writer.Dispose();
            }
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private void MaybeFsync(bool force)
    {
        if (_writer is null)
        {
            return;
        }

        _dirty = true;
        var now = _time.GetTimestamp();

        // Interval: the owner's timer calls SyncIfDue, which fsyncs off the caller's thread.
        if (force || _options.Fsync == SpoolFsync.Always)
        {
            Flush();
            _writer.Flush(flushToDisk: true);
            _lastFsync = now;
            _dirty = false;
        }
    }

    private void DeleteIfDone(Segment segment)
    {
        var index = _segments.IndexOf(segment);
        if (index < 0 || segment.Outstanding > 0)
        {
            return;
        }

        var fullyRead = segment.FullyRead || (index == _readIndex && _readOffset >= segment.ValidLength && _peeked is null);
        if (!fullyRead || index > _readIndex)
        {
            return;
        }

        if (segment == _writeSegment && !_backgroundSync.IsCompleted)
        {
            // An fsync of this file is running: truncating now would wait for its pages to reach the disk, on the owner's
            // loop. The segment stays as it is (its records are settled; appends go on after them) until it is drained again.
            return;
        }

        if (segment == _writeSegment)
        {
            // The usual case while the producer keeps up: everything written has been read and settled. The segment is
            // emptied in place (one truncate) instead of closed, fsynced, deleted and created again for the next append,
            // which cost an fsync, an unlink and a create on the owner's loop every time it caught up. A crash before the
            // truncation reaches the disk replays settled events (at-least-once), never loses one.
            ResetWriteSegment(segment);
            return;
        }

        if (segment == _readHandleSegment)
        {
            CloseReadHandle();
        }

        _segments.RemoveAt(index);
        if (index < _readIndex)
        {
            _readIndex--;
        }
        else
        {
            // It was the segment being read: the next one starts at offset 0.
            _readOffset = 0;
        }

        _bytes -= segment.ValidLength;
        if (_bytes < 0 || _segments.Count == 0)
        {
            _bytes = _segments.Sum(s => s.ValidLength);
        }

        TryDelete(segment.Path);
    }

    private void ResetWriteSegment(Segment segment)
    {
        _writer?.SetLength(0); // the position moves back to 0
        _bytes -= segment.ValidLength;
        if (_bytes < 0 || _segments.Count == 1)
        {
            _bytes = _segments.Sum(s => s == segment ? 0 : s.ValidLength);
        }

        segment.ValidLength = 0;
        segment.Records = 0;
        segment.Read = 0;
        _readOffset = 0;
        _dirty = true;
    }

    private void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException ex)
        {
            _logger.SpoolDeleteFailed(path, ex.Message);
        }
        catch (UnauthorizedAccessException ex)
        {
            _logger.SpoolDeleteFailed(path, ex.Message);
        }
    }

    private void Scan(Segment segment)
    {
        (segment.Records, segment.ValidLength, var problem) = SpoolRecordFormat.Scan(segment.Path);
        if (problem is not null)
        {
            _logger.SpoolCorrupt(segment.Path, segment.ValidLength, problem);
        }
    }

    private sealed class Segment(long id, string path)
    {
        public long Id { get; } = id;

        public string Path { get; } = path;

        public long ValidLength { get; set; }

        public long Records { get; set; }

        public long Read { get; set; }

        public long Outstanding { get; set; }

        public bool FullyRead { get; set; }
    }
}
