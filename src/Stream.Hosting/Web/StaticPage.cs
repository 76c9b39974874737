using System.Collections.Frozen;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Streaming.Hosting.Web;

/// <summary>
/// The page's files (src/Stream.Hosting/wwwroot: plain HTML, CSS and JS, no build step, no CDN), embedded in the
/// assembly so that the page works wherever the binary runs, offline included. Served with an ETag.
/// </summary>
internal static class StaticPage
{
    private static readonly FrozenDictionary<string, (byte[] Body, string ContentType, string ETag)> Files = Load();

    public static void Map(WebApplication app)
    {
        app.MapGet("/", (HttpContext http) => Serve(http, "index.html"));
        app.MapGet("/ui/{name}", (string name, HttpContext http) => Serve(http, name));
    }

    private static IResult Serve(HttpContext http, string name)
    {
        if (!Files.TryGetValue(name, out var file))
        {
            return Results.NotFound();
        }

        http.Response.Headers.ETag = file.ETag;
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'";
        return http.Request.Headers.IfNoneMatch == file.ETag ? Results.StatusCode(StatusCodes.Status304NotModified) : Results.Bytes(file.Body, file.ContentType);
    }

    private static FrozenDictionary<string, (byte[], string, string)> Load()
    {
        const string prefix = "wwwroot/";
        var assembly = Assembly.GetExecutingAssembly();
        var files = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var body = copy.ToArray();
            var name = resource[prefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            files[name] = (body, type, "\"" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body))[..16] + "\"");
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
