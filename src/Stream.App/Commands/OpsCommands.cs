using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Streaming.Bench;

namespace Streaming.App.Commands;

/// <summary>Whole-pipeline benchmarks: bench e2e, bench tune, bench soak.</summary>
internal static class OpsCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
        bench.Subcommands.Add(E2e());
        bench.Subcommands.Add(Ceiling());
        bench.Subcommands.Add(Tune());
        bench.Subcommands.Add(Soak());
        bench.Subcommands.Add(Capacity());
        bench.Subcommands.Add(Motion());
    }

    private static Option<string[]> SetOption() => new("--set")
    {
        Description = "Further pipeline configuration, e.g. --set Detect:IntraOpThreads=1 (repeatable); Cameras:*:KEY=V sets KEY on every camera of the run.",
        AllowMultipleArgumentsPerToken = false,
    };

    private static Dictionary<string, string?> Overrides(string[]? set)
    {
        var pairs = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in set ?? [])
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"--set '{item}' is not Key=Value: write e.g. --set Detect:IntraOpThreads=1");
            }

            pairs[item[..eq].Trim().Replace("__", ":", StringComparison.Ordinal)] = item[(eq + 1)..];
        }

        return pairs;
    }

    private static Command E2e()
    {
        var source = new Option<string>("--source") { Description = "Video file each camera plays.", DefaultValueFactory = _ => "samples/dog_pan_960p.mp4" };
        var cameras = new Option<int>("--cameras") { Description = "Copies of the file played at once.", DefaultValueFactory = _ => 2 };
        var batch = new Option<int>("--batch") { Description = "Detect:MaxBatch.", DefaultValueFactory = _ => 4 };
        var wait = new Option<int>("--wait") { Description = "Detect:MaxWaitMs.", DefaultValueFactory = _ => 10 };
        var model = new Option<string?>("--model") { Description = "ONNX model (default: models/yolox_nano_dynamic.onnx for --batch > 1 when present, else models/yolox_nano.onnx)." };
        var ceiling = new Option<double>("--ceiling-seconds") { Description = "Seconds the machine's limit is measured, half before and half after the pipeline run (each after a 1 s warm-up).", DefaultValueFactory = _ => 6 };
        var set = SetOption();
        var command = new Command("e2e", "N copies of a file at full speed through the whole pipeline (Kafka mock cluster, private Redis): throughput, latency, and the ratio to the machine's limit for the same work at the same parallelism (last line).")
        {
            source, cameras, batch, wait, model, ceiling, set,
        };
        command.SetAction(async (parse, ct) =>
        {
            var settings = new BenchSettings
            {
                Source = parse.GetValue(source)!,
                Cameras = parse.GetValue(cameras),
                MaxBatch = parse.GetValue(batch),
                MaxWaitMs = parse.GetValue(wait),
                ModelPath = parse.GetValue(model),
                CeilingWindow = TimeSpan.FromSeconds(Math.Max(0.2, parse.GetValue(ceiling))),
                Overrides = Overrides(parse.GetValue(set)),
            };
            return await Guard(async () =>
            {
                var result = await E2eBenchmark.RunAsync(settings, Console.Error, ct).ConfigureAwait(false);
                E2eBenchmark.Print(Console.Out, result);
            }).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Ceiling()
    {
        var source = new Option<string>("--source") { Description = "Video file each camera decodes, round and round.", DefaultValueFactory = _ => "samples/dog_pan_960p.mp4" };
        var cameras = new Option<int>("--cameras") { Description = "Decode loops, one per camera.", DefaultValueFactory = _ => 2 };
        var batch = new Option<int>("--batch") { Description = "Detect:MaxBatch.", DefaultValueFactory = _ => 4 };
        var model = new Option<string?>("--model") { Description = "ONNX model (default: models/yolox_nano_dynamic.onnx for --batch > 1 when present, else models/yolox_nano.onnx)." };
        var seconds = new Option<double>("--seconds") { Description = "Measured seconds (after a 1 s warm-up).", DefaultValueFactory = _ => 5 };
        var set = SetOption();
        var command = new Command("ceiling", "The machine's limit for the pipeline's work (decode + preprocess loops per camera, Detect:ConcurrentRuns run + postprocess loops, all at once) without the pipeline; last line: ceiling: X frames/s.")
        {
            source, cameras, batch, model, seconds, set,
        };
        command.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var settings = new BenchSettings
            {
                Source = parse.GetValue(source)!,
                Cameras = parse.GetValue(cameras),
                MaxBatch = parse.GetValue(batch),
                ModelPath = parse.GetValue(model),
                Overrides = Overrides(parse.GetValue(set)),
            };
            if (!File.Exists(settings.Source))
            {
                throw new FileNotFoundException($"{settings.Source} not found: pass --source with an existing video file.", settings.Source);
            }

            var config = new ConfigurationBuilder()
                .AddInMemoryCollection(PipelineHarness.BuildConfiguration(settings, string.Empty, string.Empty)).Build();
            var limit = await MachineCeiling.MeasureAsync(Enumerable.Repeat(settings.Source, settings.Cameras).ToList(), config, TimeSpan.FromSeconds(1),
                TimeSpan.FromSeconds(Math.Max(0.2, parse.GetValue(seconds))), TimeProvider.System, ct).ConfigureAwait(false);
            Console.WriteLine(limit.Describe());
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"ceiling: {limit.Fps:F1} frames/s"));
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Tune()
    {
        var source = new Option<string>("--source") { Description = "Video file each camera plays (paced at its native fps, looping).", DefaultValueFactory = _ => "samples/dog_pan_960p.mp4" };
        var cameras = new Option<int>("--cameras") { Description = "Cameras playing the file.", DefaultValueFactory = _ => 2 };
        var batches = new Option<string>("--batches") { Description = "Detect:MaxBatch values to sweep.", DefaultValueFactory = _ => "1,2,4" };
        var waits = new Option<string>("--waits") { Description = "Detect:MaxWaitMs values to sweep.", DefaultValueFactory = _ => "0,10,40" };
        var seconds = new Option<double>("--seconds") { Description = "Measured seconds per point (after a warm-up).", DefaultValueFactory = _ => 8 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds per point before measuring.", DefaultValueFactory = _ => 3 };
        var load = new Option<double?>("--load-fps") { Description = "Offered load in frames/s over all cameras (default: half of the measured serial ceiling at batch 1)." };
        var outDir = new Option<string>("--out") { Description = "Directory for tune.csv and tune.png.", DefaultValueFactory = _ => "bench-out" };
        var set = SetOption();
        var command = new Command("tune", "Sweep Detect:MaxBatch x Detect:MaxWaitMs at a fixed offered load; writes a CSV and a PNG plot of throughput and p99 latency.")
        {
            source, cameras, batches, waits, seconds, warmup, load, outDir, set,
        };
        command.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var options = new TuneOptions
            {
                Source = parse.GetValue(source)!,
                Cameras = parse.GetValue(cameras),
                Batches = ParseList(parse.GetValue(batches)!, "--batches"),
                Waits = ParseList(parse.GetValue(waits)!, "--waits"),
                Seconds = parse.GetValue(seconds),
                WarmupSeconds = parse.GetValue(warmup),
                LoadFps = parse.GetValue(load),
                OutputDirectory = parse.GetValue(outDir)!,
                Overrides = Overrides(parse.GetValue(set)),
            };
            var result = await TuneBenchmark.RunAsync(options, Console.Error, ct).ConfigureAwait(false);
            TuneBenchmark.Print(Console.Out, result);
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Soak()
    {
        var minutes = new Option<double>("--minutes") { Description = "Measured minutes (fractions allowed), after the warm-up.", DefaultValueFactory = _ => 10 };
        var cameras = new Option<int>("--cameras") { Description = "File cameras paced at 25 fps, looping.", DefaultValueFactory = _ => 8 };
        var source = new Option<string>("--source") { Description = "Video file each camera plays.", DefaultValueFactory = _ => "samples/dog_pan_960p.mp4" };
        var warmup = new Option<double>("--warmup") { Description = "Seconds before the start figures are taken.", DefaultValueFactory = _ => 30 };
        var set = SetOption();
        var command = new Command("soak", "Whole pipeline for a long time under load: RSS, managed heap, handles and gen-2 collections at start and end; RSS growth % (last line).")
        {
            minutes, cameras, source, warmup, set,
        };
        command.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var options = new SoakOptions
            {
                Source = parse.GetValue(source)!,
                Cameras = parse.GetValue(cameras),
                Duration = TimeSpan.FromMinutes(parse.GetValue(minutes)),
                Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
                Overrides = Overrides(parse.GetValue(set)),
            };
            var result = await SoakBenchmark.RunAsync(options, Console.Error, ct).ConfigureAwait(false);
            SoakBenchmark.Print(Console.Out, result);
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Capacity()
    {
        var source = new Option<string>("--source") { Description = "Video file every camera plays, looping, each from its own offset.", DefaultValueFactory = _ => "samples/dog_pan_960p.mp4" };
        var fps = new Option<double>("--fps") { Description = "Frames/s each camera delivers (camera MaxFps; paced like a live camera).", DefaultValueFactory = _ => 5 };
        var hold = new Option<double>("--seconds") { Description = "Seconds a camera count must hold (after the warm-up).", DefaultValueFactory = _ => 30 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds per try before measuring.", DefaultValueFactory = _ => 5 };
        var max = new Option<int>("--max") { Description = "Largest camera count to try.", DefaultValueFactory = _ => 64 };
        var set = SetOption();
        var versus = new Option<string[]>("--versus")
        {
            Description = "Measure again right after with these keys changed (repeatable), e.g. --versus Clips:Enabled=false: the last line is then the ratio of the two capacities (first / second).",
        };
        var command = new Command("capacity", "The most live cameras (FILE paced at --fps, each from its own offset) that the whole pipeline holds with <= 1 % drops, p99 capture->ack <= 1 s and no stale drop; last line: capacity: N cameras at F fps.")
        {
            source, fps, hold, warmup, max, set, versus,
        };
        command.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var options = new CapacityOptions
            {
                Source = parse.GetValue(source)!,
                Fps = parse.GetValue(fps),
                Hold = TimeSpan.FromSeconds(parse.GetValue(hold)),
                Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
                MaxCameras = parse.GetValue(max),
                Overrides = Overrides(parse.GetValue(set)),
            };
            var result = await CapacityBenchmark.RunAsync(options, Console.Out, Console.Error, ct).ConfigureAwait(false);
            CapacityBenchmark.Print(Console.Out, result);
            if (parse.GetValue(versus) is { Length: > 0 } changes)
            {
                // Back to back on the same machine, the same source and search: only the named keys differ.
                var changed = Overrides(changes);
                var second = options with { Overrides = options.Overrides.Concat(changed).GroupBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.OrdinalIgnoreCase) };
                Console.Out.WriteLine("then with " + string.Join(" ", changes.Select(c => "--set " + c)) + ":");
                var other = await CapacityBenchmark.RunAsync(second, Console.Out, Console.Error, ct).ConfigureAwait(false);
                CapacityBenchmark.Print(Console.Out, other);
                Console.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"capacity ratio: {result.Capacity} / {other.Capacity} cameras = {100.0 * result.Capacity / Math.Max(1, other.Capacity):F1} % (as given / with {string.Join(", ", changes)})"));
            }
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Motion()
    {
        var source = new Option<string>("--source") { Description = "Video file whose frames are scaled to --width x --height and measured.", DefaultValueFactory = _ => "samples/dog_pan_960p.mp4" };
        var width = new Option<int>("--width") { Description = "Frame width the detector sees.", DefaultValueFactory = _ => 1280 };
        var height = new Option<int>("--height") { Description = "Frame height the detector sees.", DefaultValueFactory = _ => 720 };
        var passes = new Option<int>("--passes") { Description = "Times the clip is played.", DefaultValueFactory = _ => 2 };
        var masks = new Option<string[]>("--mask") { Description = "A motion mask \"x1,y1,x2,y2,x3,y3,...\" (repeatable).", AllowMultipleArgumentsPerToken = false };
        var set = SetOption();
        var command = new Command("motion", "Cost of the per-camera motion detector (Detect:Motion) per frame, and which seconds of the clip have motion; last line: motion: X ms CPU per WxH frame.")
        {
            source, width, height, passes, masks, set,
        };
        command.SetAction(async (parse, ct) => await Guard(() =>
        {
            var options = new Core.MotionOptions();
            var overrides = Overrides(parse.GetValue(set));
            if (overrides.Count > 0)
            {
                var config = Microsoft.Extensions.Configuration.MemoryConfigurationBuilderExtensions.AddInMemoryCollection(new Microsoft.Extensions.Configuration.ConfigurationBuilder(), overrides).Build();
                Core.ConfigurationChecks.Bind(config.GetSection("Detect:Motion"), options);
            }

            var result = MotionBenchmark.Run(parse.GetValue(source)!, parse.GetValue(width), parse.GetValue(height), parse.GetValue(passes), options, parse.GetValue(masks) ?? []);
            MotionBenchmark.Print(Console.Out, result);
            return Task.CompletedTask;
        }).ConfigureAwait(false));
        return command;
    }

    private static int[] ParseList(string text, string option)
    {
        var values = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) || v < 0)
            {
                throw new ArgumentException($"{option} '{text}' must be a comma-separated list of whole numbers, e.g. 1,2,4");
            }

            values.Add(v);
        }

        return values.Count > 0 ? [.. values] : throw new ArgumentException($"{option} is empty: give e.g. 1,2,4");
    }

    /// <summary>Runs a benchmark; a problem with its input or environment becomes one line on stderr and exit code 2.</summary>
    private static async Task<int> Guard(Func<Task> body)
    {
        try
        {
            await body().ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("stream: benchmark cancelled").ConfigureAwait(false);
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FileNotFoundException or IOException or TimeoutException
            or Detect.DetectModelException or Ingest.SourceException)
        {
            await Console.Error.WriteLineAsync($"stream: {Core.UrlRedactor.Redact(ex.Message)}").ConfigureAwait(false);
            return 2;
        }
    }
}
