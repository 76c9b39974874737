using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>
/// The Detect stage: micro-batches frames across every camera of the <see cref="FrameBus"/>, runs the detector and
/// writes one <see cref="DetectedFrame"/> per frame, each camera's in order. Two lanes overlap the work: while the
/// model runs on one batch, the next batch is gathered and letterboxed into the other lane's tensor. Lanes travel
/// between the two loops through the <c>free</c> and <c>prepared</c> channels; whoever holds a lane owns its frames.
/// Completes its output when the bus is complete and drained.
/// </summary>
public sealed class DetectService : PipelineStage
{
    private const int LaneCount = 2;
    private readonly DetectOptions _options;
    private readonly FrameBus _bus;
    private readonly ChannelWriter<DetectedFrame> _output;
    private readonly DetectMetrics _metrics;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly MotionGate _gate;
    private long _detected;

    public DetectService(IOptions<DetectOptions> options, FrameBus bus, ChannelWriter<DetectedFrame> output,
        DetectMetrics metrics, ILoggerFactory loggers, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options.Value;
        _bus = bus;
        _output = output;
        _metrics = metrics;
        _loggers = loggers;
        _logger = loggers.CreateLogger<DetectService>();
        _time = time ?? TimeProvider.System;
        _gate = new MotionGate(_options.Motion, _time);
    }

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        await Task.Yield(); // loading the model must not hold up the host's start
        MicroBatcher? batcher = null;
        Detector? detector = null;
        var lanes = new List<Lane>(LaneCount);
        try
        {
            detector = Detector.Load(_options, _loggers.CreateLogger<Detector>(), _time);
            for (var i = 0; i < LaneCount; i++)
            {
                lanes.Add(new Lane(detector.CreateLane(), _options.MaxBatch));
            }

            var warm = detector.WarmUp([.. lanes.Select(l => l.Tensors)]);
            DetectLog.WarmedUp(_logger, warm.TotalMilliseconds, detector.Capacity);
            batcher = new MicroBatcher(_bus, MicroBatchLimits.From(_options), f => _metrics.Stale(f.CameraId), _time);
            await PipelineAsync(lanes, batcher, hardStop).ConfigureAwait(false);
        }
        finally
        {
            foreach (var lane in lanes)
            {
                lane.DisposeFrames();
            }

            // Completed without an error even when this stage fails, so that Track and Sink still drain what they hold;
            // the failure itself ends the host through this service's exception.
            _output.TryComplete();
            detector?.Dispose(); // and with it the lanes' tensors
            DetectLog.Finished(_logger, Interlocked.Read(ref _detected), batcher?.StaleDropped ?? 0);
        }
    }

    private async Task PipelineAsync(List<Lane> lanes, MicroBatcher batcher, CancellationToken hardStop)
    {
        var free = Channel.CreateBounded<Lane>(new BoundedChannelOptions(LaneCount)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        var prepared = Channel.CreateBounded<Lane>(new BoundedChannelOptions(LaneCount)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        foreach (var lane in lanes)
        {
            free.Writer.TryWrite(lane);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(hardStop);
        var consumer = Task.Run(() => InferLoopAsync(prepared.Reader, free.Writer, stop), CancellationToken.None);
        ExceptionDispatchInfo? producerError = null;
        try
        {
            while (true)
            {
                var lane = await free.Reader.ReadAsync(stop.Token).ConfigureAwait(false);
                if (!await batcher.NextBatchAsync(lane.Frames, stop.Token).ConfigureAwait(false))
                {
                    break;
                }

                if (Prepare(lane))
                {
                    await prepared.Writer.WriteAsync(lane, stop.Token).ConfigureAwait(false);
                }
                else
                {
                    free.Writer.TryWrite(lane);
                }
            }
        }
        catch (Exception ex)
        {
            producerError = ExceptionDispatchInfo.Capture(ex);
        }
        finally
        {
            prepared.Writer.TryComplete();
        }

        if (producerError is not null)
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }

        await consumer.ConfigureAwait(false);
        producerError?.Throw();
    }

    /// <summary>
    /// Asks the motion gate which of the lane's frames the model looks at and letterboxes those into its tensor; false
    /// (frames disposed and counted) when that fails. Gated frames stay in the lane, in order, and go to Track uninferred.
    /// </summary>
    private bool Prepare(Lane lane)
    {
        var start = _time.GetTimestamp();
        var images = lane.Inputs;
        images.Clear();
        lane.Inferred.Clear();
        foreach (var frame in lane.Frames)
        {
            frame.BatchStartTimestamp = start;
            var infer = _gate.ShouldInfer(frame.CameraId, frame.Motion);
            lane.Inferred.Add(infer);
            if (infer)
            {
                images.Add(frame);
            }
        }

        lane.InferCount = images.Count;
        try
        {
            if (images.Count > 0)
            {
                lane.Tensors.Preprocess(images, 0, images.Count);
            }

            lane.PreprocessMs = _time.GetElapsedTime(start).TotalMilliseconds;
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Fail(lane, ex);
            return false;
        }
        finally
        {
            images.Clear();
        }
    }

    private async Task InferLoopAsync(ChannelReader<Lane> prepared, ChannelWriter<Lane> free, CancellationTokenSource stop)
    {
        try
        {
            while (await prepared.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (prepared.TryRead(out var lane))
                {
                    await InferAndWriteAsync(lane, stop.Token).ConfigureAwait(false);
                    free.TryWrite(lane);
                }
            }
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false); // the producer must not wait for a lane that will not come back
            throw;
        }
    }

    private async Task InferAndWriteAsync(Lane lane, CancellationToken cancellationToken)
    {
        var frames = lane.Frames;
        var results = lane.Results;
        var count = lane.InferCount;
        var t0 = _time.GetTimestamp();
        double inferMs = 0, postMs = 0;
        if (count > 0)
        {
            try
            {
                lane.Tensors.Infer(count);
                var t1 = _time.GetTimestamp();
                lane.Tensors.Postprocess(count, results);
                inferMs = _time.GetElapsedTime(t0, t1).TotalMilliseconds;
                postMs = _time.GetElapsedTime(t1).TotalMilliseconds;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Fail(lane, ex);
                return;
            }

            _metrics.Batch(count, _options.MaxBatch, new DetectTimings(lane.PreprocessMs, inferMs, postMs, count));
        }

        var end = _time.GetTimestamp();
        var next = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var frame = frames[i];
            DetectedFrame detected;
            if (lane.Inferred[i])
            {
                frame.InferenceEndTimestamp = end;
                detected = new DetectedFrame(frame, results[next]);
                results[next++] = null!;
                _metrics.Frame(frame.CameraId, detected.Detections.Count);
                _gate.Observe(frame.CameraId, detected.Detections);
            }
            else
            {
                detected = new DetectedFrame(frame, [], inferred: false);
                _metrics.Gated(frame.CameraId);
            }

            frames[i] = null!; // ownership moves to the output channel
            try
            {
                await _output.WriteAsync(detected, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                detected.Dispose();
                throw;
            }

            Interlocked.Increment(ref _detected);
        }

        frames.Clear();
    }

    private void Fail(Lane lane, Exception ex)
    {
        DetectLog.BatchFailed(_logger, ex, lane.Frames.Count);
        foreach (var frame in lane.Frames)
        {
            _metrics.Failed(frame.CameraId);
        }

        lane.DisposeFrames();
    }

    /// <summary>One batch in flight: its frames (owned while they are here), the detector's tensors for them, their results and timings.</summary>
    private sealed class Lane(DetectorLane tensors, int maxBatch)
    {
        public DetectorLane Tensors { get; } = tensors;

        public List<Frame> Frames { get; } = new(maxBatch);

        /// <summary>The frames the model looks at, in lane order (the gated ones left out).</summary>
        public List<Frame> Inputs { get; } = new(maxBatch);

        /// <summary>Per frame of <see cref="Frames"/>: whether the model looks at it (the motion gate's answer).</summary>
        public List<bool> Inferred { get; } = new(maxBatch);

        /// <summary>Frames of the lane the model looks at, in the tensor's order.</summary>
        public int InferCount { get; set; }

        public Detection[][] Results { get; } = new Detection[maxBatch][];

        public double PreprocessMs { get; set; }

        public void DisposeFrames()
        {
            foreach (var frame in Frames)
            {
                frame?.Dispose();
            }

            Frames.Clear();
        }
    }
}
