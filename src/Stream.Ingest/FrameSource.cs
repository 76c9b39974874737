using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>A failure of a camera source, with whether retrying can help.</summary>
public sealed class SourceException : Exception
{
    public SourceException()
    {
    }

    public SourceException(string message)
        : base(message)
    {
    }

    public SourceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public SourceException(string message, bool recoverable, Exception? innerException = null)
        : base(message, innerException)
    {
        Recoverable = recoverable;
    }

    /// <summary>True for network-like failures (retry with backoff); false when retrying cannot help (missing or corrupt file).</summary>
    public bool Recoverable { get; }
}

/// <summary>
/// One connection to one camera. Used by one worker thread; only <see cref="Abort"/> may be called from another
/// thread (the watchdog). Blocking by design: each camera has its own thread, so a slow camera never holds others up.
/// </summary>
public interface IFrameSource : IDisposable
{
    /// <summary>Output frame size (valid after <see cref="Open"/>).</summary>
    int Width { get; }

    int Height { get; }

    /// <summary>The stream's nominal frame rate (0 when unknown).</summary>
    double NominalFps { get; }

    /// <summary>Connects / opens; throws <see cref="SourceException"/>.</summary>
    void Open(CancellationToken cancellationToken);

    /// <summary>
    /// Decodes the next frame into a pooled frame (the caller owns it). Returns null at the end of a file that does
    /// not loop. Throws <see cref="SourceException"/> when the stream broke.
    /// </summary>
    Frame? Read(string cameraId, long sequence, bool live, CancellationToken cancellationToken);

    /// <summary>Makes a blocked <see cref="Read"/> fail soon with <paramref name="reason"/> as its error (thread-safe).</summary>
    void Abort(string reason);
}
