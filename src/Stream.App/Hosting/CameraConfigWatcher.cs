using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.App.Hosting;

/// <summary>
/// Applies edits of the config file's <c>Cameras</c> while the pipeline runs: a new id starts a camera, a removed id
/// stops it, a changed entry restarts it. Cameras added through the HTTP API are left alone.
/// </summary>
internal sealed partial class CameraConfigWatcher(IConfiguration configuration, ICameraRegistry registry, ILogger<CameraConfigWatcher> logger)
    : BackgroundService
{
    private readonly Dictionary<string, string> _fromConfig = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var camera in Read())
        {
            _fromConfig[camera.Id] = Fingerprint(camera);
        }

        var changed = new SemaphoreSlim(0, 1);
        using var subscription = ChangeToken.OnChange(configuration.GetReloadToken, () =>
        {
            if (changed.CurrentCount == 0)
            {
                changed.Release();
            }
        });

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await changed.WaitAsync(stoppingToken).ConfigureAwait(false);
                // Editors write files in several steps; let the last one land.
                await Task.Delay(TimeSpan.FromMilliseconds(300), stoppingToken).ConfigureAwait(false);
                await ApplyAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    internal async Task ApplyAsync(CancellationToken ct)
    {
        List<CameraOptions> cameras;
        try
        {
            cameras = Read();
        }
        catch (InvalidOperationException ex)
        {
            LogInvalid(logger, ex.Message);
            return;
        }

        var wanted = cameras.Where(c => c.Enabled).ToDictionary(c => c.Id, StringComparer.Ordinal);
        foreach (var (id, fingerprint) in _fromConfig.ToList())
        {
            if (!wanted.TryGetValue(id, out var camera) || Fingerprint(camera) != fingerprint)
            {
                await registry.RemoveAsync(id, ct).ConfigureAwait(false);
                _fromConfig.Remove(id);
                LogRemoved(logger, id);
            }
        }

        foreach (var camera in wanted.Values.Where(c => !_fromConfig.ContainsKey(c.Id)))
        {
            try
            {
                await registry.AddAsync(camera, ct).ConfigureAwait(false);
                _fromConfig[camera.Id] = Fingerprint(camera);
                LogAdded(logger, camera.Id);
            }
            catch (ArgumentException ex)
            {
                LogInvalid(logger, UrlRedactor.Redact(ex.Message));
            }
        }
    }

    private List<CameraOptions> Read() => configuration.GetSection("Cameras").Get<List<CameraOptions>>() ?? [];

    private static string Fingerprint(CameraOptions c) =>
        System.Text.Json.JsonSerializer.Serialize(c);

    [LoggerMessage(Level = LogLevel.Information, Message = "config change: camera {CameraId} added")]
    private static partial void LogAdded(ILogger logger, string cameraId);

    [LoggerMessage(Level = LogLevel.Information, Message = "config change: camera {CameraId} removed")]
    private static partial void LogRemoved(ILogger logger, string cameraId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "config change ignored: {Error}")]
    private static partial void LogInvalid(ILogger logger, string error);
}
