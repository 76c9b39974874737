using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Core;
using Streaming.DevServices;
using Streaming.Sink;

namespace Streaming.Bench;

/// <summary>Settings of <c>stream bench sink</c>.</summary>
public sealed class SinkBenchmarkOptions
{
    public int Events { get; init; } = 20_000;

    public int Cameras { get; init; } = 4;

    /// <summary>Kafka bootstrap servers; null: an in-process mock cluster.</summary>
    public string? BootstrapServers { get; init; }

    /// <summary>Redis configuration; null: frames are skipped (Redis unreachable) and only Kafka is measured.</summary>
    public string? Redis { get; init; }

    public int Width { get; init; } = 1280;

    public int Height { get; init; } = 960;

    /// <summary>Every Nth event refers to its frame (which is then JPEG-encoded and stored).</summary>
    public int FrameEvery { get; init; } = 25;

    /// <summary>Offered load of the latency phase, events per second (0: half the measured sink throughput).</summary>
    public double PacedRate { get; init; }

    public TimeSpan PacedDuration { get; init; } = TimeSpan.FromSeconds(4);
}

/// <summary>
/// Measures the Sink in one run: the bare producer's ceiling (same config, pre-serialised events), the sink's saturated
/// throughput (map + serialise + produce + acknowledge, frames to Redis), and capture-to-ack latency at a paced load.
/// </summary>
public static class SinkBenchmark
{
    public static async Task<double> RunAsync(SinkBenchmarkOptions options, ILoggerFactory loggerFactory, Action<string> print, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(print);
        using var cluster = options.BootstrapServers is null ? await EmbeddedKafkaCluster.StartAsync(1, cancellationToken: cancellationToken).ConfigureAwait(false) : null;
        var bootstrap = options.BootstrapServers ?? cluster!.BootstrapServers;
        var topic = "bench-" + Guid.NewGuid().ToString("N")[..8];
        cluster?.EnsureTopic(topic);
        print($"broker: {(cluster is null ? bootstrap : "in-process mock cluster " + bootstrap)}, topic {topic}, {options.Events} events over {options.Cameras} cameras, frames {options.Width}x{options.Height}");

        // 1. Ceiling: the bare idempotent producer, same settings, pre-serialised payloads, delivery handler per message.
        var sample = EventMessage.From(MakeEvent("cam-0", 0, DateTimeOffset.UtcNow, withFrame: true), "frame").ToUtf8();
        var kafka = new KafkaSinkOptions { Topic = topic };
        double rawRate;
        double rawCpuUs;
        using (var producer = new ProducerBuilder<string, byte[]>(KafkaProducerConfigBuilder.Build(kafka, bootstrap)).SetLogHandler((_, _) => { }).Build())
        {
            var keys = Enumerable.Range(0, options.Cameras).Select(i => "cam-" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
            long acked = 0;
            Action<DeliveryReport<string, byte[]>> onReport = r =>
            {
                if (!r.Error.IsError)
                {
                    Interlocked.Increment(ref acked);
                }
            };
            var cpu = ProcessCpu();
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < options.Events; i++)
            {
                producer.Produce(topic, new Message<string, byte[]> { Key = keys[i % keys.Length], Value = sample }, onReport);
            }

            producer.Flush(cancellationToken);
            rawRate = Interlocked.Read(ref acked) / sw.Elapsed.TotalSeconds;
            rawCpuUs = (ProcessCpu() - cpu).TotalMicroseconds / options.Events;
        }

        print($"bare producer:   {rawRate,10:0} events/s acknowledged ({sample.Length} B per event), {rawCpuUs:0.0} us CPU per event (broker included)");

        // 2. Sink, saturated.
        var (sinkRate, _, encode, sinkCpuUs) = await RunSinkAsync(options, bootstrap, topic, loggerFactory, rate: 0, cancellationToken).ConfigureAwait(false);
        print($"sink saturated:  {sinkRate,10:0} events/s acknowledged, {sinkCpuUs:0.0} us CPU per event (JPEG encode p50 {Percentile(encode, 0.5):0.0} ms for {encode.Count} stored frames)");

        // 3. Sink, paced: capture-to-ack latency.
        var rate = options.PacedRate > 0 ? options.PacedRate : Math.Max(10, sinkRate / 2);
        var (_, latency, _, _) = await RunSinkAsync(options, bootstrap, topic, loggerFactory, rate, cancellationToken).ConfigureAwait(false);
        print($"sink paced at {rate:0} events/s: capture-to-ack p50 {Percentile(latency, 0.5):0.0} ms, p99 {Percentile(latency, 0.99):0.0} ms, max {latency.DefaultIfEmpty().Max():0.0} ms ({latency.Count} events)");
        var ratio = sinkRate / rawRate;
        print($"ratio sink/bare-producer throughput = {ratio:0.00}, CPU per event = {sinkCpuUs / rawCpuUs:0.00}");
        return ratio;
    }

    /// <summary>CPU time of this process so far (every thread, the in-process broker's included): a figure that a loaded machine disturbs far less than wall time.</summary>
    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static async Task<(double Rate, List<double> Latency, List<double> Encode, double CpuUsPerEvent)> RunSinkAsync(SinkBenchmarkOptions options, string bootstrap, string topic,
        ILoggerFactory loggerFactory, double rate, CancellationToken cancellationToken)
    {
        var spool = Path.Combine(Path.GetTempPath(), "stream-bench-spool-" + Guid.NewGuid().ToString("N"));
        var sinkOptions = new SinkOptions
        {
            Kafka = new KafkaSinkOptions { BootstrapServers = bootstrap, Topic = topic },
            Spool = new SpoolOptions { Directory = spool },
            Redis = new RedisSinkOptions { Configuration = options.Redis ?? "127.0.0.1:1,connectTimeout=200", EveryNthFrame = 0 },
        };
        var problems = SinkOptions.Validator.Problems(sinkOptions);
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems), nameof(options));
        }

        var latency = new List<double>();
        var encode = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Telemetry.SinkMeter && instrument.Name is "stream.sink.ack_latency" or "stream.sink.jpeg_encode")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            var list = instrument.Name == "stream.sink.ack_latency" ? latency : encode;
            lock (list)
            {
                list.Add(value);
            }
        });
        listener.Start();

        using var meters = new StandaloneMeterFactory();
        var metrics = new SinkMetrics(meters);
        var frames = Channel.CreateBounded<TrackedFrame>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var status = Channel.CreateBounded<CameraStatusChange>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        await using var redis = new RedisConnection(sinkOptions.Redis);
        using var sink = new SinkService(Microsoft.Extensions.Options.Options.Create(sinkOptions), frames.Reader, status.Reader,
            new EventSpoolFactory(sinkOptions.Spool, loggerFactory, TimeProvider.System), KafkaProducerFactory.Instance, redis, metrics, loggerFactory,
            new FrameLatency(meters), TimeProvider.System, Microsoft.Extensions.Options.Options.Create(new ClipOptions { Enabled = false }), new ClipMetrics(meters));
        await sink.StartAsync(cancellationToken).ConfigureAwait(false);
        await sink.BootstrapServers.ConfigureAwait(false);
        var cameras = Enumerable.Range(0, options.Cameras).Select(i => "cam-" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var count = rate > 0 ? (int)(rate * options.PacedDuration.TotalSeconds) : options.Events;
        var cpu = ProcessCpu();
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            if (rate > 0)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due > sw.Elapsed)
                {
                    await Task.Delay(due - sw.Elapsed, cancellationToken).ConfigureAwait(false);
                }
            }

            var camera = cameras[i % cameras.Length];
            var seq = i / cameras.Length;
            var frame = Frame.Rent(camera, seq, options.Width, options.Height, DateTimeOffset.UtcNow);
            var e = MakeEvent(camera, seq, frame.CaptureTime, withFrame: options.FrameEvery > 0 && seq % options.FrameEvery == 0);
            await frames.Writer.WriteAsync(new TrackedFrame(frame, [], [e], false), cancellationToken).ConfigureAwait(false);
        }

        while (metrics.Delivered < count && sw.Elapsed < TimeSpan.FromMinutes(5))
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        var elapsed = sw.Elapsed.TotalSeconds;
        var cpuUs = (ProcessCpu() - cpu).TotalMicroseconds / count;
        frames.Writer.Complete();
        status.Writer.Complete();
        await sink.StopAsync(cancellationToken).ConfigureAwait(false);
        listener.Dispose();
        try
        {
            Directory.Delete(spool, recursive: true);
        }
        catch (IOException)
        {
        }

        return (metrics.Delivered / elapsed, latency, encode, cpuUs);
    }

    private static PipelineEvent MakeEvent(string camera, long seq, DateTimeOffset time, bool withFrame) => new()
    {
        Kind = EventKind.TrackStarted,
        CameraId = camera,
        Time = time,
        FrameSequence = withFrame ? seq : null,
        TrackId = seq,
        ClassId = 0,
        Score = 0.9f,
        Box = new BoxF(100, 120, 300, 480),
        FirstSeen = time,
    };

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(p * sorted.Length))];
    }

}
