using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>A frame source that keeps a clip buffer (the in-process libav decoder with Clips on). Thread-safe against its reader.</summary>
public interface IClipSource
{
    /// <summary>True when the source keeps packets for clips.</summary>
    bool HasClipBuffer { get; }

    /// <summary>Bytes of compressed video the buffer holds now (0 without one).</summary>
    long BufferedBytes { get; }

    /// <summary>The media time of the newest buffered packet of run <paramref name="epoch"/>; null when nothing is buffered.</summary>
    DateTimeOffset? BufferedUntil(long epoch);

    /// <summary>Writes the window to <paramref name="path"/>; null without a buffer; throws <see cref="ClipException"/>.</summary>
    ClipResult? Cut(long epoch, DateTimeOffset from, DateTimeOffset to, string path);
}

/// <summary>
/// Ingest's side of <see cref="ICameraClips"/>: routes a cut to the running worker of the camera when the run (epoch)
/// matches, and from it to the connection's decoder, which holds the packets; else to the camera's connection that
/// ended last, kept a while (<see cref="EndedClipBuffers"/>) for the tracks still open when it ended. A camera without a
/// buffer (clips off, an ffmpeg-pipe or VideoCapture source) or another run answers null.
/// </summary>
internal sealed class CameraClipRouter(CameraManager manager) : ICameraClips
{
    public DateTimeOffset? BufferedUntil(string cameraId, long epoch) =>
        Live(cameraId, epoch) is { } live ? live.BufferedUntil(epoch)
        : manager.Ended.Find(cameraId, epoch) is not null ? DateTimeOffset.MaxValue // ended: nothing more will come
        : null;

    public ValueTask<ClipResult?> CutAsync(string cameraId, long epoch, DateTimeOffset from, DateTimeOffset to, string path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var source = Live(cameraId, epoch) ?? manager.Ended.Find(cameraId, epoch);
        return ValueTask.FromResult(source?.Cut(epoch, from, to, path));
    }

    private IClipSource? Live(string cameraId, long epoch) =>
        manager.Worker(cameraId) is { } worker && worker.Epoch == epoch && worker.Source is IClipSource { HasClipBuffer: true } source ? source : null;
}
