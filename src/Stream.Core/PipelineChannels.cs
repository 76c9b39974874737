using System.Threading.Channels;

namespace Streaming.Core;

/// <summary>Capacities of the channels between stages (config section <c>Channels</c>).</summary>
public sealed class ChannelOptions
{
    public const string Section = "Channels";

    /// <summary>Frames queued per camera between Ingest and Detect.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 1024)]
    public int FramesPerCamera { get; set; } = 4;

    /// <summary>
    /// Detected frames queued between Detect and Track. Small on purpose: each holds a whole frame, and a backlog here
    /// only adds latency; backpressure should reach the per-camera queues, where live cameras drop their oldest frame.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(1, 65536)]
    public int Detected { get; set; } = 8;

    /// <summary>Tracked frames queued between Track and Sink (small for the same reason).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 65536)]
    public int Tracked { get; set; } = 8;

    /// <summary>The whole check of the <c>Channels</c> section, for the host and for code that builds options itself.</summary>
    public static SectionValidator<ChannelOptions> Validator { get; } = new(Section, new ChannelOptionsValidator());

    /// <summary>Camera status changes queued between Ingest and Sink.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 65536)]
    public int CameraStatus { get; set; } = 1024;
}

/// <summary>DataAnnotations of <see cref="ChannelOptions"/>, written by the options source generator.</summary>
[Microsoft.Extensions.Options.OptionsValidator]
public sealed partial class ChannelOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<ChannelOptions>;

/// <summary>
/// The bounded channels that connect the stages, each with its full-mode stated. Detect, Track and Sink wait when
/// the next stage is full (backpressure reaches Ingest, where live cameras drop their oldest frame and files wait).
/// Each stage is given only the reader of its input and the writer of its output.
/// </summary>
public sealed class PipelineChannels
{
    public PipelineChannels(ChannelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Frames = new FrameBus(options.FramesPerCamera);
        Detected = Channel.CreateBounded<DetectedFrame>(new BoundedChannelOptions(options.Detected)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        Tracked = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(options.Tracked)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        CameraStatus = Channel.CreateBounded<CameraStatusChange>(new BoundedChannelOptions(options.CameraStatus)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public FrameBus Frames { get; }

    public Channel<DetectedFrame> Detected { get; }

    public Channel<TrackedFrame> Tracked { get; }

    public Channel<CameraStatusChange> CameraStatus { get; }

    /// <summary>
    /// After the host stopped: disposes the frames still queued between stages. Normally there are none (each stage
    /// drains its input before it ends); when a stage failed, the queue in front of it is the frames' last owner.
    /// Returns how many were released.
    /// </summary>
    public int ReleaseUndelivered()
    {
        var released = 0;
        foreach (var feed in Frames.Feeds.ToArray())
        {
            while (feed.Reader.TryRead(out var frame))
            {
                frame.Dispose();
                released++;
            }
        }

        while (Detected.Reader.TryRead(out var detected))
        {
            detected.Dispose();
            released++;
        }

        while (Tracked.Reader.TryRead(out var tracked))
        {
            tracked.Dispose();
            released++;
        }

        return released;
    }
}
