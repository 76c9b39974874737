using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Streaming.App.Hosting;

/// <summary>
/// Prints the pipeline's state once a second: a live table on a terminal (per camera: state, fps in/out, drops,
/// p50/p99 latency; globally: batch fill, inference ms, events/s), or one plain line per camera for logs.
/// Every figure comes from the same instruments that /metrics exports (<see cref="LiveMetrics"/>).
/// </summary>
internal sealed class StatusReporter(LiveMetrics metrics, Streaming.Ingest.ICameraRegistry cameras, IOptions<StatusOptions> options, IHostApplicationLifetime lifetime, RecentLogs logs)
    : BackgroundService
{
    private readonly Dictionary<string, double> _previous = new(StringComparer.Ordinal);
    private long _previousTimestamp;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var mode = ResolveMode(options.Value.Mode);

        if (mode == "off")
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return;
        }

        // Let start-up logging finish before drawing.
        var started = new TaskCompletionSource();
        await using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult()).ConfigureAwait(false);
        await started.Task.WaitAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        var interval = TimeSpan.FromSeconds(options.Value.IntervalSeconds);
        using var timer = new PeriodicTimer(interval);
        _previousTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            if (mode == "table")
            {
                await AnsiConsole.Live(new Text("starting...")).AutoClear(false).StartAsync(async ctx =>
                {
                    while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
                    {
                        ctx.UpdateTarget(new Rows(Render(Snapshot()), new Text(string.Join('\n', logs.Lines), new Style(Color.Grey))));
                    }
                }).ConfigureAwait(false);
            }
            else
            {
                while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
                {
                    foreach (var line in PlainLines(Snapshot()))
                    {
                        await Console.Out.WriteLineAsync(line).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>auto: a table on a terminal, plain lines when output is redirected.</summary>
    internal static string ResolveMode(string mode) => mode == "auto" ? (Console.IsOutputRedirected ? "plain" : "table") : mode;

    internal StatusSnapshot Snapshot()
    {
        metrics.Refresh();
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        var seconds = Math.Max(1e-3, System.Diagnostics.Stopwatch.GetElapsedTime(_previousTimestamp, now).TotalSeconds);
        _previousTimestamp = now;

        var rows = new List<CameraRow>();
        foreach (var camera in cameras.Snapshot())
        {
            rows.Add(new CameraRow(
                camera.Id,
                camera.State.ToString(),
                camera.Fps,
                Rate(InstrumentNames.SinkFrames, camera.Id, seconds),
                camera.FramesDropped + (long)metrics.Total(InstrumentNames.DetectStaleDropped, camera.Id),
                metrics.Percentile(Core.FrameLatency.TotalLatency, 0.50, camera.Id),
                metrics.Percentile(Core.FrameLatency.TotalLatency, 0.99, camera.Id),
                camera.LastError));
        }

        return new StatusSnapshot(
            rows,
            metrics.Mean(InstrumentNames.DetectBatchFill),
            metrics.Mean(InstrumentNames.DetectInferenceMs),
            Rate(InstrumentNames.SinkEventsProduced, null, seconds));
    }

    private double Rate(string instrument, string? camera, double seconds)
    {
        var key = instrument + "|" + camera;
        var total = metrics.Total(instrument, camera);
        _previous.TryGetValue(key, out var before);
        _previous[key] = total;
        return Math.Max(0, total - before) / seconds;
    }

    private static Table Render(StatusSnapshot s)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("camera", "state", "fps in", "fps out", "drops", "p50 ms", "p99 ms", "last error");
        foreach (var r in s.Cameras)
        {
            var stateColor = r.State switch
            {
                "Streaming" => "green",
                "Connecting" or "Backoff" => "yellow",
                "Failed" => "red",
                _ => "grey",
            };
            table.AddRow(
                Markup.Escape(r.Id), $"[{stateColor}]{r.State}[/]", F(r.FpsIn), F(r.FpsOut), r.Drops.ToString(CultureInfo.InvariantCulture),
                F(r.P50Ms), F(r.P99Ms), Markup.Escape(r.LastError ?? string.Empty));
        }

        table.Caption($"batch fill {P(s.BatchFill)}   inference {F(s.InferenceMs)} ms   events {F(s.EventsPerSecond)}/s");
        return table;
    }

    internal static IEnumerable<string> PlainLines(StatusSnapshot s)
    {
        foreach (var r in s.Cameras)
        {
            yield return FormattableString.Invariant(
                $"camera={r.Id} state={r.State} fps_in={F(r.FpsIn)} fps_out={F(r.FpsOut)} drops={r.Drops} p50_ms={F(r.P50Ms)} p99_ms={F(r.P99Ms)}{(r.LastError is null ? string.Empty : " error=\"" + r.LastError + "\"")}");
        }

        yield return FormattableString.Invariant($"pipeline batch_fill={P(s.BatchFill)} inference_ms={F(s.InferenceMs)} events_per_s={F(s.EventsPerSecond)}");
    }

    private static string F(double? v) => v is null ? "-" : v.Value.ToString("0.0", CultureInfo.InvariantCulture);

    private static string P(double? v) => v is null ? "-" : (v.Value * 100).ToString("0", CultureInfo.InvariantCulture) + "%";
}

internal sealed record CameraRow(string Id, string State, double FpsIn, double FpsOut, long Drops, double? P50Ms, double? P99Ms, string? LastError);

internal sealed record StatusSnapshot(IReadOnlyList<CameraRow> Cameras, double? BatchFill, double? InferenceMs, double EventsPerSecond);

