using System.CommandLine;
using Confluent.Kafka;
using Streaming.Bench;
using Streaming.Cluster;
using Streaming.Hosting;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Sink;
using Streaming.Track;

namespace Streaming.App.Commands;

/// <summary>
/// <c>stream cameras put|rm|ls|import</c> (the camera registry topic of a cluster) and <c>stream cluster status</c> (the
/// worker group: members, the partitions and cameras each runs, cameras without an owner). docs/cluster.md.
/// </summary>
internal static class ClusterCommands
{
    public static void Register(RootCommand root, Command bench)
    {
        var cameras = new Command("cameras", "The camera registry of a cluster (a compacted Kafka topic): put, rm, ls, import.");
        cameras.Subcommands.Add(Put());
        cameras.Subcommands.Add(Remove());
        cameras.Subcommands.Add(List());
        cameras.Subcommands.Add(Import());
        root.Subcommands.Add(cameras);
        var cluster = new Command("cluster", "The worker group of a cluster.");
        cluster.Subcommands.Add(Status());
        root.Subcommands.Add(cluster);
        bench.Subcommands.Add(Bench());
    }

    /// <summary><c>stream bench cluster</c>: recovery after a worker's SIGKILL and restarts per join (docs/bench.md).</summary>
    private static Command Bench()
    {
        var workers = new Option<int>("--workers") { Description = "Worker processes (the fleet is kept at this size).", DefaultValueFactory = _ => 3 };
        var cameras = new Option<int>("--cameras") { Description = "File cameras in the registry (one partition each).", DefaultValueFactory = _ => 12 };
        var kills = new Option<int>("--kills") { Description = "Workers SIGKILLed one after another (each replaced once its cameras run again).", DefaultValueFactory = _ => 5 };
        var session = new Option<int>("--session-timeout") { Description = "Cluster:SessionTimeoutMs of the workers.", DefaultValueFactory = _ => 6000 };
        var heartbeat = new Option<int>("--heartbeat") { Description = "Cluster:HeartbeatIntervalMs of the workers.", DefaultValueFactory = _ => 1000 };
        var fps = new Option<double>("--fps") { Description = "Each camera's MaxFps (paced like a live camera, looping).", DefaultValueFactory = _ => 2 };
        var source = new Option<string>("--source") { Description = "Video file every camera plays.", DefaultValueFactory = _ => "samples/test_360p.mp4" };
        var model = new Option<string>("--model") { Description = "ONNX model of the workers.", DefaultValueFactory = _ => "models/yolox_nano.onnx" };
        var command = new Command("cluster", "A stream dev-kafka process and N workers on this machine: SIGKILL a worker K times (replacing it each time), time until its cameras stream again on the others (p50, max; last line) and count the cameras restarted per join.")
        {
            workers, cameras, kills, session, heartbeat, fps, source, model,
        };
        command.SetAction(async (parse, ct) =>
        {
            var settings = new ClusterBenchSettings
            {
                Workers = parse.GetValue(workers),
                Cameras = parse.GetValue(cameras),
                Kills = parse.GetValue(kills),
                SessionTimeoutMs = parse.GetValue(session),
                HeartbeatIntervalMs = parse.GetValue(heartbeat),
                Fps = parse.GetValue(fps),
                Source = parse.GetValue(source)!,
                Model = parse.GetValue(model)!,
            };
            if (settings.Workers < 2 || settings.Cameras < settings.Workers || settings.Kills < 1)
            {
                return Fail("bench cluster needs --workers >= 2, --cameras >= --workers and --kills >= 1");
            }

            try
            {
                var result = await ClusterBenchmark.RunAsync(settings, Console.Error, ct).ConfigureAwait(false);
                ClusterBenchmark.Print(Console.Out, result);
                return 0;
            }
            catch (Exception ex) when (ex is InvalidOperationException or FileNotFoundException or TimeoutException or KafkaException)
            {
                return Fail(UrlRedactor.Redact(ex.Message));
            }
        });
        return command;
    }

    /// <summary>--bootstrap, --config and --topic, shared by every registry command.</summary>
    private sealed class Target
    {
        public Option<string?> Bootstrap { get; } = new("--bootstrap") { Description = "Kafka bootstrap servers (host:port,...); default: the config's Sink:Kafka:BootstrapServers." };

        public Option<FileInfo?> Config { get; } = new("--config", "-c") { Description = "A pipeline config whose Sink:Kafka (servers, security) and Cluster (RegistryTopic, Partitions, Group) are used." };

        public Option<string?> Topic { get; } = new("--topic") { Description = "Registry topic (default: the config's Cluster:RegistryTopic, else stream.cameras)." };

        public void AddTo(Command command)
        {
            command.Options.Add(Bootstrap);
            command.Options.Add(Config);
            command.Options.Add(Topic);
        }

        /// <summary>Runs <paramref name="action"/> on the registry; a Kafka failure or a missing setting is one line on stderr and exit code 2.</summary>
        public async Task<int> RunAsync(ParseResult parse, Func<CameraRegistryTopic, ClusterOptions, Task<int>> action)
        {
            var (registry, cluster, problem) = Open(parse);
            if (registry is null)
            {
                return Fail(problem!);
            }

            using (registry)
            {
                try
                {
                    return await action(registry, cluster).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is KafkaException or InvalidOperationException or TimeoutException)
                {
                    return Fail($"camera registry '{registry.Topic}': {UrlRedactor.Redact(ex.Message)}");
                }
            }
        }

        /// <summary>The registry and the cluster options, or one line saying what is missing.</summary>
        public (CameraRegistryTopic? Registry, ClusterOptions Cluster, string? Problem) Open(ParseResult parse)
        {
            var kafka = new KafkaSinkOptions();
            var cluster = new ClusterOptions();
            if (parse.GetValue(Config) is { } file)
            {
                var configuration = PipelineConfiguration.Load(file, [], out var errors);
                if (errors.Count > 0)
                {
                    return (null, cluster, errors[0]);
                }

                ConfigurationChecks.Bind(configuration.GetSection("Sink:Kafka"), kafka);
                ConfigurationChecks.Bind(configuration.GetSection(ClusterOptions.Section), cluster);
            }

            var bootstrap = parse.GetValue(Bootstrap) ?? kafka.BootstrapServers;
            if (string.IsNullOrWhiteSpace(bootstrap))
            {
                return (null, cluster, "no Kafka cluster named: pass --bootstrap HOST:PORT, or --config FILE with Sink:Kafka:BootstrapServers");
            }

            cluster.RegistryTopic = parse.GetValue(Topic) ?? cluster.RegistryTopic;
            return (new CameraRegistryTopic(CameraRegistryTopic.ClientSettings(kafka, bootstrap), cluster.RegistryTopic), cluster, null);
        }
    }

    private static Command Put()
    {
        var target = new Target();
        var file = new Argument<string>("FILE") { Description = "A camera as in config ({\"Id\":..,\"Url\":..}), or a list of them; - reads standard input." };
        var command = new Command("put", "Add or replace cameras in the registry (the group starts each on one worker).") { file };
        target.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            byte[] json;
            try
            {
                json = path == "-" ? await ReadStdinAsync(ct).ConfigureAwait(false) : await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                return Fail($"cannot read '{path}' ({ex.Message}): pass a JSON file with a camera, or - for standard input");
            }

            var (cameras, problems) = ParseCameras(json);
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await Console.Error.WriteLineAsync($"stream: {path}: {UrlRedactor.Redact(problem)}").ConfigureAwait(false);
                }

                return 2;
            }

            return await WriteAsync(target, parse, cameras, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Import()
    {
        var target = new Target();
        var file = new Argument<FileInfo>("CONFIG") { Description = "A pipeline config whose Cameras go into the registry (once; then leave them out of the workers' config)." };
        var command = new Command("import", "Put every camera of a config file's Cameras into the registry.") { file };
        target.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var configuration = PipelineConfiguration.Load(parse.GetValue(file), [], out var errors);
            if (errors.Count > 0)
            {
                return Fail(errors[0]);
            }

            var section = configuration.GetSection(CameraListOptions.Section);
            var list = new CameraListOptions();
            ConfigurationChecks.Bind(section, list.Cameras);
            var problems = ConfigurationChecks.Problems(section, list.Cameras.GetType()).Concat(CameraListOptions.Validator.Problems(list)).ToList();

            // Each camera takes its zones and lines from the config's Track:Cameras into its record.
            var track = configuration.GetSection(TrackOptions.Section);
            var geometries = new TrackOptions();
            ConfigurationChecks.Bind(track, geometries);
            problems.AddRange(ConfigurationChecks.Problems(track, typeof(TrackOptions)).Concat(TrackOptions.Validator.Problems(geometries)));
            var records = list.Cameras.Select(c => RegistryCamera.Of(c, geometries.Cameras.GetValueOrDefault(c.Id))).ToList();
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await Console.Error.WriteLineAsync($"stream: config error: {UrlRedactor.Redact(problem)}").ConfigureAwait(false);
                }

                return 2;
            }

            if (parse.GetValue(target.Config) is null && parse.GetValue(target.Bootstrap) is null)
            {
                // The imported file names the Kafka cluster unless told otherwise.
                return await WriteAsync(target, parse, records, ct, parse.GetValue(file)).ConfigureAwait(false);
            }

            return await WriteAsync(target, parse, records, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> WriteAsync(Target target, ParseResult parse, IReadOnlyList<RegistryCamera> cameras, CancellationToken ct, FileInfo? configFallback = null)
    {
        var (registry, cluster, problem) = configFallback is null ? target.Open(parse) : OpenFromConfig(configFallback, parse.GetValue(target.Topic));

        if (registry is null)
        {
            return Fail(problem!);
        }

        using (registry)
        {
            try
            {
                await registry.EnsureAsync(cluster.Partitions, cluster.ReplicationFactor, w => Console.Error.WriteLine($"stream: warning: {w}"), ct).ConfigureAwait(false);
                var partitions = await registry.PutAsync(cameras, ct).ConfigureAwait(false);
                for (var i = 0; i < cameras.Count; i++)
                {
                    Console.WriteLine($"put {cameras[i].Id} (partition {partitions[i]} of {registry.Topic}){Geometry(cameras[i])}");
                }

                return 0;
            }
            catch (Exception ex) when (ex is KafkaException or InvalidOperationException or TimeoutException)
            {
                return Fail($"camera registry '{registry.Topic}': {UrlRedactor.Redact(ex.Message)}");
            }
        }
    }

    private static (CameraRegistryTopic? Registry, ClusterOptions Cluster, string? Problem) OpenFromConfig(FileInfo config, string? topic)
    {
        var configuration = PipelineConfiguration.Load(config, [], out _);
        var kafka = new KafkaSinkOptions();
        var cluster = new ClusterOptions();
        ConfigurationChecks.Bind(configuration.GetSection("Sink:Kafka"), kafka);
        ConfigurationChecks.Bind(configuration.GetSection(ClusterOptions.Section), cluster);
        if (string.IsNullOrWhiteSpace(kafka.BootstrapServers) || kafka.IsEmbedded)
        {
            return (null, cluster, $"'{config.Name}' has no Sink:Kafka:BootstrapServers: pass --bootstrap HOST:PORT (or --config with a cluster config)");
        }

        cluster.RegistryTopic = topic ?? cluster.RegistryTopic;
        return (new CameraRegistryTopic(CameraRegistryTopic.ClientSettings(kafka), cluster.RegistryTopic), cluster, null);
    }

    private static Command Remove()
    {
        var target = new Target();
        var id = new Argument<string>("ID") { Description = "The camera id." };
        var command = new Command("rm", "Remove a camera from the registry (its worker stops it).") { id };
        target.AddTo(command);
        command.SetAction((parse, ct) => target.RunAsync(parse, async (registry, _) =>
        {
            var camera = parse.GetValue(id)!;
            if (!await registry.RemoveAsync(camera, ct).ConfigureAwait(false))
            {
                return Fail($"no camera '{camera}' in registry '{registry.Topic}': `stream cameras ls` lists them");
            }

            Console.WriteLine($"removed {camera}");
            return 0;
        }));
        return command;
    }

    private static Command List()
    {
        var target = new Target();
        var command = new Command("ls", "List the registry's cameras: id, partition, URL (credentials masked); records that are no camera are flagged.");
        target.AddTo(command);
        command.SetAction((parse, ct) => target.RunAsync(parse, (registry, _) =>
        {
            foreach (var record in registry.ReadAll(ct).Values.Where(r => r.Value is not null).OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                var (camera, problems) = RegistryCamera.Parse(record.Value);
                Console.WriteLine(camera is not null
                    ? $"{record.Key}\tpartition {record.Partition}\t{UrlRedactor.Redact(camera.Camera.Url)}{Geometry(camera)}"
                    : $"{record.Key}\tpartition {record.Partition}\tINVALID: {UrlRedactor.Redact(string.Join("; ", problems))}");
            }

            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Status()
    {
        var target = new Target();
        var group = new Option<string?>("--group") { Description = "Worker group (default: the config's Cluster:Group, else stream-workers)." };
        var command = new Command("status", "The worker group's members, the partitions and cameras each runs, and cameras without an owner.") { group };
        target.AddTo(command);
        command.SetAction((parse, ct) => target.RunAsync(parse, async (registry, cluster) =>
        {
            var records = registry.ReadAll(ct).Values.Where(r => r.Value is not null).ToList();
            var status = await ClusterStatus.DescribeAsync(registry, parse.GetValue(group) ?? cluster.Group, records, ct).ConfigureAwait(false);
            foreach (var line in status.Lines())
            {
                Console.WriteLine(line);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>", with 2 zones and 1 line" when the record has any, else nothing.</summary>
    private static string Geometry(RegistryCamera camera) =>
        camera.HasGeometry ? $", with {camera.Geometry.Zones.Count} zone(s) and {camera.Geometry.Lines.Count} line(s)" : string.Empty;

    /// <summary>One camera object, or a JSON array of them; each checked like a config file's camera (with optional Zones and Lines as in Track:Cameras).</summary>
    private static (List<RegistryCamera> Cameras, List<string> Problems) ParseCameras(byte[] json)
    {
        var cameras = new List<RegistryCamera>();
        var problems = new List<string>();
        System.Text.Json.JsonDocument doc;
        try
        {
            doc = System.Text.Json.JsonDocument.Parse(json, new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (System.Text.Json.JsonException ex)
        {
            return (cameras, [$"not JSON ({ex.Message.Split('\n')[0]}): write a camera as in config, e.g. {{\"Id\":\"cam-1\",\"Url\":\"rtsp://host/path\"}}"]);
        }

        using (doc)
        {
            var items = doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Array ? [.. doc.RootElement.EnumerateArray()] : new[] { doc.RootElement };
            foreach (var (item, i) in items.Select((e, i) => (e, i)))
            {
                var (camera, errors) = RegistryCamera.Parse(System.Text.Encoding.UTF8.GetBytes(item.GetRawText()));
                if (camera is null)
                {
                    problems.AddRange(errors.Select(e => items.Length > 1 ? $"camera {i}: {e}" : e));
                }
                else
                {
                    cameras.Add(camera);
                }
            }
        }

        return (cameras, problems);
    }

    private static async Task<byte[]> ReadStdinAsync(CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await Console.OpenStandardInput().CopyToAsync(buffer, ct).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static int Fail(string line)
    {
        Console.Error.WriteLine($"stream: {line}");
        return 2;
    }
}
