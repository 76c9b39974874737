using System.Threading.Channels;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>
/// The sink of a batch analysis (<c>stream analyze</c>): every event goes as one line of the Kafka event JSON
/// (<see cref="EventMessage"/>, the same schema and ids) to a file, in the order the pipeline made them; no Kafka, no
/// Redis. Frame keys name the frames as the live sink would, though no frame is stored. Reads the tracked frames and the
/// camera status feed until both complete, disposing every frame; counts frames and alerts for the summary and reports
/// each camera that stopped (end of its file) to <see cref="CameraStopped"/>. With clips (a <see cref="ClipWriter"/>
/// factory), every track_ended waits for its clip and names it (<c>clip_key</c>); a clip finished after its event goes out
/// as a <c>clip_ready</c> line, written by this loop too.
/// </summary>
public sealed class EventFileWriter : PipelineStage
{
    private readonly ChannelReader<TrackedFrame> _frames;
    private readonly ChannelReader<CameraStatusChange> _status;
    private readonly Stream _output;
    private readonly string _framePrefix;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _framesPerCamera = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _alertsPerClass = new(StringComparer.Ordinal);
    private readonly Func<Func<EventMessage, CancellationToken, ValueTask>, ClipWriter>? _startClips;
    private readonly Channel<EventMessage> _lateClips = Channel.CreateUnbounded<EventMessage>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = true,
    });

    private ClipWriter? _clips;
    private long _events;

    /// <param name="output">Where the lines go; the writer flushes it, the caller owns and disposes it.</param>
    /// <param name="clips">Starts the clip writer, given how it announces a late clip; null: no clips.</param>
    public EventFileWriter(ChannelReader<TrackedFrame> frames, ChannelReader<CameraStatusChange> status, Stream output, string framePrefix = "frame",
        Func<Func<EventMessage, CancellationToken, ValueTask>, ClipWriter>? clips = null)
    {
        _frames = frames ?? throw new ArgumentNullException(nameof(frames));
        _status = status ?? throw new ArgumentNullException(nameof(status));
        _output = output ?? throw new ArgumentNullException(nameof(output));
        _framePrefix = framePrefix;
        _startClips = clips;
    }

    /// <summary>Clips written so far (0 without clips).</summary>
    public long Clips { get; private set; }

    /// <summary>Raised (on the writer's loop) for every camera status change that ends a camera: Stopped or Failed.</summary>
    public event Action<CameraStatusChange>? CameraStopped;

    /// <summary>Events written so far.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>Frames through the pipeline so far, per camera (the carriers of end-of-run events not counted).</summary>
    public IReadOnlyDictionary<string, long> FramesPerCamera
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, long>(_framesPerCamera, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>track_started events so far, per class label.</summary>
    public IReadOnlyDictionary<string, int> AlertsPerClass
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, int>(_alertsPerClass, StringComparer.Ordinal);
            }
        }
    }

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        // One writer of the file: status changes are queued here and written between frames by the same loop.
        var statusTask = Task.Run(() => PumpStatusAsync(hardStop), CancellationToken.None);
        _clips = _startClips?.Invoke((ready, ct) => _lateClips.Writer.WriteAsync(ready, ct));
        try
        {
            while (await _frames.WaitToReadAsync(hardStop).ConfigureAwait(false))
            {
                while (_frames.TryRead(out var tracked))
                {
                    using (tracked)
                    {
                        await WriteFrameAsync(tracked, hardStop).ConfigureAwait(false);
                    }
                }

                // Nothing more waiting: what was written goes to the file now, so a process killed (kill -9) while
                // it waits keeps every event written so far.
                await _output.FlushAsync(hardStop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
            while (_frames.TryRead(out var left))
            {
                left.Dispose();
            }
        }
        finally
        {
            await statusTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (_clips is not null)
            {
                await _clips.DisposeAsync().ConfigureAwait(false); // the queued clips finish (or give up) first
                _lateClips.Writer.TryComplete();
            }

            await WriteLateClipsAsync(CancellationToken.None).ConfigureAwait(false);
            await WritePendingStatusAsync(CancellationToken.None).ConfigureAwait(false);
            await _output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private readonly Channel<CameraStatusChange> _pendingStatus = Channel.CreateUnbounded<CameraStatusChange>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = true,
    });

    private async Task PumpStatusAsync(CancellationToken hardStop)
    {
        try
        {
            while (await _status.WaitToReadAsync(hardStop).ConfigureAwait(false))
            {
                while (_status.TryRead(out var change))
                {
                    _pendingStatus.Writer.TryWrite(change);
                    if (change.State is CameraState.Stopped or CameraState.Failed)
                    {
                        CameraStopped?.Invoke(change);
                    }
                }
            }
        }
        finally
        {
            _pendingStatus.Writer.TryComplete();
        }
    }

    private async Task WriteFrameAsync(TrackedFrame tracked, CancellationToken cancellationToken)
    {
        await WritePendingStatusAsync(cancellationToken).ConfigureAwait(false);
        await WriteLateClipsAsync(cancellationToken).ConfigureAwait(false);
        var frame = tracked.Frame;
        if (frame.Width > 1 || frame.Height > 1) // not the 1x1 carrier of end-of-run events
        {
            lock (_gate)
            {
                System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_framesPerCamera, frame.CameraId, out _)++;
            }
        }

        _clips?.Watch(frame.CameraId, frame.MediaTime);
        foreach (var e in tracked.Events)
        {
            if (e.Kind == EventKind.TrackStarted)
            {
                lock (_gate)
                {
                    System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_alertsPerClass, e.Label ?? "?", out _)++;
                }
            }

            var message = EventMessage.From(e, _framePrefix);
            if (_clips is not null)
            {
                await _clips.AttachAsync(e, message, cancellationToken).ConfigureAwait(false);
                Clips += message.ClipKey is null ? 0 : 1;
            }

            await WriteLineAsync(message.ToUtf8(), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteLateClipsAsync(CancellationToken cancellationToken)
    {
        while (_lateClips.Reader.TryRead(out var ready))
        {
            Clips++;
            await WriteLineAsync(ready.ToUtf8(), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WritePendingStatusAsync(CancellationToken cancellationToken)
    {
        while (_pendingStatus.Reader.TryRead(out var change))
        {
            await WriteLineAsync(EventMessage.From(change).ToUtf8(), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteLineAsync(byte[] json, CancellationToken cancellationToken)
    {
        await _output.WriteAsync(json, cancellationToken).ConfigureAwait(false);
        _output.WriteByte((byte)'\n');
        Interlocked.Increment(ref _events);
    }
}
