using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VideoCapture = OpenCvSharp.VideoCapture;
using VideoCaptureProperties = OpenCvSharp.VideoCaptureProperties;
using Streaming.Hosting;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Ingest;
using Streaming.Sink;
using Streaming.Track;

namespace Streaming.App.Commands;

/// <summary>
/// <c>stream analyze VIDEO... --out DIR</c>: the same pipeline as <c>stream run</c> (ingest, detection, tracking, the
/// cameras' zones, lines and objects) on recordings, as fast as the machine allows and without Kafka or Redis. Each
/// video is a camera (its id the file name) read at <c>Pacing=Full</c>; its events go to DIR/events.jsonl in the Kafka
/// event schema, in order. A progress line while it runs, a summary at the end (frames/s, alerts per class). Because
/// frames carry their media time, the events are those the same file gives played like a live camera.
/// </summary>
internal static partial class AnalyzeCommand
{
    public static Command Create()
    {
        var videos = new Argument<FileInfo[]>("video") { Description = "Recordings to analyse (any file the camera decoder reads: mp4, mkv, ...).", Arity = ArgumentArity.OneOrMore };
        var outDir = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for events.jsonl and clips/ (a clip per ended track; --set Clips:Enabled=false: none).", DefaultValueFactory = _ => new DirectoryInfo("analyze-out") };
        var config = new Option<FileInfo?>("--config", "-c")
        {
            Description = "Pipeline configuration for Detect and Track; a Cameras entry whose Id is a video's file name, or whose Url is a file of the same name, lends that video its Id, Zones, Lines, Objects and other settings.",
        };
        var set = new Option<string[]>("--set") { Description = "Override a configuration key, e.g. --set Detect:MaxBatch=8 (repeatable)." };
        var objects = new Option<string[]>("--objects") { Description = "Classes to track on every video, by the model's names (e.g. --objects person car); default: the camera entry's, else all.", AllowMultipleArgumentsPerToken = true };
        var pacing = new Option<FilePacing>("--pacing")
        {
            Description = "Full (default): as fast as the machine allows, nothing dropped; Native: each video at its own frame rate, like a live camera (to compare the two).",
            DefaultValueFactory = _ => FilePacing.Full,
        };
        var command = new Command("analyze", "Analyse recordings with the whole pipeline at full speed: events.jsonl (the Kafka event schema), no Kafka or Redis needed.")
        {
            videos, outDir, config, set, objects, pacing,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(videos)!, parse.GetValue(outDir)!, parse.GetValue(config), parse.GetValue(set) ?? [],
            parse.GetValue(objects) ?? [], parse.GetValue(pacing), ct));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo[] videos, DirectoryInfo outDir, FileInfo? configFile, string[] overrides, string[] objects,
        FilePacing pacing, CancellationToken ct)
    {
        var missing = videos.Where(v => !v.Exists).Select(v => $"video '{v.FullName}' not found: check the path").ToList();
        var loaded = PipelineConfiguration.Load(configFile, overrides, out var loadErrors);
        var problems = loadErrors.Concat(missing).ToList();
        var ids = CameraIds(videos);
        if (problems.Count == 0)
        {
            try
            {
                Directory.CreateDirectory(outDir.FullName);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                problems.Add($"cannot create the output folder '{outDir.FullName}' ({ex.Message}): pass --out with a writable folder");
            }
        }

        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                await Console.Error.WriteLineAsync($"stream analyze: {problem}").ConfigureAwait(false);
            }

            return 2;
        }

        var configuration = WithCameras(loaded, videos, ids, objects.SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(), pacing, outDir);
        var eventsPath = Path.Combine(outDir.FullName, "events.jsonl");
        await using var output = new FileStream(eventsPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
        using var host = Build(configuration, output);
        var failures = PipelineHost.ValidateAll(host.Services);
        if (failures.Count > 0)
        {
            foreach (var failure in failures)
            {
                await Console.Error.WriteLineAsync($"stream analyze: config error: {UrlRedactor.Redact(failure)}").ConfigureAwait(false);
            }

            return 2;
        }

        var writer = host.Services.GetRequiredService<EventFileWriter>();
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var ended = new HashSet<string>(StringComparer.Ordinal);
        writer.CameraStopped += change =>
        {
            lock (ended)
            {
                // Every video read to its end (or failed): the pipeline drains what it holds and the host stops.
                if (ended.Add(change.CameraId) && ids.All(ended.Contains))
                {
                    lifetime.StopApplication();
                }
            }
        };

        var totals = videos.Select((v, i) => (Id: ids[i], Frames: FrameCount(v.FullName))).ToList();
        var clock = Stopwatch.StartNew();
        await host.StartAsync(ct).ConfigureAwait(false);
        using var progress = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        var progressLoop = ShowProgressAsync(writer, totals, clock, progress.Token);
        await host.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        await progress.CancelAsync().ConfigureAwait(false);
        await progressLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);

        var stageFailures = host.Services.GetServices<IHostedService>().OfType<BackgroundService>()
            .Where(s => s.ExecuteTask is { IsFaulted: true })
            .Select(s => s.ExecuteTask!.Exception!.InnerExceptions[0].Message)
            .ToList();
        foreach (var failure in stageFailures)
        {
            await Console.Error.WriteLineAsync("stream analyze: " + UrlRedactor.Redact(failure)).ConfigureAwait(false);
        }

        var frames = writer.FramesPerCamera.Values.Sum();
        var seconds = clock.Elapsed.TotalSeconds;
        var alerts = writer.AlertsPerClass;
        Console.Error.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"analyze: {videos.Length} video(s), {frames} frames in {seconds:F1} s ({frames / Math.Max(seconds, 1e-3):F1} frames/s); {writer.Events} events in {eventsPath}"));
        if (writer.Clips > 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"clips: {writer.Clips} in {Path.Combine(outDir.FullName, "clips")}"));
        }

        Console.WriteLine("alerts: " + (alerts.Count == 0 ? "none" : string.Join(", ", alerts.OrderByDescending(a => a.Value).Select(a => $"{a.Key} {a.Value}"))));
        return stageFailures.Count > 0 ? 1 : 0;
    }

    /// <summary>The ingest, detect and track stages, and the events file as the sink; registered sink first, as <c>stream run</c> does.</summary>
    private static IHost Build(IConfigurationRoot configuration, Stream output)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Streaming.Detect.Detector", LogLevel.Error); // the CPU fallback warning says nothing new here
        builder.Logging.AddConfiguration(configuration.GetSection("Logging"));
        var services = builder.Services;
        services.AddMetrics();
        services.Configure<HostOptions>(o =>
        {
            o.ServicesStartConcurrently = false;
            o.ServicesStopConcurrently = true;
            o.ShutdownTimeout = Timeout.InfiniteTimeSpan; // a recording is analysed to its end
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });
        services.AddPipelineChannels(configuration);
        services.AddSingleton<ClipMetrics>();
        services.AddSingleton(sp => new EventFileWriter(
            sp.GetRequiredService<System.Threading.Channels.ChannelReader<TrackedFrame>>(),
            sp.GetRequiredService<System.Threading.Channels.ChannelReader<CameraStatusChange>>(), output,
            clips: sp.GetRequiredService<IOptions<ClipOptions>>().Value is { Enabled: true } clips
                ? late => ClipWriter.Start(clips, sp.GetRequiredService<ICameraClips>(), sp.GetRequiredService<ClipMetrics>(), late,
                    sp.GetRequiredService<ILoggerFactory>().CreateLogger<ClipWriter>(), sp.GetService<TimeProvider>())
                : null));
        services.AddHostedService(sp => sp.GetRequiredService<EventFileWriter>());
        services.AddTrack(configuration);
        services.AddDetect(configuration);
        services.AddIngest(configuration);
        return builder.Build();
    }

    /// <summary>
    /// The configuration with <c>Cameras</c> replaced by the videos: each at <paramref name="pacing"/>, read once; a config entry whose
    /// Id is the video's file name, or that plays a file of the same name, lends it its id and other keys (zones, lines,
    /// objects, MaxFps, ...); <paramref name="objects"/>, when given, is what every video tracks.
    /// </summary>
    private static IConfigurationRoot WithCameras(IConfigurationRoot loaded, FileInfo[] videos, List<string> ids, IReadOnlyList<string> objects, FilePacing pacing,
        DirectoryInfo outDir)
    {
        var entries = loaded.GetSection("Cameras").GetChildren().ToList();
        var keys = loaded.AsEnumerable().Where(kv => !kv.Key.StartsWith("Cameras:", StringComparison.OrdinalIgnoreCase) && !kv.Key.Equals("Cameras", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < videos.Length; i++)
        {
            var at = $"Cameras:{i}";
            // The config's entry for this video: the one with its id, or the one that plays the same file.
            var entry = entries.FirstOrDefault(e => e["Id"] == ids[i])
                ?? entries.FirstOrDefault(e => e["Url"] is { } url && string.Equals(Path.GetFileName(url), videos[i].Name, StringComparison.Ordinal));
            if (entry is not null)
            {
                ids[i] = entry["Id"] ?? ids[i];
                foreach (var (key, value) in entry.AsEnumerable(makePathsRelative: true).Where(kv => kv.Value is not null))
                {
                    keys[$"{at}:{key}"] = value;
                }
            }

            keys[$"{at}:Id"] = ids[i];
            keys[$"{at}:Url"] = videos[i].FullName;
            keys[$"{at}:Pacing"] = pacing.ToString();
            keys[$"{at}:Loop"] = "false";
            keys[$"{at}:Enabled"] = "true";
            if (objects.Count > 0)
            {
                foreach (var old in keys.Keys.Where(k => k.StartsWith($"{at}:Objects:Track:", StringComparison.OrdinalIgnoreCase)).ToList())
                {
                    keys.Remove(old);
                }

                for (var j = 0; j < objects.Count; j++)
                {
                    keys[$"{at}:Objects:Track:{j}"] = objects[j];
                }
            }
        }

        // Clips (unless Clips:Enabled=false) go beside events.jsonl, each waited for: an analysis is not latency-bound.
        keys["Clips:Directory"] = Path.Combine(outDir.FullName, "clips");
        keys["Clips:WaitMs"] = "5000";
        return new ConfigurationBuilder().AddInMemoryCollection(keys).Build();
    }

    /// <summary>Camera ids from the file names (letters, digits, '.', '_', '-'), made unique with a suffix.</summary>
    private static List<string> CameraIds(FileInfo[] videos)
    {
        var ids = new List<string>();
        foreach (var video in videos)
        {
            var stem = NotAnIdCharacter().Replace(Path.GetFileNameWithoutExtension(video.Name), "_");
            stem = stem.Length == 0 ? "video" : stem[..Math.Min(stem.Length, 60)];
            var id = stem;
            for (var n = 2; ids.Contains(id); n++)
            {
                id = $"{stem}-{n}";
            }

            ids.Add(id);
        }

        return ids;
    }

    private static long FrameCount(string path)
    {
        using var capture = new VideoCapture(path);
        return capture.IsOpened() ? (long)capture.Get(VideoCaptureProperties.FrameCount) : 0;
    }

    /// <summary>One line a second on stderr: frames through the pipeline of all the videos, the share done and the rate.</summary>
    private static async Task ShowProgressAsync(EventFileWriter writer, List<(string Id, long Frames)> totals, Stopwatch clock, CancellationToken ct)
    {
        var total = totals.Sum(t => t.Frames);
        var terminal = !Console.IsErrorRedirected;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(terminal ? 0.5 : 5));
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            var done = writer.FramesPerCamera.Values.Sum();
            var share = total > 0 ? Math.Min(1.0, (double)done / total) : 0;
            var bar = new string('#', (int)(share * 30)).PadRight(30, '.');
            var line = string.Create(CultureInfo.InvariantCulture,
                $"analyze [{bar}] {done}/{(total > 0 ? total.ToString(CultureInfo.InvariantCulture) : "?")} frames ({share:P0}), {done / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):F1} frames/s, {writer.AlertsPerClass.Values.Sum()} alerts");
            await Console.Error.WriteAsync(terminal ? "\r" + line : line + Environment.NewLine).ConfigureAwait(false);
        }
    }

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex NotAnIdCharacter();
}
