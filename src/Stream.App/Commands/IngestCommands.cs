using System.CommandLine;
using Streaming.Ingest;
using Streaming.Bench;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Ingest stage.</summary>
internal static class IngestCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);

        var source = new Option<string>("--source")
        {
            Description = "Video file (decoded at full speed) or rtsp/http URL (a live stream: the in-process decoder, the old ffmpeg pipe and ffmpeg -f null, CPU per frame).",
            Required = true,
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Minimum measuring time: whole passes over a file are repeated until it is spent, so that process start-up does not dominate (URLs: the duration).",
            DefaultValueFactory = _ => 5,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Decoder threads, the same for both sides (ffmpeg -threads, the in-process decoders' thread count). 0: each decoder's own automatic choice, which is what plain ffmpeg and Ingest:DecoderThreads' default use.",
            DefaultValueFactory = _ => 0,
        };
        var ffmpeg = new Option<string>("--ffmpeg")
        {
            Description = "ffmpeg executable.",
            DefaultValueFactory = _ => "ffmpeg",
        };
        var decoder = new Option<FileDecoder>("--decoder")
        {
            Description = "File decoder whose ratio is the last line: Libav (system FFmpeg libraries in-process, the Ingest:FileDecoder default), Ffmpeg (ffmpeg pipe carrying I420) or OpenCv (VideoCapture). All are timed.",
            DefaultValueFactory = _ => new IngestOptions().FileDecoder,
        };
        var repeat = new Option<int>("--repeat")
        {
            Description = "Rounds: the contenders alternate and each keeps its best round (files) or its least CPU per frame (URLs).",
            DefaultValueFactory = _ => 3,
        };
        var command = new Command("ingest", "Decode a source at full speed through the ingest path and compare with ffmpeg -f null; the ratio is the last line.")
        {
            source, seconds, threads, ffmpeg, decoder, repeat,
        };
        command.SetAction(async (parseResult, ct) =>
        {
            try
            {
                var result = await IngestBenchmark.RunAsync(parseResult.GetValue(source)!, parseResult.GetValue(seconds),
                    parseResult.GetValue(threads), parseResult.GetValue(ffmpeg)!, parseResult.GetValue(decoder), parseResult.GetValue(repeat), ct).ConfigureAwait(false);
                IngestBenchmark.Print(result, Console.Out);
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or InvalidOperationException or SourceException)
            {
                await Console.Error.WriteLineAsync("bench ingest: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        });
        bench.Subcommands.Add(command);
        bench.Subcommands.Add(Clips());
    }

    /// <summary><c>stream bench clips</c>: the event clips' CPU (packet buffer, remux) and memory (issue 26).</summary>
    private static Command Clips()
    {
        var source = new Option<string>("--source") { Description = "Video file the cameras read (at full speed).", DefaultValueFactory = _ => "samples/parking_lot_cars_sparse.mp4" };
        var rounds = new Option<int>("--rounds") { Description = "Decode passes with and without the buffer, alternating; each keeps its least CPU.", DefaultValueFactory = _ => 5 };
        var cameras = new Option<int>("--cameras") { Description = "Cameras opened at once for the memory figure.", DefaultValueFactory = _ => 24 };
        var buffer = new Option<double>("--buffer-seconds") { Description = "Clips:BufferSeconds.", DefaultValueFactory = _ => new Core.ClipOptions().BufferSeconds };
        var clip = new Option<double>("--clip-seconds") { Description = "Length of the clips cut for the remux figure.", DefaultValueFactory = _ => 10 };
        var command = new Command("clips", "Event clips' cost: the packet buffer's CPU per camera-second next to decoding, a remux's CPU per clip-second, and N cameras' buffer memory against BufferSeconds x bitrate (last line).")
        {
            source, rounds, cameras, buffer, clip,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var result = await Task.Run(() => ClipBenchmark.Run(parse.GetValue(source)!, parse.GetValue(rounds), parse.GetValue(cameras),
                    parse.GetValue(buffer), parse.GetValue(clip), Console.Error), ct).ConfigureAwait(false);
                ClipBenchmark.Print(result, Console.Out);
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or InvalidOperationException or SourceException or Core.ClipException)
            {
                await Console.Error.WriteLineAsync("bench clips: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }
}
