using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// Starts every enabled camera at start-up (each plays once Detect is ready, where there is one); on shutdown stops them all, completes each camera's feed, completes the
/// frame bus (no more cameras) and the camera status channel, so that downstream stages drain and finish.
/// </summary>
public sealed class IngestService(
    CameraManager manager,
    FrameBus bus,
    ChannelWriter<CameraStatusChange> status,
    IOptions<IngestOptions> options,
    IOptions<CameraListOptions> cameras,
    ILogger<IngestService> logger) : BackgroundService
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ingest = options.Value;
        if (ingest.EffectiveFileDecoder == ingest.FileDecoder)
        {
            Log.FileDecoder(logger, FrameSources.DescribeFileDecoder(ingest));
        }
        else
        {
            Log.FileDecoderFallback(logger, FrameSources.DescribeFileDecoder(ingest));
        }

        try
        {
            var enabled = cameras.Value.Cameras.Where(c => c.Enabled).ToList();
            if (enabled.Count == 0)
            {
                Log.NoCameras(logger, cameras.Value.Cameras.Count);
            }

            // Disabled cameras are listed too (as Stopped), so that enabling one through the API starts it.
            foreach (var camera in cameras.Value.Cameras)
            {
                try
                {
                    await manager.AddAsync(camera, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                {
                    Log.StartFailed(logger, camera.Id, UrlRedactor.Redact(ex.Message));
                }
            }

            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        finally
        {
            // Workers stop within a second or so (ffmpeg is killed); a device stuck in a driver call must not hang shutdown.
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await manager.StopAllAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Log.StopTimedOut(logger, StopTimeout.TotalSeconds);
            }

            bus.CompleteAdding();
            status.TryComplete();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (ExecuteTask is { IsCanceled: true })
        {
            // Stopped before ExecuteAsync ever ran (it is started through Task.Run with the stopping token), so its
            // finally did not run: cameras added through the API meanwhile must still stop, and the outputs complete,
            // or every stage after ingest would wait for the shutdown timeout.
            using var timeout = new CancellationTokenSource(StopTimeout);
            await manager.StopAllAsync(timeout.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            bus.CompleteAdding();
            status.TryComplete();
        }
    }
}
