namespace Streaming.Ingest;

/// <summary>
/// The clip buffers of connections that ended (end of a recording, a stop, a reconnect), kept a while so that the tracks
/// still open at that moment get their clips too: Track ends them only when the camera's last frames reach it, after the
/// connection (and, without this, its packets) is gone. One per camera, the newest; the connection's source (and with it
/// the decoder that holds the packets) is disposed when a newer one of the camera replaces it, after
/// <see cref="Keep"/>, or with the manager (a removed camera's too: its open tracks end as it goes). Thread-safe.
/// </summary>
internal sealed class EndedClipBuffers(TimeProvider time) : IDisposable
{
    /// <summary>How long an ended connection's packets stay: the drain of its camera's last frames through the stages, with room.</summary>
    public static readonly TimeSpan Keep = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Ended> _ended = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>
    /// Takes over <paramref name="source"/> when it holds packets of run <paramref name="epoch"/>; false when it does not
    /// (no clip buffer, nothing buffered, or disposed already): then the caller disposes it.
    /// </summary>
    public bool TryKeep(string cameraId, long epoch, IFrameSource source)
    {
        if (source is not IClipSource { HasClipBuffer: true } clips || clips.BufferedUntil(epoch) is null)
        {
            return false;
        }

        IFrameSource? replaced;
        lock (_gate)
        {
            if (_disposed)
            {
                return false;
            }

            replaced = _ended.Remove(cameraId, out var old) ? old.Source : null;
            _ended[cameraId] = new Ended(epoch, source, time.GetTimestamp());
        }

        replaced?.Dispose();
        return true;
    }

    /// <summary>The kept buffer of run <paramref name="epoch"/> of the camera, or null.</summary>
    public IClipSource? Find(string cameraId, long epoch)
    {
        lock (_gate)
        {
            return _ended.TryGetValue(cameraId, out var ended) && ended.Epoch == epoch && time.GetElapsedTime(ended.Since) < Keep
                ? ended.Source as IClipSource
                : null;
        }
    }

    /// <summary>Disposes what is older than <see cref="Keep"/> (the manager's watchdog tick calls it).</summary>
    public void Prune() => Release(e => time.GetElapsedTime(e.Value.Since) >= Keep);

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        Release(_ => true);
    }

    private void Release(Func<KeyValuePair<string, Ended>, bool> which)
    {
        List<IFrameSource> released;
        lock (_gate)
        {
            var gone = _ended.Where(which).ToList();
            released = [.. gone.Select(e => e.Value.Source)];
            foreach (var e in gone)
            {
                _ended.Remove(e.Key);
            }
        }

        released.ForEach(s => s.Dispose());
    }

    private sealed record Ended(long Epoch, IFrameSource Source, long Since);
}
