using System.CommandLine;
using System.Globalization;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;
using Streaming.Track;
using Microsoft.Extensions.Configuration;
using Streaming.Eval;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Track stage: <c>eval synth|mot|score</c> and <c>bench track</c>.</summary>
internal static class TrackCommands
{
    public static void Register(RootCommand root, Command bench, Command eval)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
        ArgumentNullException.ThrowIfNull(eval);
        eval.Subcommands.Add(Synth());
        eval.Subcommands.Add(Mot());
        eval.Subcommands.Add(Score());
        eval.Subcommands.Add(Compare());
        eval.Subcommands.Add(Alerts());
        bench.Subcommands.Add(Bench());
    }

    private static Command Synth()
    {
        var outDir = new Option<DirectoryInfo>("--out") { Description = "Folder to write the sequences into (one sub-folder each).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed (same seed, same sequences).", DefaultValueFactory = _ => 1 };
        var images = new Option<bool>("--images") { Description = "Also render img1/*.jpg (filled rectangles; for the detector path's plumbing only)." };
        var command = new Command("synth", "Generate synthetic MOTChallenge sequences with known ground truth (seqinfo.ini, gt/gt.txt, det/det.txt).")
        {
            outDir, seed, images,
        };
        command.SetAction((parse, ct) =>
        {
            var dirs = SyntheticMot.WriteAll(parse.GetValue(outDir)!.FullName, parse.GetValue(seed), parse.GetValue(images));
            foreach (var d in dirs)
            {
                Console.WriteLine(d);
            }

            return Task.FromResult(0);
        });
        return command;
    }

    private static Command Mot()
    {
        var defaults = new TrackOptions();
        var seq = new Option<DirectoryInfo>("--seq") { Description = "MOTChallenge sequence folder (seqinfo.ini, img1/).", Required = true };
        var detections = new Option<FileInfo?>("--detections") { Description = "MOTChallenge det.txt to track (skips detection)." };
        var outFile = new Option<FileInfo>("--out") { Description = "Tracker output file (frame,id,x,y,w,h,score,-1,-1,-1).", Required = true };
        var tracker = new Option<TrackerKind>("--tracker") { Description = "bytetrack, sort (no low-score association) or iou (naive baseline).", DefaultValueFactory = _ => TrackerKind.ByteTrack };
        var high = new Option<double>("--high") { Description = "Track:HighThreshold.", DefaultValueFactory = _ => defaults.HighThreshold };
        var low = new Option<double>("--low") { Description = "Track:LowThreshold.", DefaultValueFactory = _ => defaults.LowThreshold };
        var newTrack = new Option<double>("--new-track") { Description = "Track:NewTrackThreshold.", DefaultValueFactory = _ => defaults.NewTrackThreshold };
        var match = new Option<double>("--match") { Description = "Track:MatchThreshold (max cost 1 - IoU).", DefaultValueFactory = _ => defaults.MatchThreshold };
        var buffer = new Option<double>("--buffer") { Description = "Track:LostBufferSeconds.", DefaultValueFactory = _ => defaults.LostBufferSeconds };
        var minHits = new Option<int>("--min-hits") { Description = "Track:MinHits.", DefaultValueFactory = _ => defaults.MinHits };
        var reupdate = new Option<bool>("--oru") { Description = "Track:ObservationCentricReupdate (true/false).", DefaultValueFactory = _ => defaults.ObservationCentricReupdate };
        var model = new Option<string>("--model") { Description = "ONNX detector for the img1/ path (persons only are tracked).", DefaultValueFactory = _ => new DetectOptions().ModelPath };
        var score = new Option<float>("--score") { Description = "Detector score threshold for the img1/ path (low so ByteTrack sees low-score boxes).", DefaultValueFactory = _ => 0.1f };
        var gate = new Option<GateMode>("--gate") { Description = "With --detections: none, or motion (the pipeline's motion gate on img1/ with default Detect:Motion; gated frames coast). Prints frames inferred and gated.", DefaultValueFactory = _ => GateMode.None };
        var saveDetections = new Option<FileInfo?>("--save-detections") { Description = "Without --detections: also write the detector's boxes of every frame as a MOTChallenge det.txt (for --detections runs, e.g. gated against ungated on your own footage)." };
        var command = new Command("mot", "Track a MOTChallenge sequence: from --detections, or detect + track over img1/*.jpg.")
        {
            seq, detections, outFile, tracker, high, low, newTrack, match, buffer, minHits, reupdate, model, score, gate, saveDetections,
        };
        command.SetAction((parse, ct) => Guarded("mot", () =>
        {
            var options = new TrackOptions
            {
                HighThreshold = parse.GetValue(high),
                LowThreshold = parse.GetValue(low),
                NewTrackThreshold = parse.GetValue(newTrack),
                MatchThreshold = parse.GetValue(match),
                LostBufferSeconds = parse.GetValue(buffer),
                MinHits = parse.GetValue(minHits),
                ObservationCentricReupdate = parse.GetValue(reupdate),
            };
            var errors = TrackOptions.Validator.Problems(options);
            if (errors.Count > 0)
            {
                foreach (var error in errors)
                {
                    Console.Error.WriteLine("stream: " + error);
                }

                return 2;
            }

            var dir = parse.GetValue(seq)!.FullName;
            var info = SeqInfo.Read(dir);
            var detFile = parse.GetValue(detections);
            if (detFile is not null && parse.GetValue(saveDetections) is not null)
            {
                Console.Error.WriteLine("eval mot: --save-detections writes the model's boxes, which a --detections run does not compute: drop --detections (the model then runs on img1/).");
                return 2;
            }

            List<MotRow> rows;
            if (detFile is not null)
            {
                using var motGate = parse.GetValue(gate) == GateMode.Motion ? new MotGate(dir, info, new MotionOptions()) : null;
                rows = MotRunner.RunOnDetections(info, MotFile.Read(detFile.FullName), options, parse.GetValue(tracker), motGate);
                if (motGate is not null)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{info.Name}: motion gate: {motGate.Inferred} frames inferred, {motGate.Gated} gated ({100.0 * motGate.Gated / Math.Max(1, motGate.Inferred + motGate.Gated):0.#} %)"));
                }
            }
            else
            {
                if (PersonDetector("mot", parse.GetValue(model)!, parse.GetValue(score)) is not { } detector)
                {
                    return 2;
                }

                var saveTo = parse.GetValue(saveDetections);
                var seen = saveTo is null ? null : new List<MotRow>();
                using (detector)
                {
                    rows = MotRunner.RunOnImages(dir, info, image => detector.Detect(image), options, parse.GetValue(tracker), seen);
                }

                if (saveTo is not null)
                {
                    MotFile.WriteTracks(saveTo.FullName, seen!);
                    Console.WriteLine($"{info.Name}: {seen!.Count} detections -> {saveTo.FullName}");
                }
            }

            var output = parse.GetValue(outFile)!.FullName;
            MotFile.WriteTracks(output, rows);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{info.Name}: {rows.Count} boxes, {rows.Select(r => r.Id).Distinct().Count()} tracks -> {output}"));
            return 0;
        }));
        return command;
    }

    private static Command Alerts()
    {
        var seq = new Option<DirectoryInfo?>("--seq") { Description = "MOTChallenge sequence folder with gt/gt.txt: detect (or --detections) and track it in-process, then score the tracker's events." };
        var gtFile = new Option<FileInfo?>("--gt") { Description = "Ground truth gt.txt, with --events (instead of --seq)." };
        var eventsFile = new Option<FileInfo?>("--events") { Description = "Events in the Kafka event schema, one JSON object a line (docs/events.md), e.g. written by 'stream analyze'." };
        var firstFrame = new Option<int>("--first-frame") { Description = "With --events: the gt frame number of frame_seq 0 (frame = frame_seq + this). A recording's first decoded frame is frame_seq 0 = MOT frame 1.", DefaultValueFactory = _ => 1 };
        var fps = new Option<double>("--fps") { Description = "With --events: the frame rate of the gt's frame numbers (default: --seq's seqinfo.ini, else 25)." };
        var eventsFps = new Option<double>("--events-fps") { Description = "With --events: the frame rate of the recording the events came from, when it is not the gt's (e.g. 7 for a 25 fps sequence encoded at 7 fps): frame_seq is mapped to the gt frame nearest in time." };
        var camera = new Option<string?>("--camera") { Description = "With --events: only this camera's events." };
        var detections = new Option<FileInfo?>("--detections") { Description = "With --seq: track these det.txt rows instead of running the model on img1/." };
        var model = new Option<string>("--model") { Description = "ONNX detector for --seq (person class).", DefaultValueFactory = _ => new DetectOptions().ModelPath };
        var score = new Option<float>("--score") { Description = "Detector score threshold for --seq.", DefaultValueFactory = _ => 0.1f };
        var every = new Option<int>("--every") { Description = "With --seq: track every Nth frame only (e.g. 4: 25 fps -> 6.25 fps), at the frames' own times.", DefaultValueFactory = _ => 1 };
        var drop = new Option<double>("--drop") { Description = "With --seq: drop this share of the frames (0..1, random, --seed), as an overloaded live camera does.", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Random seed of --drop.", DefaultValueFactory = _ => 1 };
        var updates = new Option<double>("--update-interval") { Description = "With --seq: Track:UpdateIntervalSeconds: track_updated events add reported boxes, 5 a second by default so that an alert's verdict does not hang on where 2-3 samples fall (docs/track.md).", DefaultValueFactory = _ => 0.2 };
        var set = new Option<string[]>("--track") { Description = "With --seq: a Track option, KEY=VALUE (e.g. --track RelinkSeconds=0). Repeatable.", AllowMultipleArgumentsPerToken = false };
        var save = new Option<FileInfo?>("--save-events") { Description = "With --seq: also write the events as JSON lines in the Kafka schema (readable by --events)." };
        var verbose = new Option<bool>("--verbose") { Description = "One line per alert before the summary." };
        var command = new Command("alerts", "Score the alerts (track_started) an operator gets against ground truth: precision, recall, repeats per person, median delay. Prints one summary line last.")
        {
            seq, gtFile, eventsFile, firstFrame, fps, eventsFps, camera, detections, model, score, every, drop, seed, updates, set, save, verbose,
        };
        command.SetAction((parse, ct) => Guarded("alerts", () =>
        {
            var dir = parse.GetValue(seq)?.FullName;
            var info = dir is null ? null : SeqInfo.Read(dir);
            AlertScore result;
            if (parse.GetValue(eventsFile) is { } ef)
            {
                var gtPath = parse.GetValue(gtFile)?.FullName ?? (dir is null ? null : Path.Combine(dir, "gt", "gt.txt"));
                if (gtPath is null)
                {
                    Console.Error.WriteLine("eval alerts: --events needs --gt gt.txt (or --seq DIR with gt/gt.txt)");
                    return 2;
                }

                var rate = parse.GetValue(fps) is > 0 and var r ? r : info?.FrameRate ?? 25;
                var perFrame = parse.GetValue(eventsFps) is > 0 and var recorded ? rate / recorded : 1;
                var events = AlertScorer.ReadEvents(ef.FullName, parse.GetValue(firstFrame), parse.GetValue(camera), perFrame);
                result = AlertScorer.Score(info?.Name ?? Path.GetFileNameWithoutExtension(ef.Name), MotFile.ReadGroundTruth(gtPath), rate, events);
            }
            else if (dir is not null && info is not null)
            {
                var options = new TrackOptions { UpdateIntervalSeconds = parse.GetValue(updates) };
                var pairs = (parse.GetValue(set) ?? []).Select(kv => kv.Split('=', 2)).ToList();
                if (pairs.Any(p => p.Length != 2))
                {
                    Console.Error.WriteLine("eval alerts: --track takes KEY=VALUE, e.g. --track RelinkSeconds=0");
                    return 2;
                }

                try
                {
                    new ConfigurationBuilder()
                        .AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p[0], p[1])))
                        .Build().Bind(options, o => o.ErrorOnUnknownConfiguration = true);
                }
                catch (InvalidOperationException ex)
                {
                    Console.Error.WriteLine($"eval alerts: --track: {ex.Message} (keys as in the Track section of config/pipeline.json)");
                    return 2;
                }
                var errors = TrackOptions.Validator.Problems(options);
                if (errors.Count > 0)
                {
                    foreach (var error in errors)
                    {
                        Console.Error.WriteLine("stream: " + error);
                    }

                    return 2;
                }

                var run = new AlertRunOptions(Math.Max(1, parse.GetValue(every)), parse.GetValue(drop), parse.GetValue(seed));
                List<PipelineEvent> events;
                var tracked = new List<MotRow>();
                if (parse.GetValue(detections) is { } df)
                {
                    events = AlertRunner.RunOnDetections(info, MotFile.Read(df.FullName), options, run, tracked);
                }
                else
                {
                    if (PersonDetector("alerts", parse.GetValue(model)!, parse.GetValue(score)) is not { } detector)
                    {
                        return 2;
                    }

                    using (detector)
                    {
                        events = AlertRunner.Run(info, frame =>
                        {
                            var path = Path.Combine(dir, info.ImageDirectory, frame.ToString("D6", CultureInfo.InvariantCulture) + info.ImageExtension);
                            using var image = Cv2.ImRead(path, ImreadModes.Color);
                            return image.Empty() ? throw new FileNotFoundException($"{path} is missing or not an image", path) : detector.Detect(image);
                        }, options, run, tracked);
                    }
                }

                if (parse.GetValue(save) is { } sf)
                {
                    File.WriteAllLines(sf.FullName, events.Select(e => System.Text.Encoding.UTF8.GetString(Streaming.Sink.EventMessage.From(e, "frame").ToUtf8())));
                }

                if (run.Every == 1 && run.Drop == 0)
                {
                    // The same run's per-frame tracks, scored as 'eval mot' does (only meaningful when every frame was tracked).
                    var mot = MotScorer.Score(MotFile.ReadGroundTruth(Path.Combine(dir, "gt", "gt.txt")), tracked);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{info.Name}: tracking HOTA {100 * mot.Hota:0.00} IDF1 {100 * mot.Idf1:0.00} IDSW {mot.IdSwitches}"));
                }

                result = AlertRunner.Score(dir, info, events,
                    string.Create(CultureInfo.InvariantCulture, $"{info.Name}{(run.Every > 1 ? $" every {run.Every}" : "")}{(run.Drop > 0 ? $" drop {run.Drop:0.##}" : "")}"));
            }
            else
            {
                Console.Error.WriteLine("eval alerts: give --seq DIR (track it here), or --events FILE with --gt gt.txt");
                return 2;
            }

            if (parse.GetValue(verbose))
            {
                foreach (var a in result.Scored)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"alert track {a.TrackId} start frame {a.StartFrame}: {(a.IsTrue ? $"person {a.Identity}" : "false")}, {a.Matched}/{a.Frames} reported frames overlap"));
                }

                foreach (var (person, first) in result.FirstFrameOfPerson.OrderBy(p => p.Key))
                {
                    var mine = result.Scored.Where(a => a.Identity == person).ToList();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"person {person} first frame {first}: {mine.Count} alerts{(mine.Count > 0 ? $", first at frame {mine.Min(a => a.StartFrame)}" : "")}"));
                }
            }

            Console.WriteLine(result.Summary());
            return 0;
        }));
        return command;
    }

    private static Option<string?> BenchmarkOption() => new("--benchmark")
    {
        Description = "Evaluation rules: MOT15, MOT17 (also MOT16) or MOT20. Default: from the gt layout (10 columns MOT15, 9 columns MOT17).",
    };

    /// <summary>Parses --benchmark; null when not given. Throws FormatException with the fix for an unknown name.</summary>
    private static MotBenchmark? ParseBenchmark(string? text) => text?.ToUpperInvariant() switch
    {
        null => null,
        "MOT15" => MotBenchmark.Mot15,
        "MOT16" or "MOT17" => MotBenchmark.Mot17,
        "MOT20" => MotBenchmark.Mot20,
        _ => throw new FormatException($"--benchmark '{text}' is not known; use MOT15, MOT17 (MOT16) or MOT20."),
    };

    /// <summary>The model's person detector for an <c>eval</c> command over MOT frames, or null after one line on stderr naming why it cannot load.</summary>
    private static Detector? PersonDetector(string command, string modelPath, float scoreThreshold)
    {
        try
        {
            var options = new DetectOptions { ModelPath = modelPath, ScoreThreshold = scoreThreshold };
            options.Classes.Add("person");
            return Detector.Load(options);
        }
        catch (DetectModelException ex)
        {
            Console.Error.WriteLine($"eval {command}: {ex.Message}");
            return null;
        }
    }

    /// <summary>Runs an eval action; a bad or missing input file ends it with one line on stderr and exit code 2.</summary>
    private static Task<int> Guarded(string command, Func<int> action)
    {
        try
        {
            return Task.FromResult(action());
        }
        catch (Exception ex) when (ex is FormatException or FileNotFoundException or DirectoryNotFoundException)
        {
            Console.Error.WriteLine($"eval {command}: {ex.Message}");
            return Task.FromResult(2);
        }
    }

    private static Command Score()
    {
        var gt = new Option<FileInfo>("--gt") { Description = "Ground truth gt.txt (MOT15 10-column or MOT16/17/20 9-column layout).", Required = true };
        var tracks = new Option<FileInfo>("--tracks") { Description = "Tracker output file.", Required = true };
        var benchmark = BenchmarkOption();
        var command = new Command("score", "HOTA, IDF1, MOTA, ID switches, FP, FN of a tracker output against ground truth (TrackEval's MOTChallenge rules, IoU 0.5).")
        {
            gt, tracks, benchmark,
        };
        command.SetAction((parse, ct) => Guarded("score", () =>
        {
            var truth = MotFile.ReadGroundTruth(parse.GetValue(gt)!.FullName, ParseBenchmark(parse.GetValue(benchmark)));
            var metrics = MotScorer.Score(truth, MotFile.Read(parse.GetValue(tracks)!.FullName));
            Console.Write(metrics.ToTable());
            return 0;
        }));
        return command;
    }

    private static Command Compare()
    {
        var dir = new Option<DirectoryInfo>("--dir") { Description = "Folder of sequence folders (e.g. made by 'eval synth', or ../shared/mot).", Required = true };
        var external = new Option<string[]>("--external")
        {
            Description = "Add a row for a tracks file made elsewhere: NAME=PATH, PATH relative to each sequence folder (e.g. reference=reference/bytetrack.txt). Repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var benchmark = BenchmarkOption();
        var command = new Command("compare", "ByteTrack vs SORT-like vs naive IoU tracker (and external tracks files) on every sequence of a folder (given detections).")
        {
            dir, external, benchmark,
        };
        command.SetAction((parse, ct) => Guarded("compare", () =>
        {
            var extra = (parse.GetValue(external) ?? []).Select(ExternalTracks.Parse).ToList();
            Console.Write(MotComparison.Run(parse.GetValue(dir)!.FullName, new TrackOptions(), [TrackerKind.ByteTrack, TrackerKind.Sort, TrackerKind.Iou],
                extra, ParseBenchmark(parse.GetValue(benchmark))));
            return 0;
        }));
        return command;
    }

    private static Command Bench()
    {
        var frames = new Option<int>("--frames") { Description = "Timed frames per size.", DefaultValueFactory = _ => 300 };
        var command = new Command("track", "Microseconds per tracker update at 10, 100 and 500 detections per frame (goal: < 1000 us at 100).")
        {
            frames,
        };
        command.SetAction((parse, ct) =>
        {
            var n = Math.Max(10, parse.GetValue(frames));

            // Warm-up pass over every size, so that the timed pass runs fully optimised (tiered JIT) code.
            foreach (var size in new[] { 10, 100, 500 })
            {
                TrackBenchmark.Run(size, 100, warmup: 20, seed: 2);
            }

            var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
            Console.WriteLine($"cpus={Environment.ProcessorCount} load1={load} (timings on a busy machine are inflated; p50 is the steadier figure)");
            Console.WriteLine("dets/frame  frames  mean_us  p50_us  p99_us  alloc_B/update  active_tracks");
            TrackBenchResult? at100 = null;
            foreach (var size in new[] { 10, 100, 500 })
            {
                var r = TrackBenchmark.Run(size, n, warmup: 60);
                if (size == 100)
                {
                    at100 = r;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.DetectionsPerFrame,10}  {r.Frames,6}  {r.MeanMicroseconds,7:0.0}  {r.P50Microseconds,6:0.0}  {r.P99Microseconds,6:0.0}  {r.AllocatedBytesPerUpdate,14:0}  {r.ActiveTracks,13}"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"goal/actual at 100 dets (1000 us / mean): {1000 / at100!.MeanMicroseconds:0.00}"));
            return Task.FromResult(0);
        });
        return command;
    }
}
