using System.Globalization;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using StackExchange.Redis;
using Streaming.Sink;

namespace Streaming.Hosting.Web;

/// <summary>
/// The picture of an event, read back from the Redis frame cache the sink fills (<c>frame_key</c> of the event), as
/// stored or drawn with the event's box. It reads through the process's one Redis connection
/// (<see cref="RedisConnection"/>, the sink's). Every Redis wait is bounded.
/// </summary>
internal sealed class FrameSnapshots(IOptions<SinkOptions> sink, RedisConnection connection)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);
    private readonly RedisSinkOptions _options = sink.Value.Redis;

    /// <summary>The event's JPEG as stored, or with its box drawn (<paramref name="boxes"/>); or the HTTP status and one-line reason why there is none.</summary>
    public async Task<(byte[]? Jpeg, int Status, string? Reason)> GetAsync(EventMessage e, bool boxes, CancellationToken cancellationToken)
    {
        if (e.FrameKey is not { } key)
        {
            return (null, 404, $"event {e.Id} ({e.Kind}) refers to no frame");
        }

        RedisValue value;
        try
        {
            // The connection's first attempt, if it is still being made, is waited for as a connect used to be.
            await connection.Connecting.WaitAsync(Wait + Wait, cancellationToken).ConfigureAwait(false);
            var redis = connection.Multiplexer ?? throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "the connection is closed");
            value = await redis.GetDatabase().StringGetAsync(key).WaitAsync(Wait, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return (null, 503, $"the frame cache (Redis) is not reachable: {ex.GetType().Name}");
        }

        if (value.IsNull)
        {
            return (null, 404, string.Create(CultureInfo.InvariantCulture,
                $"frame {key} of event {e.Id} has expired from Redis (kept {_options.FrameTtlSeconds} s, Sink:Redis:FrameTtlSeconds) or was skipped by the sink"));
        }

        if (!boxes)
        {
            return ((byte[])value!, 200, null); // as stored: no decode, no encode
        }

        using var image = Cv2.ImDecode((byte[])value!, ImreadModes.Color);
        if (image.Empty())
        {
            return (null, 500, $"frame {key} in Redis is not a JPEG");
        }

        if (e.Box is { } b)
        {
            var label = string.Create(CultureInfo.InvariantCulture, $"{e.Label ?? e.Kind} #{Core.TrackIds.Short(e.TrackId ?? 0, e.Epoch)} {e.Kind}");
            Overlay.Box(image, new Core.BoxF(b.X1, b.Y1, b.X2, b.Y2), label, Overlay.ColourOf(e.TrackId ?? 0));
        }

        return (image.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, 85)), 200, null);
    }
}
