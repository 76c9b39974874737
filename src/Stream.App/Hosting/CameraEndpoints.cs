using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.App.Hosting;

/// <summary>
/// The camera API: <c>GET /api/cameras</c> lists cameras with their state; <c>POST /api/cameras</c> (a camera as in
/// config) adds one; <c>DELETE /api/cameras/{id}</c> removes one; all without restarting the pipeline. When
/// <c>Http:ControlToken</c> is set, adding and removing need <c>Authorization: Bearer {token}</c>.
/// </summary>
internal static class CameraEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/api/cameras", (ICameraRegistry registry) => Results.Json(registry.Snapshot().Select(CameraView.From)));
        app.MapGet("/api/cameras/{id}", (string id, ICameraRegistry registry) =>
            registry.Get(id) is { } status ? Results.Json(CameraView.From(status)) : Results.NotFound(new { error = $"no camera '{id}'" }));

        app.MapPost("/api/cameras", async (HttpContext http, ICameraRegistry registry, IOptions<HttpOptions> options) =>
        {
            // The token is checked before the body is even read: a caller without it learns nothing (not even 400 vs 401).
            if (!Authorized(http, options.Value))
            {
                return Results.Json(new { error = "camera control needs Authorization: Bearer <Http:ControlToken>" }, statusCode: StatusCodes.Status401Unauthorized);
            }

            CameraOptions? camera;
            try
            {
                camera = await http.Request.ReadFromJsonAsync<CameraOptions>(BodyJson, http.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
            {
                return Results.BadRequest(new { error = $"the body is not a camera as in config ({ex.Message.Split('\n')[0]}): send e.g. {{\"Id\":\"cam-2\",\"Url\":\"rtsp://host/path\"}}" });
            }

            if (camera is null)
            {
                return Results.BadRequest(new { error = "the body is empty: send a camera as in config, e.g. {\"Id\":\"cam-2\",\"Url\":\"rtsp://host/path\"}" });
            }

            try
            {
                await registry.AddAsync(camera, http.RequestAborted).ConfigureAwait(false);
                return Results.Created($"/api/cameras/{camera.Id}", registry.Get(camera.Id) is { } s ? CameraView.From(s) : null);
            }
            catch (ArgumentException ex)
            {
                return Results.BadRequest(new { error = UrlRedactor.Redact(ex.Message) });
            }
            catch (InvalidOperationException ex)
            {
                return Results.Json(new { error = ex.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });

        app.MapDelete("/api/cameras/{id}", async (HttpContext http, string id, ICameraRegistry registry, IOptions<HttpOptions> options) =>
        {
            if (!Authorized(http, options.Value))
            {
                return Results.Json(new { error = "camera control needs Authorization: Bearer <Http:ControlToken>" }, statusCode: StatusCodes.Status401Unauthorized);
            }

            return await registry.RemoveAsync(id, http.RequestAborted).ConfigureAwait(false)
                ? Results.NoContent()
                : Results.NotFound(new { error = $"no camera '{id}'" });
        });
    }

    /// <summary>A camera in the body is written as in the config file: any case, enums by name ("Pacing": "Native").</summary>
    private static readonly System.Text.Json.JsonSerializerOptions BodyJson = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private static bool Authorized(HttpContext http, HttpOptions options)
    {
        if (string.IsNullOrEmpty(options.ControlToken))
        {
            return true;
        }

        var header = http.Request.Headers.Authorization.ToString();
        var expected = "Bearer " + options.ControlToken;
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(header), System.Text.Encoding.UTF8.GetBytes(expected));
    }

    /// <summary>What the API shows of a camera (the URL redacted, as everywhere).</summary>
    private sealed record CameraView(string Id, string Url, string Kind, string State, DateTimeOffset Since, long FramesDecoded,
        long FramesDropped, long Reconnects, string? LastError, double Fps, int Width, int Height)
    {
        public static CameraView From(CameraStatus s) => new(s.Id, UrlRedactor.Redact(s.Url), s.Kind.ToString(), s.State.ToString(), s.Since,
            s.FramesDecoded, s.FramesDropped, s.Reconnects, s.LastError, s.Fps, s.Width, s.Height);
    }
}
