using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Sink;

namespace Streaming.Hosting.Web;

/// <summary>
/// A pass-through between Track and Sink that lets the web view see the tracked frames and their events without
/// either stage knowing about it: Track writes into the tap's own bounded channel, the tap offers each frame to
/// <see cref="LivePictures"/> (a copy only while someone watches) and its events to <see cref="EventFeed"/>, then
/// hands the frame, still owned by the pipeline, on to Sink's channel. Like every stage it runs until its input is
/// complete, then completes Sink's input, so shutdown drains through it.
/// </summary>
internal sealed class WebTap(ChannelReader<TrackedFrame> input, ChannelWriter<TrackedFrame> output, LivePictures pictures, EventFeed events)
    : PipelineStage
{
    protected override async Task RunAsync(CancellationToken hardStop)
    {
        try
        {
            while (await input.WaitToReadAsync(hardStop).ConfigureAwait(false))
            {
                while (input.TryRead(out var tracked))
                {
                    try
                    {
                        pictures.Offer(tracked);
                        events.Publish(tracked.Events);
                        await output.WriteAsync(tracked, hardStop).ConfigureAwait(false);
                    }
                    catch
                    {
                        tracked.Dispose();
                        throw;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
        }
        finally
        {
            output.TryComplete();
            while (input.TryRead(out var left))
            {
                left.Dispose();
            }
        }
    }
}

/// <summary>
/// The same pass-through for the cameras' status changes between Ingest and Sink: each one goes to the event feed as
/// the camera_status event Kafka gets (same JSON, same id), then on to Sink's status channel; completes it when Ingest
/// completes its own.
/// </summary>
internal sealed class StatusTap(ChannelReader<CameraStatusChange> input, ChannelWriter<CameraStatusChange> output, EventFeed events)
    : PipelineStage
{
    protected override async Task RunAsync(CancellationToken hardStop)
    {
        try
        {
            while (await input.WaitToReadAsync(hardStop).ConfigureAwait(false))
            {
                while (input.TryRead(out var change))
                {
                    events.Publish(change);
                    await output.WriteAsync(change, hardStop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
        }
        finally
        {
            output.TryComplete();
        }
    }
}

internal static class WebServiceCollectionExtensions
{
    /// <summary>
    /// Registers the web view: the tap between Track and Sink (call it after <c>AddSink</c> and before <c>AddTrack</c>,
    /// so that it starts before frames reach it), the latest pictures and the event feed.
    /// </summary>
    public static IServiceCollection AddWebView(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var channels = configuration.GetSection(Core.ChannelOptions.Section).Get<Core.ChannelOptions>() ?? new Core.ChannelOptions();
        var toTap = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(Math.Max(1, channels.Tracked))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });

        // Track asks for ChannelWriter<TrackedFrame>: the last registration wins, so Track now writes to the tap.
        services.AddSingleton(toTap.Writer);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<LivePictures>();
        services.AddSingleton(sp => new EventFeed(sp.GetRequiredService<IOptions<SinkOptions>>().Value.Redis.KeyPrefix, sp.GetService<WorkerIdentity>()?.Id));
        services.AddSingleton<FrameSnapshots>();
        services.AddSingleton<WebEndpoints.OutRates>();
        services.AddHostedService(sp => new WebTap(toTap.Reader, sp.GetRequiredService<PipelineChannels>().Tracked.Writer,
            sp.GetRequiredService<LivePictures>(), sp.GetRequiredService<EventFeed>()));

        // Ingest asks for ChannelWriter<CameraStatusChange>: it now writes to the status tap (as the pipeline's own
        // status channel: the newest changes win when it is full).
        var statusToTap = Channel.CreateBounded<CameraStatusChange>(new BoundedChannelOptions(Math.Max(1, channels.CameraStatus))
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = false,
        });
        services.AddSingleton(statusToTap.Writer);
        services.AddHostedService(sp => new StatusTap(statusToTap.Reader, sp.GetRequiredService<PipelineChannels>().CameraStatus.Writer,
            sp.GetRequiredService<EventFeed>()));
        return services;
    }
}
