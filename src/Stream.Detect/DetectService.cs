using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>
/// The Detect stage: micro-batches frames across every camera of the <see cref="FrameBus"/>, runs the detector and
/// writes one <see cref="DetectedFrame"/> per frame, each camera's in order. Completes its output when the bus is done.
/// </summary>
public sealed class DetectService : PipelineStage
{
    private readonly DetectOptions _options;
    private readonly FrameBus _bus;
    private readonly ChannelWriter<DetectedFrame> _output;
    private readonly DetectMetrics _metrics;
    private readonly ILogger<DetectService> _logger;

    public DetectService(IOptions<DetectOptions> options, FrameBus bus, ChannelWriter<DetectedFrame> output,
        DetectMetrics metrics, ILogger<DetectService> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _bus = bus;
        _output = output;
        _metrics = metrics;
        _logger = logger;
    }

    protected override async Task RunAsync(CancellationToken hardStop)
    {
        await Task.Yield(); // loading the model must not hold up the host's start
        var batch = new List<Frame>(_options.MaxBatch);
        var images = new List<Mat>(_options.MaxBatch);
        var results = new Detection[_options.MaxBatch][];
        long frames = 0;
        MicroBatcher? batcher = null;
        try
        {
            using var detector = Detector.Load(_options, _logger);
            var warm = detector.WarmUp();
            DetectLog.WarmedUp(_logger, warm.TotalMilliseconds, detector.Capacity);

            batcher = new MicroBatcher(_bus, MicroBatchLimits.From(_options), f => _metrics.Stale(f.CameraId));
            while (await batcher.NextBatchAsync(batch, hardStop).ConfigureAwait(false))
            {
                var start = Stopwatch.GetTimestamp();
                images.Clear();
                foreach (var frame in batch)
                {
                    frame.BatchStartTimestamp = start;
                    images.Add(frame.Image);
                }

                try
                {
                    detector.Detect(images, results);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    DetectLog.BatchFailed(_logger, ex, batch.Count);
                    foreach (var frame in batch)
                    {
                        _metrics.Failed(frame.CameraId);
                        frame.Dispose();
                    }

                    batch.Clear();
                    continue;
                }

                var end = Stopwatch.GetTimestamp();
                _metrics.Batch(batch.Count, _options.MaxBatch, detector.LastTimings);
                for (var i = 0; i < batch.Count; i++)
                {
                    var frame = batch[i];
                    frame.InferenceEndTimestamp = end;
                    _metrics.Frame(frame.CameraId, results[i].Length);
                    var detected = new DetectedFrame(frame, results[i]);
                    batch[i] = null!; // ownership moves to the writer call below
                    try
                    {
                        await _output.WriteAsync(detected, hardStop).ConfigureAwait(false);
                    }
                    catch
                    {
                        detected.Dispose();
                        throw;
                    }

                    frames++;
                }

                batch.Clear();
            }
        }
        finally
        {
            foreach (var frame in batch)
            {
                frame?.Dispose();
            }

            // Completed without an error even when this stage fails, so that Track and Sink still drain what they hold;
            // the failure itself ends the host through this service's exception.
            _output.TryComplete();
            DetectLog.Finished(_logger, frames, batcher?.StaleDropped ?? 0);
        }
    }
}
