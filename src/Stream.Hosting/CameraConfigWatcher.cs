using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Hosting;

/// <summary>
/// Applies edits of the config file's <c>Cameras</c> while the pipeline runs: a new id starts a camera, a removed id
/// stops it, a changed entry restarts it. Cameras added through the HTTP API are left alone. An edit is read the way
/// start-up reads the list (the same <see cref="CameraListOptions"/> binding and validation); an edit with problems is
/// ignored as a whole, each problem logged, and the running cameras stay as they are.
/// </summary>
internal sealed class CameraConfigWatcher(
    IOptions<CameraListOptions> atStart,
    IOptionsFactory<CameraListOptions> factory,
    IEnumerable<IOptionsChangeTokenSource<CameraListOptions>> changes,
    ICameraRegistry registry,
    ILogger<CameraConfigWatcher> logger) : BackgroundService
{
    private readonly Dictionary<string, string> _fromConfig = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var camera in atStart.Value.Cameras.Where(c => c.Enabled))
        {
            _fromConfig[camera.Id] = Fingerprint(camera);
        }

        var changed = new SemaphoreSlim(0, 1);
        var subscriptions = changes.Select(source => ChangeToken.OnChange(source.GetChangeToken, () =>
        {
            if (changed.CurrentCount == 0)
            {
                changed.Release();
            }
        })).ToList();

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await changed.WaitAsync(stoppingToken).ConfigureAwait(false);
                // Editors write files in several steps; let the last one land.
                await Task.Delay(TimeSpan.FromMilliseconds(300), stoppingToken).ConfigureAwait(false);
                await ApplyAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        finally
        {
            subscriptions.ForEach(s => s.Dispose());
            changed.Dispose();
        }
    }

    internal async Task ApplyAsync(CancellationToken ct)
    {
        List<CameraOptions> cameras;
        try
        {
            cameras = factory.Create(Options.DefaultName).Cameras;
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                HostLog.ConfigChangeIgnored(logger, UrlRedactor.Redact(failure));
            }

            return;
        }

        var wanted = cameras.Where(c => c.Enabled).ToDictionary(c => c.Id, StringComparer.Ordinal);
        foreach (var (id, fingerprint) in _fromConfig.ToList())
        {
            if (!wanted.TryGetValue(id, out var camera) || Fingerprint(camera) != fingerprint)
            {
                await registry.RemoveAsync(id, ct).ConfigureAwait(false);
                _fromConfig.Remove(id);
                HostLog.ConfigCameraRemoved(logger, id);
            }
        }

        foreach (var camera in wanted.Values.Where(c => !_fromConfig.ContainsKey(c.Id)))
        {
            try
            {
                await registry.AddAsync(camera, ct).ConfigureAwait(false);
                _fromConfig[camera.Id] = Fingerprint(camera);
                HostLog.ConfigCameraAdded(logger, camera.Id);
            }
            catch (ArgumentException ex)
            {
                HostLog.ConfigChangeIgnored(logger, UrlRedactor.Redact(ex.Message));
            }
        }
    }

    private static string Fingerprint(CameraOptions c) =>
        System.Text.Json.JsonSerializer.Serialize(c);
}
