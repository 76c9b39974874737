using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Streaming.Cluster;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Hosting;

/// <summary>
/// The camera API: <c>GET /api/cameras</c> lists cameras with their state; <c>POST /api/cameras</c> (a camera as in
/// config, <c>"Enabled": false</c> to list it without starting it) adds one; <c>DELETE /api/cameras/{id}</c> removes one;
/// <c>POST /api/cameras/{id}/disable</c> stops one and keeps it listed, <c>POST /api/cameras/{id}/enable</c> starts it
/// again; all without restarting the pipeline. When <c>Http:ControlToken</c> is set, these changes need
/// <c>Authorization: Bearer {token}</c>. A body is at most
/// <see cref="MaxBodyBytes"/> and is checked like a camera of the config file; API cameras are limited to network URLs
/// and files under <c>Http:CameraMediaRoot</c>.
/// </summary>
internal static class CameraEndpoints
{
    public static void Map(WebApplication app)
    {
        // In a cluster (Cluster:Enabled) the list is this worker's cameras, each naming the worker; adding and removing
        // write the camera registry, and the group decides which worker runs the camera.
        var worker = app.Services.GetService<WorkerIdentity>()?.Id;
        var live = app.Services.GetService<LiveMetrics>();
        app.MapGet("/api/cameras", (ICameraRegistry registry) => Results.Json(registry.Snapshot().Select(s => CameraView.From(s, worker, live))));
        app.MapGet("/api/cameras/{id}", (string id, ICameraRegistry registry) =>
            id.Length > MaxIdLength ? IdTooLong()
            : registry.Get(id) is { } status ? Results.Json(CameraView.From(status, worker, live)) : Results.NotFound(new { error = $"no camera '{id}'" }));

        app.MapPost("/api/cameras", async (HttpContext http, ICameraRegistry registry, IOptions<HttpOptions> options) =>
        {
            // The token is checked before the body is even read: a caller without it learns nothing (not even 400 vs 401).
            if (!Authorized(http, options.Value))
            {
                return Unauthorized();
            }

            // Resolved per request: building it reads the validated options, which start-up reports on its own.
            if (http.RequestServices.GetService<Cluster.CameraRegistryTopic>() is { } clusterRegistry)
            {
                // A registry record may carry the camera's Zones and Lines (as in Track:Cameras): they go with the camera.
                var (record, recordProblem) = await ReadBodyAsync(http.Request,
                    body => Cluster.RegistryCamera.Parse(body.ToArray(), c => ApiSourceProblem(c, options.Value))).ConfigureAwait(false);
                return record is null
                    ? Results.BadRequest(new { error = recordProblem })
                    : await PutToRegistryAsync(clusterRegistry, record, http.RequestAborted).ConfigureAwait(false);
            }

            var (camera, problem) = await ReadCameraAsync(http.Request, options.Value).ConfigureAwait(false);
            if (camera is null)
            {
                return Results.BadRequest(new { error = problem });
            }

            try
            {
                await registry.AddAsync(camera, http.RequestAborted).ConfigureAwait(false);
                return Results.Created($"/api/cameras/{camera.Id}", registry.Get(camera.Id) is { } s ? CameraView.From(s, worker, live) : null);
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

        app.MapPost("/api/cameras/{id}/enable", (HttpContext http, string id, ICameraRegistry registry, IOptions<HttpOptions> options) =>
            SetEnabledAsync(http, id, true, registry, options.Value));
        app.MapPost("/api/cameras/{id}/disable", (HttpContext http, string id, ICameraRegistry registry, IOptions<HttpOptions> options) =>
            SetEnabledAsync(http, id, false, registry, options.Value));

        app.MapDelete("/api/cameras/{id}", async (HttpContext http, string id, ICameraRegistry registry, IOptions<HttpOptions> options) =>
        {
            if (!Authorized(http, options.Value))
            {
                return Unauthorized();
            }

            if (id.Length > MaxIdLength)
            {
                return IdTooLong();
            }

            if (http.RequestServices.GetService<Cluster.CameraRegistryTopic>() is { } clusterRegistry)
            {
                return await RemoveFromRegistryAsync(clusterRegistry, id, http.RequestAborted).ConfigureAwait(false);
            }

            return await registry.RemoveAsync(id, http.RequestAborted).ConfigureAwait(false)
                ? Results.NoContent()
                : Results.NotFound(new { error = $"no camera '{id}'" });
        });
    }

    /// <summary>Enables or disables a camera: 200 with the camera as it is now, 404 when unknown, 503 when it cannot start yet.</summary>
    private static async Task<IResult> SetEnabledAsync(HttpContext http, string id, bool enabled, ICameraRegistry registry, HttpOptions options)
    {
        if (!Authorized(http, options))
        {
            return Unauthorized();
        }

        if (id.Length > MaxIdLength)
        {
            return IdTooLong();
        }

        if (http.RequestServices.GetService<Cluster.CameraRegistryTopic>() is { } clusterRegistry)
        {
            // The registry record is the camera's truth in a cluster: a local switch would be lost on the next move.
            return Results.Json(new { error = $"in a cluster a camera is enabled or disabled in the registry topic '{clusterRegistry.Topic}': send the camera again (POST /api/cameras or stream cameras put) with \"Enabled\": {(enabled ? "true" : "false")}" },
                statusCode: StatusCodes.Status409Conflict);
        }

        try
        {
            return await registry.SetEnabledAsync(id, enabled, http.RequestAborted).ConfigureAwait(false) && registry.Get(id) is { } status
                ? Results.Json(CameraView.From(status, http.RequestServices.GetService<WorkerIdentity>()?.Id, http.RequestServices.GetService<LiveMetrics>()))
                : Results.NotFound(new { error = $"no camera '{id}'" });
        }
        catch (InvalidOperationException ex)
        {
            return Results.Json(new { error = UrlRedactor.Redact(ex.Message) }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static IResult Unauthorized() =>
        Results.Json(new { error = "camera control needs Authorization: Bearer <Http:ControlToken>" }, statusCode: StatusCodes.Status401Unauthorized);

    private static async Task<IResult> PutToRegistryAsync(Cluster.CameraRegistryTopic registry, Cluster.RegistryCamera camera, CancellationToken ct)
    {
        try
        {
            var partition = await Task.Run(() => registry.PutAsync(camera, ct), ct).ConfigureAwait(false);
            return Results.Json(new { id = camera.Id, registry = registry.Topic, partition, state = "registered" }, statusCode: StatusCodes.Status202Accepted);
        }
        catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or InvalidOperationException or TimeoutException)
        {
            return RegistryUnavailable(registry, ex);
        }
    }

    private static async Task<IResult> RemoveFromRegistryAsync(Cluster.CameraRegistryTopic registry, string id, CancellationToken ct)
    {
        try
        {
            return await Task.Run(() => registry.RemoveAsync(id, ct), ct).ConfigureAwait(false)
                ? Results.NoContent()
                : Results.NotFound(new { error = $"no camera '{id}' in the registry" });
        }
        catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or InvalidOperationException or TimeoutException)
        {
            return RegistryUnavailable(registry, ex);
        }
    }

    private static IResult RegistryUnavailable(Cluster.CameraRegistryTopic registry, Exception ex) =>
        Results.Json(new { error = $"camera registry topic '{registry.Topic}' unavailable ({UrlRedactor.Redact(ex.Message)}): check Kafka and retry" }, statusCode: StatusCodes.Status503ServiceUnavailable);

    /// <summary>The largest body <c>POST /api/cameras</c> reads: a camera is a few hundred bytes, its Url at most <see cref="CameraOptions.MaxUrlLength"/> characters.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    /// <summary>Camera ids are 1-64 characters (<see cref="CameraOptions.Id"/>).</summary>
    private const int MaxIdLength = 64;

    private static IResult IdTooLong() =>
        Results.BadRequest(new { error = $"the camera id is longer than {MaxIdLength} characters: camera ids are 1-{MaxIdLength} letters, digits, '.', '_' or '-'" });

    private const string Example = "send a camera as in config, e.g. {\"Id\":\"cam-2\",\"Url\":\"rtsp://host/path\"}";

    /// <summary>
    /// Reads the body as one camera of the config file's <c>Cameras</c> list, through the same binding and checks (any
    /// case, enums by name, unknown keys and values that do not convert rejected), then applies what only the API asks:
    /// network URLs, or files under <see cref="HttpOptions.CameraMediaRoot"/>. Returns the camera, or one line saying what is wrong.
    /// </summary>
    internal static Task<(CameraOptions? Camera, string Problem)> ReadCameraAsync(HttpRequest request, HttpOptions options) =>
        ReadBodyAsync(request, body => CameraJson.Parse(body, c => ApiSourceProblem(c, options)));

    /// <summary>Reads the body (at most <see cref="MaxBodyBytes"/>) and parses it with <paramref name="parse"/>; returns what it made, or one line saying what is wrong.</summary>
    private static async Task<(T? Value, string Problem)> ReadBodyAsync<T>(HttpRequest request, Func<MemoryStream, (T? Value, IReadOnlyList<string> Problems)> parse)
        where T : class
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, $"the body is {request.ContentLength} bytes, over the limit of {MaxBodyBytes}: {Example}");
        }

        using var body = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (body.Length + read > MaxBodyBytes)
            {
                return (null, $"the body is over the limit of {MaxBodyBytes} bytes: {Example}");
            }

            body.Write(buffer, 0, read);
        }

        if (body.Length == 0)
        {
            return (null, $"the body is empty: {Example}");
        }

        body.Position = 0;
        var (camera, problems) = parse(body);
        if (camera is null && problems.Count == 1 && problems[0].StartsWith("not a camera as in config", StringComparison.Ordinal))
        {
            return (null, $"the body is {problems[0]}: {Example}");
        }

        return camera is not null ? (camera, string.Empty) : (null, UrlRedactor.Redact(string.Join("; ", problems)));
    }

    /// <summary>
    /// Cameras from the API may read the network, or files under the media root: anything else would let a caller make
    /// the process open (and report on) any file it can read. The config file is the operator's own and is not limited.
    /// </summary>
    private static string? ApiSourceProblem(CameraOptions camera, HttpOptions options)
    {
        if (string.IsNullOrWhiteSpace(camera.Url) || camera.Url.Length > CameraOptions.MaxUrlLength)
        {
            return null; // the camera's own checks name it
        }

        var name = string.IsNullOrEmpty(camera.Id) ? "(no id)" : $"'{camera.Id}'";
        switch (CameraSource.Classify(camera.Url))
        {
            case SourceKind.Network:
            case SourceKind.Unknown:
                return null;
            case SourceKind.File when !string.IsNullOrEmpty(options.CameraMediaRoot):
                var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.CameraMediaRoot)) + Path.DirectorySeparatorChar;
                var path = Path.GetFullPath(CameraSource.FilePath(camera.Url));
                return path.StartsWith(root, StringComparison.Ordinal)
                    ? null
                    : $"camera {name}: cameras added through the API may read files only under Http:CameraMediaRoot ({root}); use a path there or a network URL (rtsp://, rtsps://, http://, https://)";
            default:
                return $"camera {name}: cameras added through the API must use a network URL (rtsp://, rtsps://, http://, https://); files need Http:CameraMediaRoot set and devices the config file";
        }
    }

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

    /// <summary>
    /// What the API shows of a camera (the URL redacted, as everywhere). <c>framesDropped</c> counts the frames Ingest dropped
    /// oldest-first (the queue to Detect was full), <c>framesStale</c> those Detect dropped as older than Detect:StalenessMs;
    /// the status table's and the web tile's "drops" are the two together (<c>framesDroppedTotal</c>).
    /// </summary>
    private sealed record CameraView(string Id, string Url, string Kind, string State, DateTimeOffset Since, long FramesDecoded,
        long FramesDropped, long FramesStale, long FramesDroppedTotal, long Reconnects, string? LastError, double Fps, int Width, int Height, bool Enabled,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Worker,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] long? Epoch,
        bool Clips)
    {
        public static CameraView From(CameraStatus s, string? worker, LiveMetrics? metrics)
        {
            var stale = (long)(metrics?.Total(InstrumentNames.DetectStaleDropped, s.Id) ?? 0);
            return From(s, worker, stale);
        }

        private static CameraView From(CameraStatus s, string? worker, long stale) => new(s.Id, UrlRedactor.Redact(s.Url), s.Kind.ToString(), s.State.ToString(), s.Since,
            s.FramesDecoded, s.FramesDropped, stale, s.FramesDropped + stale, s.Reconnects, s.LastError, s.Fps, s.Width, s.Height, s.Enabled, worker, s.Epoch, s.Clips);
    }
}
