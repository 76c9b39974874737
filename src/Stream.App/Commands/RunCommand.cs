using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Streaming.Hosting;

namespace Streaming.App.Commands;

/// <summary><c>stream run --config FILE [--set Key=Value]... [--duration S]</c>: the whole pipeline until Ctrl+C or SIGTERM.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "Pipeline configuration (JSON with comments; config/pipeline.json documents every key).",
            DefaultValueFactory = _ => new FileInfo(Path.Combine("config", "demo.json")),
        };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a configuration key, e.g. --set Detect:MaxBatch=8 (repeatable).",
            AllowMultipleArgumentsPerToken = false,
        };
        var duration = new Option<double?>("--duration")
        {
            Description = "Stop gracefully after this many seconds (default: run until Ctrl+C or SIGTERM).",
        };
        var command = new Command("run", "Run the pipeline: cameras -> detection -> tracking -> Kafka events and Redis frames.")
        {
            config, set, duration,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(config), parse.GetValue(set) ?? [], parse.GetValue(duration), ct));
        return command;
    }

    internal static async Task<int> RunAsync(FileInfo? configFile, IReadOnlyList<string> overrides, double? durationSeconds, CancellationToken ct)
    {
        var configuration = PipelineConfiguration.Load(configFile, overrides, out var errors);
        if (errors.Count > 0)
        {
            foreach (var error in errors)
            {
                await Console.Error.WriteLineAsync($"stream: {error}").ConfigureAwait(false);
            }

            return 2;
        }

        // Before the host is built: building writes the web host's own settings (urls, shutdownTimeoutSeconds) into the configuration.
        var unknownSections = PipelineConfiguration.UnknownSections(configuration);
        await using var app = BuildOrReport(configuration, out var buildError);
        if (app is null)
        {
            await Console.Error.WriteLineAsync($"stream: {buildError}").ConfigureAwait(false);
            return 2;
        }

        // Validate every options type before any stage is built, so that all problems (unknown keys, values that do not
        // convert, values out of range, rules across fields) are listed at once, one line each.
        var failures = unknownSections.Concat(PipelineHost.ValidateAll(app.Services)).ToList();
        if (failures.Count > 0)
        {
            foreach (var failure in failures)
            {
                await Console.Error.WriteLineAsync($"stream: config error: {Core.UrlRedactor.Redact(failure)}").ConfigureAwait(false);
            }

            return 2;
        }

        try
        {
            await app.StartAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FileNotFoundException or ArgumentException or IOException)
        {
            await Console.Error.WriteLineAsync($"stream: {Core.UrlRedactor.Redact(ex.Message)}").ConfigureAwait(false);
            return 2;
        }

        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();

        // A background loop that ends with an exception or cancelled stops the host (BackgroundServiceExceptionBehavior.StopHost).
        // Which loops had ended when the stop came is noted then: one cancelled that way never counts as faulted.
        var loops = app.Services.GetServices<IHostedService>().OfType<BackgroundService>().Distinct().ToList();
        List<BackgroundService>? endedBeforeStop = null;
        using var noteEnded = lifetime.ApplicationStopping.Register(() =>
            endedBeforeStop ??= [.. loops.Where(s => s.ExecuteTask is { IsFaulted: true } or { IsCanceled: true })]);
        if (durationSeconds is > 0)
        {
            _ = Task.Delay(TimeSpan.FromSeconds(durationSeconds.Value), lifetime.ApplicationStopping)
                .ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
        }

        await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        // Every frame has one owner who disposes it; once the stages have drained, no pixel buffer may still be rented.
        // A stage that failed leaves its input queue as the last owner of what is in it.
        app.Services.GetRequiredService<Core.PipelineChannels>().ReleaseUndelivered();
        var outstanding = app.Services.GetRequiredService<Core.FrameBufferPool>().OutstandingCount;
        if (outstanding != 0)
        {
            await Console.Error.WriteLineAsync($"stream: {outstanding} frame buffer(s) still rented after shutdown: a frame was not disposed (a bug; please report it with the log)").ConfigureAwait(false);
        }

        var stageFailures = loops.Where(s => s.ExecuteTask is { IsFaulted: true } || endedBeforeStop?.Contains(s) == true).ToList();
        var log = app.Services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>().CreateLogger(typeof(RunCommand).FullName!);
        foreach (var stage in stageFailures)
        {
            // One line per stage that ended the process, naming the stage and the cause. A stage that could not run (e.g. a
            // model that is not ONNX) says why, naming the thing and the fix; an unexpected exception (a bug) is named by its
            // type, and its stack trace goes to the log.
            var name = StageName(stage);
            string line;
            if (stage.ExecuteTask!.Exception?.InnerExceptions[0] is { } failure)
            {
                line = IsBadInput(failure) ? $"{name}: {failure.Message}" : $"{name} failed ({failure.GetType().Name}): {failure.Message.ReplaceLineEndings(" ")} (stack trace in the log)";
                if (!IsBadInput(failure))
                {
                    AppLog.StageFailed(log, name, failure);
                }
            }
            else
            {
                line = $"{name} stopped: its loop ended cancelled while the pipeline was running, which stops the whole process (a bug; please report it with the log)";
            }

            await Console.Error.WriteLineAsync("stream: " + Core.UrlRedactor.Redact(line)).ConfigureAwait(false);
        }

        return stageFailures.Count > 0 ? 1 : 0;
    }

    /// <summary>The stage's name as the docs use it (Sink, Detect, Track, Ingest), or the loop's type name.</summary>
    private static string StageName(BackgroundService service)
    {
        var type = service.GetType().Name;
        return type.EndsWith("Service", StringComparison.Ordinal) && type.Length > 7 ? type[..^7] : type;
    }

    /// <summary>Exceptions that stages throw for bad input or an unusable environment, whose message is the whole story.</summary>
    private static bool IsBadInput(Exception ex) =>
        ex is Detect.DetectModelException or InvalidOperationException or FileNotFoundException or ArgumentException or IOException
            or UnauthorizedAccessException or OptionsValidationException;

    private static Microsoft.AspNetCore.Builder.WebApplication? BuildOrReport(Microsoft.Extensions.Configuration.IConfigurationRoot configuration, out string? error)
    {
        try
        {
            error = null;
            return PipelineHost.Build(configuration);
        }
        catch (InvalidOperationException ex)
        {
            // ErrorOnUnknownConfiguration and binding errors surface here: the message names the key.
            error = $"config error: {ex.Message}";
            return null;
        }
    }
}
