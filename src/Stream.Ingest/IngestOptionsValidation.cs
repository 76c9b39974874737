using System.Globalization;
using Microsoft.Extensions.Options;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>The cameras ingest starts with: the top-level <c>Cameras</c> list of the configuration.</summary>
public sealed class CameraListOptions
{
    public const string Section = "Cameras";

    public List<CameraOptions> Cameras { get; } = [];

    /// <summary>The whole check of the <c>Cameras</c> list, as start-up and config edits run it.</summary>
    public static SectionValidator<CameraListOptions> Validator { get; } = new(Section, new CameraListRules());
}

/// <summary>DataAnnotations of <see cref="IngestOptions"/>, written by the options source generator.</summary>
[OptionsValidator]
public sealed partial class IngestOptionsValidator : IValidateOptions<IngestOptions>;

/// <summary>DataAnnotations of one <see cref="CameraOptions"/>, written by the options source generator.</summary>
[OptionsValidator]
public sealed partial class CameraOptionsValidator : IValidateOptions<CameraOptions>;

/// <summary>The <c>Ingest</c> section's rules that span fields.</summary>
public sealed class IngestOptionsRules : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.BackoffMaxSeconds < options.BackoffInitialSeconds
            ? ValidateOptionsResult.Fail(string.Create(CultureInfo.InvariantCulture,
                $"Ingest:BackoffMaxSeconds ({options.BackoffMaxSeconds}) is below Ingest:BackoffInitialSeconds ({options.BackoffInitialSeconds}); raise the maximum."))
            : ValidateOptionsResult.Success;
    }
}

/// <summary>
/// The checks of one camera, wherever it comes from (the config file at start, an edit of it, the HTTP API): its
/// DataAnnotations (generated) and the rules that span fields or look outside (URL scheme, file present). One line per
/// problem, naming the camera and the fix.
/// </summary>
public static class CameraChecks
{
    private static readonly CameraOptionsValidator Annotations = new();

    /// <summary>The problems of one camera; <paramref name="where"/> prefixes each message (e.g. "Cameras[2]").</summary>
    public static IReadOnlyList<string> Problems(CameraOptions camera, string? where = null)
    {
        ArgumentNullException.ThrowIfNull(camera);
        var errors = new List<string>();
        var name = string.IsNullOrEmpty(camera.Id) || camera.Id.Length > 64 ? "(no id)" : $"'{camera.Id}'";
        var prefix = where is null ? $"camera {name}" : $"{where} camera {name}";

        var annotations = Annotations.Validate("camera", camera);
        if (annotations.Failed)
        {
            errors.AddRange(OptionsMessages.ToConfigKeys(annotations.Failures, "camera", string.Empty).Select(f => $"{prefix}: {f}"));
        }

        if (camera.Height > 0 && camera.Width == 0)
        {
            errors.Add($"{prefix}: Height is set without Width; set Width too (or only Width, and Height follows the aspect).");
        }

        for (var i = 0; i < camera.MotionMasks.Count; i++)
        {
            if (MotionMask.TryParse(camera.MotionMasks[i], out var maskError) is null)
            {
                errors.Add($"{prefix}: MotionMasks[{i}] {maskError}.");
            }
        }

        // Zones, lines and objects: named by the camera's place (Cameras[2], or the camera's id for the API and the registry).
        var at = where ?? $"camera {name}";
        errors.AddRange(CameraSceneRules.GeometryProblems(at, camera.Geometry()));
        errors.AddRange(CameraSceneRules.ObjectProblems(at, camera.Objects ?? new ObjectsOptions()));

        if (string.IsNullOrWhiteSpace(camera.Url) || camera.Url.Length > CameraOptions.MaxUrlLength)
        {
            return errors;
        }

        var url = UrlRedactor.Redact(camera.Url);
        switch (CameraSource.Classify(camera.Url, out var scheme))
        {
            case SourceKind.Unknown:
                errors.Add($"{prefix}: unknown URL scheme '{scheme}' in {url}; use rtsp://, rtsps://, http://, https://, a file path or /dev/videoN.");
                break;
            case SourceKind.File:
                var path = CameraSource.FilePath(camera.Url);
                if (!File.Exists(path))
                {
                    errors.Add($"{prefix}: file '{UrlRedactor.Redact(path)}' not found; fix the path (relative paths are from the working directory {Environment.CurrentDirectory}) or run scripts/setup.sh for the samples.");
                }

                break;
            case SourceKind.Network:
                if (!Uri.TryCreate(camera.Url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
                {
                    errors.Add($"{prefix}: '{url}' is not a valid URL; write it as {scheme}://host[:port]/path.");
                }

                break;
            case SourceKind.Device:
                // A device may be plugged in later; a missing one is retried with backoff.
                break;
        }

        return errors;
    }
}

/// <summary>The <c>Cameras</c> list: every camera's own checks, and ids unique across the list.</summary>
public sealed class CameraListRules : IValidateOptions<CameraListOptions>
{
    public ValidateOptionsResult Validate(string? name, CameraListOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var index = 0; index < options.Cameras.Count; index++)
        {
            var camera = options.Cameras[index];
            if (camera is null)
            {
                errors.Add($"Cameras[{index}]: empty entry (remove it or give it an Id and a Url).");
                continue;
            }

            errors.AddRange(CameraChecks.Problems(camera, $"Cameras[{index}]"));
            if (!string.IsNullOrEmpty(camera.Id))
            {
                if (seen.TryGetValue(camera.Id, out var first))
                {
                    errors.Add($"Cameras[{index}]: duplicate camera id '{camera.Id}' (also Cameras[{first}]); give every camera a unique Id.");
                }
                else
                {
                    seen[camera.Id] = index;
                }
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
