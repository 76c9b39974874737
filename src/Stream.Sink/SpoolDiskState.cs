using Microsoft.Extensions.Logging;

namespace Streaming.Sink;

/// <summary>
/// Whether the spool's disk takes writes, as the publisher's loop last found it: the problem the health check shows (the
/// disk and the path), and the error log, said once when it starts and then at most every 30 s while it lasts (a write is
/// tried again every second). Written by the publisher's loop only; <see cref="Problem"/> is read by any thread.
/// </summary>
internal sealed class SpoolDiskState(string directory, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(30);
    private volatile string? _problem;
    private long _since;
    private long _loggedAt;

    /// <summary>Why the spool cannot write now (naming the disk and the path), or null while it can.</summary>
    public string? Problem => _problem;

    public bool Failing => _problem is not null;

    /// <summary>A write failed; <paramref name="waiting"/> events now wait for the disk.</summary>
    public void Failed(Exception error, int waiting)
    {
        var now = time.GetTimestamp();
        var disk = DescribeDisk(directory);
        if (_problem is null)
        {
            _since = now;
            _loggedAt = 0;
        }

        _problem = $"event spool {directory} cannot be written: {error.Message} ({disk})";
        if (_loggedAt == 0 || time.GetElapsedTime(_loggedAt, now) >= LogEvery)
        {
            _loggedAt = now;
            logger.SpoolWriteFailed(directory, error.Message, disk, waiting);
        }
    }

    /// <summary>A write succeeded: if the disk was failing, it takes events again.</summary>
    public void Succeeded()
    {
        if (_problem is null)
        {
            return;
        }

        _problem = null;
        logger.SpoolWritableAgain(directory, time.GetElapsedTime(_since).TotalSeconds);
    }

    /// <summary>"disk /mnt/x: 0 of 65536 bytes free", from the file system that holds <paramref name="path"/>.</summary>
    public static string DescribeDisk(string path)
    {
        try
        {
            var drive = new DriveInfo(path);
            return $"disk {drive.Name}: {drive.AvailableFreeSpace} of {drive.TotalSize} bytes free";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return $"disk of {path}: free space unknown ({ex.Message})";
        }
    }
}
