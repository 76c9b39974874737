using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Streaming.Hosting;

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
                // Cropped at the bottom: should anything overflow, the header and the totals stay in view.
                await AnsiConsole.Live(new Text("starting...")).AutoClear(false)
                    .Overflow(VerticalOverflow.Ellipsis).Cropping(VerticalOverflowCropping.Bottom)
                    .StartAsync(async ctx =>
                    {
                        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
                        {
                            ctx.UpdateTarget(Screen(Snapshot(), logs.Lines, AnsiConsole.Profile.Height));
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

    /// <summary>Lines the table takes besides its camera rows: top border, header, header rule, bottom border, totals caption.</summary>
    private const int TableChrome = 5;

    /// <summary>
    /// The live screen for a terminal of <paramref name="height"/> rows: the table (header, camera rows, pipeline totals)
    /// and the latest log lines under it, all within the height. When the cameras do not fit, the worst ones are shown
    /// (failed, then reconnecting, then most drops and highest p99) and one last row summarises the rest by state.
    /// </summary>
    internal static IRenderable Screen(StatusSnapshot s, IReadOnlyList<string> logLines, int height)
    {
        var available = Math.Max(2, height - TableChrome - 1); // one row for the cursor
        var logs = Math.Min(logLines.Count, Math.Max(Math.Min(3, available / 4), available - s.Cameras.Count));
        var rows = available - logs;
        var cameras = s.Cameras;
        CameraRow? summary = null;
        if (cameras.Count > rows)
        {
            var worst = cameras.OrderByDescending(Severity).ThenByDescending(c => c.Drops).ThenByDescending(c => c.P99Ms ?? 0).ToList();
            var rest = worst.Skip(rows - 1).ToList();
            cameras = worst.Take(rows - 1).ToList();
            var states = string.Join(", ", rest.GroupBy(c => c.State).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} {g.Key}"));
            summary = new CameraRow($"+{rest.Count} more", states, rest.Sum(c => c.FpsIn), rest.Sum(c => c.FpsOut), rest.Sum(c => c.Drops), null, null, "worst cameras are shown first");
        }

        return new Rows(Render(s with { Cameras = cameras }, summary), new Text(string.Join('\n', logLines.TakeLast(logs)), new Style(Color.Grey)) { Overflow = Overflow.Ellipsis });
    }

    private static int Severity(CameraRow r) => r.State switch
    {
        "Failed" => 4,
        "Backoff" => 3,
        "Connecting" => 2,
        "Stopped" => 1,
        _ => 0,
    };

    private static Table Render(StatusSnapshot s, CameraRow? summary = null)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("camera", "state", "fps in", "fps out", "drops", "p50 ms", "p99 ms", "last error");
        foreach (var r in s.Cameras.Append(summary).OfType<CameraRow>())
        {
            var stateColor = r.State switch
            {
                "Streaming" => "green",
                "Connecting" or "Backoff" => "yellow",
                "Failed" => "red",
                _ => "grey",
            };
            table.AddRow(
                Markup.Escape(r.Id), $"[{stateColor}]{Markup.Escape(r.State)}[/]", F(r.FpsIn), F(r.FpsOut), r.Drops.ToString(CultureInfo.InvariantCulture),
                F(r.P50Ms), F(r.P99Ms), Markup.Escape(OneLine(r.LastError)));
        }

        table.Caption($"batch fill {P(s.BatchFill)}   inference {F(s.InferenceMs)} ms   events {F(s.EventsPerSecond)}/s");
        return table;
    }

    /// <summary>An error as one short cell, so that a camera is always one row of the table.</summary>
    private static string OneLine(string? error) =>
        error is null ? string.Empty : (error.Length <= 60 ? error : error[..57] + "...").ReplaceLineEndings(" ");

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

