using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>
/// The Detect stage: micro-batches frames across every camera of the <see cref="FrameBus"/>, runs the detector and
/// writes one <see cref="DetectedFrame"/> per frame, each camera's in order. Lanes overlap the work: while the model
/// runs on one batch (or <see cref="DetectOptions.ConcurrentRuns"/> batches), the next batch is gathered and letterboxed
/// into another lane's tensor. Lanes travel between the loops through the <c>free</c>, <c>prepared</c> and
/// <c>inferred</c> channels; whoever holds a lane owns its frames.
/// Completes its output when the bus is complete and drained.
/// </summary>
public sealed class DetectService : PipelineStage
{
    private readonly DetectOptions _options;
    private readonly FrameBus _bus;
    private readonly ChannelWriter<DetectedFrame> _output;
    private readonly DetectMetrics _metrics;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly MotionGate _gate;
    private readonly ModelLabels _labels;
    private readonly DetectReadiness _readiness;
    private long _detected;

    public DetectService(IOptions<DetectOptions> options, FrameBus bus, ChannelWriter<DetectedFrame> output,
        DetectMetrics metrics, ILoggerFactory loggers, TimeProvider time, ModelLabels labels, DetectReadiness readiness)
    {
        _labels = labels ?? throw new ArgumentNullException(nameof(labels));
        _readiness = readiness ?? throw new ArgumentNullException(nameof(readiness));
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options.Value;
        _bus = bus;
        _output = output;
        _metrics = metrics;
        _loggers = loggers;
        _logger = loggers.CreateLogger<DetectService>();
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _gate = new MotionGate(_options.Motion, _time);
    }

    /// <summary>True once the model is loaded and warmed up.</summary>
    public bool IsReady => _readiness.IsReady;

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        await Task.Yield(); // loading the model must not hold up the host's start
        MicroBatcher? batcher = null;
        Detector? detector = null;
        var lanes = new List<Lane>();
        try
        {
            detector = Detector.Load(_options, _loggers.CreateLogger<Detector>(), _time);
            _labels.Publish(detector.Labels);
            var laneCount = detector.ConcurrentRuns + 1; // one more than runs in flight: it is gathered and letterboxed meanwhile
            for (var i = 0; i < laneCount; i++)
            {
                lanes.Add(new Lane(detector.CreateLane(), _options.MaxBatch));
            }

            var warm = detector.WarmUp([.. lanes.Select(l => l.Tensors)]);
            DetectLog.WarmedUp(_logger, warm.TotalMilliseconds, detector.Capacity, detector.ConcurrentRuns);
            _readiness.SetReady();
            batcher = new MicroBatcher(_bus, MicroBatchLimits.From(_options), f => _metrics.Stale(f.CameraId), _time);
            await PipelineAsync(lanes, detector.ConcurrentRuns, batcher, hardStop).ConfigureAwait(false);
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

    /// <summary>
    /// This loop gathers and prepares batches into free lanes and numbers them; <see cref="DetectOptions.ConcurrentRuns"/>
    /// infer loops run the model on prepared lanes; one write loop puts the lanes' frames out in their numbers' order
    /// (so each camera's frames stay in order whichever run ends first) and frees the lanes.
    /// </summary>
    private async Task PipelineAsync(List<Lane> lanes, int runs, MicroBatcher batcher, CancellationToken hardStop)
    {
        var free = Channel.CreateBounded<Lane>(new BoundedChannelOptions(lanes.Count)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false, // the write loop, and this loop for a lane whose preparation failed
        });
        var prepared = Channel.CreateBounded<Lane>(new BoundedChannelOptions(lanes.Count)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = runs == 1,
            SingleWriter = true,
        });
        var inferred = Channel.CreateBounded<Lane>(new BoundedChannelOptions(lanes.Count)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = runs == 1,
        });
        foreach (var lane in lanes)
        {
            free.Writer.TryWrite(lane);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(hardStop);
        var inferLoops = new Task[runs];
        for (var i = 0; i < runs; i++)
        {
            inferLoops[i] = Task.Run(() => InferLoopAsync(prepared.Reader, inferred.Writer, stop), CancellationToken.None);
        }

        // Once every run has ended the write loop drains what they left and ends; their errors come out below.
        _ = Task.WhenAll(inferLoops).ContinueWith(
            _ => inferred.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var writer = Task.Run(() => WriteLoopAsync(inferred.Reader, free.Writer, stop), CancellationToken.None);
        ExceptionDispatchInfo? producerError = null;
        try
        {
            long sequence = 0;
            while (true)
            {
                var lane = await free.Reader.ReadAsync(stop.Token).ConfigureAwait(false);
                if (!await batcher.NextBatchAsync(lane.Frames, stop.Token).ConfigureAwait(false))
                {
                    break;
                }

                if (Prepare(lane))
                {
                    lane.Sequence = sequence++;
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

        var loops = Task.WhenAll([.. inferLoops, writer]);
        try
        {
            await loops.ConfigureAwait(false);
        }
        catch (Exception) when (loops.Exception is { } failed)
        {
            // A run's or the writer's own failure says more than the cancellation it caused in the other loops.
            var cause = failed.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException);
            if (cause is not null || producerError is null)
            {
                ExceptionDispatchInfo.Throw(cause ?? failed.InnerExceptions[0]);
            }
        }
        catch (OperationCanceledException) when (producerError is not null)
        {
        }

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

    private async Task InferLoopAsync(ChannelReader<Lane> prepared, ChannelWriter<Lane> inferred, CancellationTokenSource stop)
    {
        try
        {
            while (await prepared.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (prepared.TryRead(out var lane))
                {
                    Infer(lane);
                    await inferred.WriteAsync(lane, stop.Token).ConfigureAwait(false); // a failed lane too: its number must pass
                }
            }
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false); // the others must not wait for a lane that will not come
            throw;
        }
    }

    /// <summary>Runs the model on the lane's inferred frames and decodes their boxes into its results; on failure its frames are disposed and counted.</summary>
    private void Infer(Lane lane)
    {
        var count = lane.InferCount;
        var t0 = _time.GetTimestamp();
        if (count > 0)
        {
            try
            {
                lane.Tensors.Infer(count);
                var t1 = _time.GetTimestamp();
                lane.Tensors.Postprocess(count, lane.Results);
                var inferMs = _time.GetElapsedTime(t0, t1).TotalMilliseconds;
                var postMs = _time.GetElapsedTime(t1).TotalMilliseconds;
                _metrics.Batch(count, _options.MaxBatch, new DetectTimings(lane.PreprocessMs, inferMs, postMs, count));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Fail(lane, ex);
            }
        }

        lane.InferredTimestamp = _time.GetTimestamp();
    }

    /// <summary>Writes each inferred lane's frames out in the order the lanes were numbered, and frees the lanes.</summary>
    private async Task WriteLoopAsync(ChannelReader<Lane> inferred, ChannelWriter<Lane> free, CancellationTokenSource stop)
    {
        var waiting = new Dictionary<long, Lane>();
        long next = 0;
        try
        {
            while (await inferred.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (inferred.TryRead(out var lane))
                {
                    waiting.Add(lane.Sequence, lane);
                    while (waiting.Remove(next, out var ready))
                    {
                        await WriteAsync(ready, stop.Token).ConfigureAwait(false);
                        free.TryWrite(ready);
                        next++;
                    }
                }
            }
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false); // the producer must not wait for a lane that will not come back
            throw;
        }
    }

    private async Task WriteAsync(Lane lane, CancellationToken cancellationToken)
    {
        var frames = lane.Frames;
        var results = lane.Results;
        var end = lane.InferredTimestamp;
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

        /// <summary>The lane's place in the order batches were gathered (frames leave in this order).</summary>
        public long Sequence { get; set; }

        /// <summary>When its run ended (timestamp of the stage's TimeProvider).</summary>
        public long InferredTimestamp { get; set; }

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
