using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// Checks the <c>Cameras</c> configuration and returns one clear line per problem (naming the camera and the fix):
/// duplicate ids, unknown URL schemes, missing files, out-of-range numbers. Usable by the host before it starts
/// and by <see cref="CameraManager.AddAsync"/> for cameras added at runtime.
/// </summary>
public static class CameraConfigValidator
{
    public static IReadOnlyList<string> Validate(IEnumerable<CameraOptions> cameras)
    {
        ArgumentNullException.ThrowIfNull(cameras);
        var errors = new List<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var index = 0;
        foreach (var camera in cameras)
        {
            if (camera is null)
            {
                errors.Add($"Cameras[{index}]: empty entry (remove it or give it an Id and a Url).");
                index++;
                continue;
            }

            errors.AddRange(ValidateOne(camera, $"Cameras[{index}]"));
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

            index++;
        }

        return errors;
    }

    /// <summary>The problems of one camera; <paramref name="where"/> prefixes each message (e.g. "Cameras[2]").</summary>
    public static IReadOnlyList<string> ValidateOne(CameraOptions camera, string? where = null)
    {
        ArgumentNullException.ThrowIfNull(camera);
        var errors = new List<string>();
        var name = string.IsNullOrEmpty(camera.Id) ? "(no id)" : $"'{camera.Id}'";
        var prefix = where is null ? $"camera {name}" : $"{where} camera {name}";
        var url = UrlRedactor.Redact(camera.Url);

        var context = new ValidationContext(camera);
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(camera, context, results, validateAllProperties: true))
        {
            foreach (var r in results)
            {
                var member = string.Join(", ", r.MemberNames);
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: {member}: {r.ErrorMessage}"));
            }
        }

        if (double.IsNaN(camera.MaxFps) || double.IsInfinity(camera.MaxFps))
        {
            errors.Add($"{prefix}: MaxFps must be a number between 0 (no cap) and 1000.");
        }

        if (camera.Height > 0 && camera.Width == 0)
        {
            errors.Add($"{prefix}: Height is set without Width; set Width too (or only Width, and Height follows the aspect).");
        }

        if (string.IsNullOrWhiteSpace(camera.Url))
        {
            return errors;
        }

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

    /// <summary>The problems of the <c>Ingest</c> section.</summary>
    public static IReadOnlyList<string> Validate(IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        void Positive(double value, string key)
        {
            if (!(value > 0) || double.IsInfinity(value))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"Ingest:{key} is {value}; it must be a positive number of seconds."));
            }
        }

        Positive(options.BackoffInitialSeconds, nameof(options.BackoffInitialSeconds));
        Positive(options.BackoffMaxSeconds, nameof(options.BackoffMaxSeconds));
        Positive(options.WatchdogSeconds, nameof(options.WatchdogSeconds));
        Positive(options.SocketTimeoutSeconds, nameof(options.SocketTimeoutSeconds));
        Positive(options.OpenTimeoutSeconds, nameof(options.OpenTimeoutSeconds));
        if (options.BackoffMaxSeconds < options.BackoffInitialSeconds)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"Ingest:BackoffMaxSeconds ({options.BackoffMaxSeconds}) is below Ingest:BackoffInitialSeconds ({options.BackoffInitialSeconds}); raise the maximum."));
        }

        if (!(options.BackoffResetAfterSeconds >= 0))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Ingest:BackoffResetAfterSeconds is {options.BackoffResetAfterSeconds}; it must be 0 or more seconds."));
        }

        if (!(options.BackoffJitter >= 0 && options.BackoffJitter < 1))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Ingest:BackoffJitter is {options.BackoffJitter}; it must be a fraction in [0, 1), e.g. 0.2."));
        }

        if (options.RtspTransport is not ("tcp" or "udp"))
        {
            errors.Add($"Ingest:RtspTransport is '{options.RtspTransport}'; use \"tcp\" or \"udp\".");
        }

        if (string.IsNullOrWhiteSpace(options.FfmpegPath))
        {
            errors.Add("Ingest:FfmpegPath is empty; set it to \"ffmpeg\" or the full path of the ffmpeg executable.");
        }

        if (options.DecoderThreads is < 0 or > 64)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Ingest:DecoderThreads is {options.DecoderThreads}; use 0 (ffmpeg's choice) to 64."));
        }

        return errors;
    }
}
