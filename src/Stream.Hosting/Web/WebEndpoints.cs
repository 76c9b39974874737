using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Streaming.Hosting;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Sink;

namespace Streaming.Hosting.Web;

/// <summary>
/// The operator's view: the page at <c>/</c> and the endpoints behind it. Reading needs no token (as <c>GET
/// /api/cameras</c>); changing cameras goes through the camera API and its token rule. Nothing here shows a credential:
/// camera URLs are redacted, event reasons are redacted by the sink's mapping.
/// </summary>
internal static class WebEndpoints
{
    private static readonly TimeSpan FirstPictureWait = TimeSpan.FromSeconds(3);
    private static readonly byte[] SseHeartbeat = ": keep-alive\n\n"u8.ToArray();

    public static void Map(WebApplication app)
    {
        StaticPage.Map(app);
        app.MapGet("/api/view/cameras", CameraTiles);
        app.MapGet("/api/cameras/{id}/latest.jpg", LatestAsync);
        app.MapGet("/api/cameras/{id}/stream.mjpg", MjpegAsync);
        app.MapGet("/api/events", (EventFeed feed, string? camera, string? kind, int? limit) =>
            Results.Bytes(JsonArray(feed.Recent(camera, kind, Math.Clamp(limit ?? 100, 1, EventFeed.Capacity))), "application/json"));
        app.MapGet("/api/events/stream", EventStreamAsync);
        app.MapGet("/api/events/{id}/snapshot.jpg", SnapshotAsync);
        app.MapGet("/api/events/{id}/clip.mp4", Clip);
    }

    private static bool Boxes(string? value) => value is "1" or "true" or "yes";

    private static IResult NoCamera(string id) => Results.NotFound(new { error = $"no camera '{id}': see GET /api/cameras" });

    /// <summary>What a tile shows of each camera: state, fps in and out, drops, latency percentiles and the last error.</summary>
    private static IResult CameraTiles(ICameraRegistry registry, LiveMetrics metrics, OutRates rates, TimeProvider time)
    {
        metrics.Refresh();
        var now = time.GetTimestamp();
        var tiles = registry.Snapshot().Select(c => new
        {
            id = c.Id,
            url = UrlRedactor.Redact(c.Url),
            state = c.State.ToString(),
            since = c.Since,
            fpsIn = Math.Round(c.Fps, 1),
            fpsOut = Math.Round(rates.Rate(c.Id, metrics.Total(InstrumentNames.SinkFrames, c.Id), now, time), 1),
            dropped = c.FramesDropped + (long)metrics.Total(InstrumentNames.DetectStaleDropped, c.Id),
            reconnects = c.Reconnects,
            p50Ms = Round(metrics.Percentile(FrameLatency.TotalLatency, 0.50, c.Id)),
            p99Ms = Round(metrics.Percentile(FrameLatency.TotalLatency, 0.99, c.Id)),
            lastError = c.LastError is null ? null : UrlRedactor.Redact(c.LastError),
            width = c.Width,
            height = c.Height,
            enabled = c.Enabled,
        });
        return Results.Json(tiles);
    }

    private static double? Round(double? v) => v is { } x ? Math.Round(x, 1) : null;

    private static async Task<IResult> LatestAsync(string id, string? boxes, HttpContext http, ICameraRegistry registry, LivePictures pictures)
    {
        if (registry.Get(id) is not { } camera)
        {
            return NoCamera(id);
        }

        using (pictures.Watch(id, LivePictures.PollLease))
        {
            var picture = await pictures.NextAsync(id, Boxes(boxes), 0, FirstPictureWait, http.RequestAborted).ConfigureAwait(false);
            if (picture is null)
            {
                return Results.Json(new { error = $"no picture from camera '{id}' yet (state {camera.State}{(camera.LastError is { } e ? ", last error: " + UrlRedactor.Redact(e) : "")})" },
                    statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            var headers = http.Response.Headers;
            headers.CacheControl = "no-store";
            headers["X-Frame-Sequence"] = picture.Sequence.ToString(CultureInfo.InvariantCulture);
            headers["X-Capture-Time"] = picture.CaptureTime.ToString("O", CultureInfo.InvariantCulture);
            headers["X-Tracks"] = TracksHeader(picture);
            return Results.Bytes(picture.Jpeg, "image/jpeg");
        }
    }

    /// <summary>
    /// "id:class:x1,y1,x2,y2;..." of the drawn (confirmed or tentative) tracks, the corners of each outline as drawn, so
    /// that a client can tell which object is where.
    /// </summary>
    private static string TracksHeader(LivePictures.Rendered picture)
    {
        var sb = new StringBuilder();
        foreach (var t in picture.Tracks)
        {
            if (t.State is TrackState.Lost or TrackState.Removed)
            {
                continue;
            }

            var r = Overlay.RectOf(t.Box, picture.Width, picture.Height);
            sb.Append(CultureInfo.InvariantCulture, $"{(sb.Length > 0 ? ";" : "")}{t.TrackId}:{t.ClassId}:{r.X},{r.Y},{r.X + r.Width - 1},{r.Y + r.Height - 1}");
        }

        return sb.ToString();
    }

    /// <summary>multipart/x-mixed-replace: one JPEG part per new picture, at most <c>fps</c> a second, until the client leaves.</summary>
    private static async Task MjpegAsync(string id, string? boxes, double? fps, HttpContext http, ICameraRegistry registry, LivePictures pictures,
        IHostApplicationLifetime lifetime, TimeProvider time)
    {
        if (registry.Get(id) is null)
        {
            await NoCamera(id).ExecuteAsync(http).ConfigureAwait(false);
            return;
        }

        var rate = Math.Clamp(fps ?? LivePictures.MaxPicturesPerSecond, 0.1, LivePictures.MaxPicturesPerSecond);
        var interval = TimeSpan.FromSeconds(1 / rate);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        http.Response.ContentType = "multipart/x-mixed-replace; boundary=frame";
        http.Response.Headers.CacheControl = "no-store";
        using var lease = pictures.Watch(id, TimeSpan.Zero);
        var body = http.Response.Body;
        long version = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var started = time.GetTimestamp();
                var picture = await pictures.NextAsync(id, Boxes(boxes), version, TimeSpan.FromSeconds(5), stop.Token).ConfigureAwait(false);
                if (picture is null)
                {
                    continue;
                }

                version = picture.Version;
                var head = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {picture.Jpeg.Length}\r\nX-Frame-Sequence: {picture.Sequence}\r\n\r\n"));
                await body.WriteAsync(head, stop.Token).ConfigureAwait(false);
                await body.WriteAsync(picture.Jpeg, stop.Token).ConfigureAwait(false);
                await body.WriteAsync("\r\n"u8.ToArray(), stop.Token).ConfigureAwait(false);
                await body.FlushAsync(stop.Token).ConfigureAwait(false);
                var left = interval - time.GetElapsedTime(started);
                if (left > TimeSpan.Zero)
                {
                    await Task.Delay(left, time, stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The viewer left or the app stops.
        }
    }

    /// <summary>Server-sent events: each pipeline event as it happens, the same JSON as on Kafka, the kind as the SSE event name.</summary>
    private static async Task EventStreamAsync(string? camera, string? kind, HttpContext http, EventFeed feed, IHostApplicationLifetime lifetime)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        using var subscription = feed.Subscribe();
        var body = http.Response.Body;
        try
        {
            await body.WriteAsync(": stream events\n\n"u8.ToArray(), stop.Token).ConfigureAwait(false);
            await body.FlushAsync(stop.Token).ConfigureAwait(false);
            var reader = subscription.Reader;
            while (!stop.IsCancellationRequested)
            {
                using var beat = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                beat.CancelAfter(TimeSpan.FromSeconds(15));
                bool more;
                try
                {
                    more = await reader.WaitToReadAsync(beat.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    await body.WriteAsync(SseHeartbeat, stop.Token).ConfigureAwait(false);
                    await body.FlushAsync(stop.Token).ConfigureAwait(false);
                    continue;
                }

                if (!more)
                {
                    break;
                }

                while (reader.TryRead(out var message))
                {
                    if ((string.IsNullOrEmpty(camera) || message.CameraId == camera) && (string.IsNullOrEmpty(kind) || message.Kind == kind))
                    {
                        var head = Encoding.UTF8.GetBytes($"id: {message.Id}\nevent: {message.Kind}\ndata: ");
                        await body.WriteAsync(head, stop.Token).ConfigureAwait(false);
                        await body.WriteAsync(message.ToUtf8(), stop.Token).ConfigureAwait(false);
                        await body.WriteAsync("\n\n"u8.ToArray(), stop.Token).ConfigureAwait(false);
                    }
                }

                await body.FlushAsync(stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client left or the app stops.
        }
    }

    /// <summary>
    /// The event's picture from Redis, as stored (the bytes the sink wrote); with <c>?boxes=1</c> the event's box drawn on
    /// it (label, the track's short id and the event's kind, in the track's colour as on the live view): the page's
    /// thumbnail and the poster of the event's clip.
    /// </summary>
    private static async Task<IResult> SnapshotAsync(string id, string? boxes, HttpContext http, EventFeed feed, FrameSnapshots snapshots)
    {
        if (!Guid.TryParse(id, out var guid))
        {
            return Results.BadRequest(new { error = $"'{id}' is not an event id (a GUID as in the event's \"id\")" });
        }

        if (feed.Find(guid) is not { } message)
        {
            return Results.NotFound(new { error = $"event {guid} is not among the last {EventFeed.Capacity} events this process keeps" });
        }

        var (jpeg, status, reason) = await snapshots.GetAsync(message, Boxes(boxes), http.RequestAborted).ConfigureAwait(false);
        if (jpeg is null)
        {
            return Results.Json(new { error = reason }, statusCode: status);
        }

        http.Response.Headers.CacheControl = "private, max-age=3600";
        return Results.Bytes(jpeg, "image/jpeg");
    }

    /// <summary>
    /// The clip of the event's track (docs/events.md, "Clips"), with HTTP range requests so that a player can seek; 404
    /// with the reason when the event has no track, clips are off, or the clip is not (yet, or any more) on disk.
    /// </summary>
    private static IResult Clip(string id, EventFeed feed, Microsoft.Extensions.Options.IOptions<ClipOptions> clips)
    {
        if (!Guid.TryParse(id, out var guid))
        {
            return Results.BadRequest(new { error = $"'{id}' is not an event id (a GUID as in the event's \"id\")" });
        }

        if (feed.Find(guid) is not { } message)
        {
            return Results.NotFound(new { error = $"event {guid} is not among the last {EventFeed.Capacity} events this process keeps" });
        }

        if (!clips.Value.Enabled)
        {
            return Results.NotFound(new { error = "clips are off (Clips:Enabled)" });
        }

        if (message is not { TrackId: { } track, Epoch: { } epoch })
        {
            return Results.NotFound(new { error = $"a {message.Kind} event has no track, so no clip" });
        }

        var key = message.ClipKey ?? ClipWriter.KeyFor(message.CameraId, epoch, track);
        var path = ClipWriter.PathFor(clips.Value.Directory, key);
        if (path is null || !File.Exists(path))
        {
            return Results.NotFound(new { error = $"no clip {key}: the track has not ended yet, its clip failed (stream.sink.clip_failures), or it was deleted (Clips:MaxAgeHours, Clips:MaxBytes)" });
        }

        return Results.File(path, "video/mp4", enableRangeProcessing: true);
    }

    private static byte[] JsonArray(IReadOnlyList<EventMessage> messages)
    {
        using var buffer = new MemoryStream();
        buffer.WriteByte((byte)'[');
        for (var i = 0; i < messages.Count; i++)
        {
            if (i > 0)
            {
                buffer.WriteByte((byte)',');
            }

            buffer.Write(messages[i].ToUtf8());
        }

        buffer.WriteByte((byte)']');
        return buffer.ToArray();
    }

    /// <summary>Frames per second out of the pipeline per camera, from the sink's frame count, over at least a second.</summary>
    internal sealed class OutRates
    {
        private readonly ConcurrentDictionary<string, (long At, double Total, double Rate)> _samples = new(StringComparer.Ordinal);

        public double Rate(string camera, double total, long now, TimeProvider time)
        {
            var sample = _samples.GetOrAdd(camera, _ => (now, total, 0));
            var seconds = time.GetElapsedTime(sample.At, now).TotalSeconds;
            if (seconds < 1)
            {
                return sample.Rate;
            }

            var rate = Math.Max(0, total - sample.Total) / seconds;
            _samples[camera] = (now, total, rate);
            return rate;
        }
    }
}
