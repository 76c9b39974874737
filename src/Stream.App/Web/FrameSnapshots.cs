using System.Globalization;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using StackExchange.Redis;
using Streaming.Sink;

namespace Streaming.App.Web;

/// <summary>
/// The picture of an event, read back from the Redis frame cache the sink fills (<c>frame_key</c> of the event) over
/// the sink's own Redis connection (one per process), and drawn with the event's box. Every Redis wait is bounded.
/// </summary>
internal sealed class FrameSnapshots(IOptions<SinkOptions> sink, SinkService sinkService)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);
    private readonly RedisSinkOptions _options = sink.Value.Redis;

    /// <summary>The event's JPEG with its box drawn; or the HTTP status and one-line reason why there is none.</summary>
    public async Task<(byte[]? Jpeg, int Status, string? Reason)> GetAsync(EventMessage e, CancellationToken cancellationToken)
    {
        if (e.FrameKey is not { } key)
        {
            return (null, 404, $"event {e.Id} ({e.Kind}) refers to no frame");
        }

        byte[]? jpeg;
        try
        {
            var connections = await sinkService.Connections.WaitAsync(Wait, cancellationToken).ConfigureAwait(false);
            jpeg = await connections.Redis.ReadFrameAsync(key, Wait, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            return (null, 503, $"the frame cache (Redis) is not reachable: {ex.GetType().Name}");
        }

        if (jpeg is null)
        {
            return (null, 404, string.Create(CultureInfo.InvariantCulture,
                $"frame {key} of event {e.Id} has expired from Redis (kept {_options.FrameTtlSeconds} s, Sink:Redis:FrameTtlSeconds) or was skipped by the sink"));
        }

        using var image = Cv2.ImDecode(jpeg, ImreadModes.Color);
        if (image.Empty())
        {
            return (null, 500, $"frame {key} in Redis is not a JPEG");
        }

        if (e.Box is { } b)
        {
            var label = string.Create(CultureInfo.InvariantCulture, $"{e.Label ?? e.Kind} #{e.TrackId} {e.Kind}");
            Overlay.Box(image, new Core.BoxF(b.X1, b.Y1, b.X2, b.Y2), label, Overlay.ColourOf(e.TrackId ?? 0));
        }

        return (image.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, 85)), 200, null);
    }
}
