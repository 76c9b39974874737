using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Streaming.DevServices;
using Streaming.Sink;
using Streaming.Bench;

namespace Streaming.App.Commands;

/// <summary>Commands that belong to the Sink stage: <c>dev-kafka</c> and <c>alerts</c>.</summary>
internal static class SinkCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(bench);
        root.Subcommands.Add(DevKafka());
        root.Subcommands.Add(Alerts());
        bench.Subcommands.Add(Bench());
    }

    private static Command Bench()
    {
        var events = new Option<int>("--events") { Description = "Events in the throughput phase.", DefaultValueFactory = _ => 20000 };
        var cameras = new Option<int>("--cameras") { Description = "Cameras (Kafka keys).", DefaultValueFactory = _ => 4 };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Kafka bootstrap servers (default: an in-process mock cluster)." };
        var redis = new Option<string?>("--redis") { Description = "Redis to store frames in (default: none; frames are skipped)." };
        var frameEvery = new Option<int>("--frame-every") { Description = "Every Nth event refers to its frame (JPEG-encoded and stored).", DefaultValueFactory = _ => 25 };
        var rate = new Option<double>("--rate") { Description = "Offered load of the latency phase in events/s (default: half the measured throughput)." };
        var command = new Command("sink", "Sink throughput (vs the bare producer, same run) and capture-to-Kafka-ack latency.")
        {
            events, cameras, bootstrap, redis, frameEvery, rate,
        };
        command.SetAction(async (parse, ct) =>
        {
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error));
            await SinkBenchmark.RunAsync(
                new SinkBenchmarkOptions
                {
                    Events = parse.GetValue(events),
                    Cameras = parse.GetValue(cameras),
                    BootstrapServers = parse.GetValue(bootstrap),
                    Redis = parse.GetValue(redis),
                    FrameEvery = parse.GetValue(frameEvery),
                    PacedRate = parse.GetValue(rate),
                },
                loggerFactory,
                Console.WriteLine,
                ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command DevKafka()
    {
        var brokers = new Option<int>("--brokers") { Description = "Number of mock brokers.", DefaultValueFactory = _ => 3 };
        var topics = new Option<string[]>("--topic") { Description = "Topics to create (repeatable): NAME gets the mock's default of 4 partitions, NAME:N gets N (e.g. stream.cameras:12).", DefaultValueFactory = _ => ["stream.events"], AllowMultipleArgumentsPerToken = true };
        var advertise = new Option<string?>("--advertise") { Description = "HOST:PORT,... per broker (broker 1 first) that the brokers name in their metadata instead of their own listeners (e.g. a test's TCP proxy in front of each)." };
        var command = new Command("dev-kafka", "Host librdkafka's mock Kafka cluster for development and tests; prints bootstrap=HOST:PORT,... first and runs until stopped.")
        {
            brokers, topics, advertise,
        };
        command.SetAction(async (parse, ct) =>
        {
            var n = parse.GetValue(brokers);
            if (n < 1)
            {
                await Console.Error.WriteLineAsync("--brokers must be at least 1.").ConfigureAwait(false);
                return 2;
            }

            var advertised = parse.GetValue(advertise)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (advertised is not null && advertised.Length != n)
            {
                await Console.Error.WriteLineAsync($"--advertise names {advertised.Length} endpoint(s) for {n} broker(s): give one per broker.").ConfigureAwait(false);
                return 2;
            }

            using var cluster = await EmbeddedKafkaCluster.StartAsync(n, parse.GetValue(topics), ct, Console.Error.WriteLine, advertised).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"bootstrap={cluster.BootstrapServers}").ConfigureAwait(false);
            await Console.Out.FlushAsync(ct).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"Mock Kafka cluster with {n} broker(s) up at {cluster.BootstrapServers}; Ctrl+C or SIGTERM stops it.").ConfigureAwait(false);
            using var stopped = new CancellationTokenSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                stopped.Cancel();
            });
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, stopped.Token);
            try
            {
                await Task.Delay(Timeout.Infinite, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            return 0;
        });
        return command;
    }

    private static Command Alerts()
    {
        var bootstrap = new Option<string>("--bootstrap") { Description = "Kafka bootstrap servers (host:port,...).", Required = true };
        var topic = new Option<string>("--topic") { Description = "Event topic.", DefaultValueFactory = _ => "stream.events" };
        var group = new Option<string>("--group") { Description = "Consumer group id.", DefaultValueFactory = _ => "stream-alerts" };
        var redis = new Option<string?>("--redis") { Description = "Redis configuration (host:port[,password=...]) to fetch event frames from." };
        var save = new Option<DirectoryInfo?>("--save") { Description = "Directory to save each event's frame as JPEG with its box drawn." };
        var clips = new Option<DirectoryInfo?>("--clips") { Description = "The workers' Clips:Directory (local or mounted): with --save, each event's clip (clip_key) is copied next to its picture." };
        var maxEvents = new Option<int>("--max-events") { Description = "Stop after this many events (0: no limit).", DefaultValueFactory = _ => 0 };
        var timeout = new Option<double>("--timeout") { Description = "Stop after this many seconds without an event (0: never).", DefaultValueFactory = _ => 0 };
        var fromBeginning = new Option<bool>("--from-beginning") { Description = "A new group starts at the oldest event instead of the newest." };
        var command = new Command("alerts", "Consume events as a consumer group, print one line per event and save the referenced frames with boxes drawn.")
        {
            bootstrap, topic, group, redis, save, clips, maxEvents, timeout, fromBeginning,
        };
        command.SetAction(async (parse, ct) =>
        {
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
            var options = new AlertConsumerOptions
            {
                BootstrapServers = parse.GetValue(bootstrap)!,
                Topic = parse.GetValue(topic)!,
                GroupId = parse.GetValue(group)!,
                Redis = parse.GetValue(redis),
                SaveDirectory = parse.GetValue(save)?.FullName,
                ClipDirectory = parse.GetValue(clips)?.FullName,
                MaxEvents = parse.GetValue(maxEvents),
                IdleTimeout = parse.GetValue(timeout) > 0 ? TimeSpan.FromSeconds(parse.GetValue(timeout)) : null,
                FromBeginning = parse.GetValue(fromBeginning),
            };
            await using var consumer = new AlertConsumer(options, loggerFactory.CreateLogger<AlertConsumer>());
            var count = await consumer.RunAsync(line => Console.Out.WriteLine(line), ct).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"{count} event(s) consumed.").ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
