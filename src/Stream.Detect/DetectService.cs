using System.Diagnostics;
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
/// model runs on one batch, the next batch is gathered and letterboxed into the other lane's tensor. Completes its
/// output when the bus is complete and drained.
/// </summary>
public sealed class DetectService : PipelineStage
{
    private const int LaneCount = 2;
    private readonly DetectOptions _options;
    private readonly FrameBus _bus;
    private readonly ChannelWriter<DetectedFrame> _output;
    private readonly DetectMetrics _metrics;
    private readonly ILogger<DetectService> _logger;
    private readonly List<Frame>[] _frames = new List<Frame>[LaneCount];
    private readonly List<Mat>[] _images = new List<Mat>[LaneCount];
    private readonly Detection[][][] _results = new Detection[LaneCount][][];
    private readonly double[] _preprocessMs = new double[LaneCount];
    private long _detected;

    public DetectService(IOptions<DetectOptions> options, FrameBus bus, ChannelWriter<DetectedFrame> output,
        DetectMetrics metrics, ILogger<DetectService> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _bus = bus;
        _output = output;
        _metrics = metrics;
        _logger = logger;
        for (var lane = 0; lane < LaneCount; lane++)
        {
            _frames[lane] = new List<Frame>(_options.MaxBatch);
            _images[lane] = new List<Mat>(_options.MaxBatch);
            _results[lane] = new Detection[_options.MaxBatch][];
        }
    }

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        await Task.Yield(); // loading the model must not hold up the host's start
        MicroBatcher? batcher = null;
        Detector? detector = null;
        try
        {
            detector = Detector.Load(_options, _logger, LaneCount);
            var warm = detector.WarmUp();
            DetectLog.WarmedUp(_logger, warm.TotalMilliseconds, detector.Capacity);
            batcher = new MicroBatcher(_bus, MicroBatchLimits.From(_options), f => _metrics.Stale(f.CameraId));
            await PipelineAsync(detector, batcher, hardStop).ConfigureAwait(false);
        }
        finally
        {
            foreach (var lane in _frames)
            {
                foreach (var frame in lane)
                {
                    frame?.Dispose();
                }

                lane.Clear();
            }

            // Completed without an error even when this stage fails, so that Track and Sink still drain what they hold;
            // the failure itself ends the host through this service's exception.
            _output.TryComplete();
            detector?.Dispose();
            DetectLog.Finished(_logger, Interlocked.Read(ref _detected), batcher?.StaleDropped ?? 0);
        }
    }

    private async Task PipelineAsync(Detector detector, MicroBatcher batcher, CancellationToken hardStop)
    {
        var free = Channel.CreateBounded<int>(new BoundedChannelOptions(LaneCount)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        var prepared = Channel.CreateBounded<int>(new BoundedChannelOptions(LaneCount)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        for (var lane = 0; lane < LaneCount; lane++)
        {
            free.Writer.TryWrite(lane);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(hardStop);
        var consumer = Task.Run(() => InferLoopAsync(detector, prepared.Reader, free.Writer, stop), CancellationToken.None);
        ExceptionDispatchInfo? producerError = null;
        try
        {
            while (true)
            {
                var lane = await free.Reader.ReadAsync(stop.Token).ConfigureAwait(false);
                var frames = _frames[lane];
                if (!await batcher.NextBatchAsync(frames, stop.Token).ConfigureAwait(false))
                {
                    break;
                }

                if (Prepare(detector, lane))
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

    /// <summary>Letterboxes the lane's frames into its tensor; false (frames disposed and counted) when that fails.</summary>
    private bool Prepare(Detector detector, int lane)
    {
        var frames = _frames[lane];
        var images = _images[lane];
        var start = Stopwatch.GetTimestamp();
        images.Clear();
        foreach (var frame in frames)
        {
            frame.BatchStartTimestamp = start;
            images.Add(frame.Image);
        }

        try
        {
            detector.Preprocess(lane, images, 0, images.Count);
            _preprocessMs[lane] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
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

    private async Task InferLoopAsync(Detector detector, ChannelReader<int> prepared, ChannelWriter<int> free, CancellationTokenSource stop)
    {
        try
        {
            while (await prepared.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (prepared.TryRead(out var lane))
                {
                    await InferAndWriteAsync(detector, lane, stop.Token).ConfigureAwait(false);
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

    private async Task InferAndWriteAsync(Detector detector, int lane, CancellationToken cancellationToken)
    {
        var frames = _frames[lane];
        var results = _results[lane];
        var count = frames.Count;
        var t0 = Stopwatch.GetTimestamp();
        double inferMs, postMs;
        try
        {
            detector.Infer(lane, count);
            var t1 = Stopwatch.GetTimestamp();
            detector.Postprocess(lane, count, results);
            inferMs = Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
            postMs = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Fail(lane, ex);
            return;
        }

        var end = Stopwatch.GetTimestamp();
        _metrics.Batch(count, _options.MaxBatch, new DetectTimings(_preprocessMs[lane], inferMs, postMs, count));
        for (var i = 0; i < count; i++)
        {
            var frame = frames[i];
            frame.InferenceEndTimestamp = end;
            var detected = new DetectedFrame(frame, results[i]);
            results[i] = null!;
            frames[i] = null!; // ownership moves to the output channel
            _metrics.Frame(frame.CameraId, detected.Detections.Count);
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

    private void Fail(int lane, Exception ex)
    {
        var frames = _frames[lane];
        DetectLog.BatchFailed(_logger, ex, frames.Count);
        foreach (var frame in frames)
        {
            _metrics.Failed(frame.CameraId);
            frame.Dispose();
        }

        frames.Clear();
    }
}
