using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using StackExchange.Redis;
using Streaming.Core;
using Streaming.Sink;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Streaming.DevServices;

/// <summary>Settings of <see cref="AlertConsumer"/> (the <c>stream alerts</c> command).</summary>
public sealed class AlertConsumerOptions
{
    public required string BootstrapServers { get; init; }

    public string Topic { get; init; } = "stream.events";

    public string GroupId { get; init; } = "stream-alerts";

    /// <summary>Redis configuration string; null: frames are not fetched.</summary>
    public string? Redis { get; init; }

    /// <summary>Directory for the event pictures; null: none saved.</summary>
    public string? SaveDirectory { get; init; }

    /// <summary>
    /// The workers' <c>Clips:Directory</c> (local or mounted): an event's <c>clip_key</c> is copied from it into
    /// <see cref="SaveDirectory"/> next to its picture. Null: no clips saved.
    /// </summary>
    public string? ClipDirectory { get; init; }

    /// <summary>Stop after this many events (0: no limit).</summary>
    public int MaxEvents { get; init; }

    /// <summary>Stop after this long without an event (null: never).</summary>
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>A group without committed offsets starts at the oldest event (else at the newest).</summary>
    public bool FromBeginning { get; init; }

    /// <summary>How long to wait for a frame an event refers to (the sink stores it shortly after publishing the event).</summary>
    public TimeSpan FrameWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Extra librdkafka consumer properties (e.g. security settings).</summary>
    public IReadOnlyDictionary<string, string>? Properties { get; init; }
}

/// <summary>What the consumer made of one event.</summary>
public sealed record AlertResult(EventMessage Event, string Key, int Partition, long Offset, string? SavedPath, bool FrameFound)
{
    /// <summary>Where the event's clip was saved (its <c>clip_key</c> copied from the clip directory); null when none.</summary>
    public string? SavedClip { get; init; }
}

/// <summary>
/// A real consumer of the event topic (consumer group, committed offsets): prints one line per event, fetches the frame the
/// event refers to from Redis and saves it as JPEG with the event's box and label drawn.
/// </summary>
public sealed class AlertConsumer : IAsyncDisposable
{
    private readonly AlertConsumerOptions _options;
    private readonly ILogger _logger;
    private readonly IConsumer<string, byte[]> _consumer;
    private ConnectionMultiplexer? _redis;

    public AlertConsumer(AlertConsumerOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _logger = logger;
        var config = new ConsumerConfig
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = options.GroupId,
            AutoOffsetReset = options.FromBeginning ? AutoOffsetReset.Earliest : AutoOffsetReset.Latest,
            EnableAutoCommit = true,
            EnablePartitionEof = false,
        };
        foreach (var (k, v) in options.Properties ?? new Dictionary<string, string>())
        {
            config.Set(k, v);
        }

        _consumer = new ConsumerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, e) => _logger.AlertKafkaError(UrlRedactor.Redact(e.Reason)))
            .SetLogHandler((_, _) => { })
            .Build();
    }

    /// <summary>All results so far (for callers that want more than the printed lines).</summary>
    public List<AlertResult> Results { get; } = [];

    /// <summary>Consumes until cancelled, <see cref="AlertConsumerOptions.MaxEvents"/> or the idle timeout; returns the number of events.</summary>
    public async Task<int> RunAsync(Action<string> print, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(print);
        if (_options.Redis is { } redisConfig)
        {
            var ro = ConfigurationOptions.Parse(redisConfig);
            ro.AbortOnConnectFail = false;
            _redis = await ConnectionMultiplexer.ConnectAsync(ro).ConfigureAwait(false);
        }

        if (_options.SaveDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
        }

        _consumer.Subscribe(_options.Topic);
        var count = 0;
        var lastEvent = DateTime.UtcNow;
        while (!cancellationToken.IsCancellationRequested)
        {
            ConsumeResult<string, byte[]>? result;
            try
            {
                result = await Task.Run(() => _consumer.Consume(TimeSpan.FromMilliseconds(250)), CancellationToken.None).ConfigureAwait(false);
            }
            catch (ConsumeException ex)
            {
                _logger.AlertKafkaError(UrlRedactor.Redact(ex.Error.Reason));
                continue;
            }

            if (result?.Message is null)
            {
                // Joining the group takes a few seconds: before the first event wait at least 20 s.
                if (_options.IdleTimeout is { } idle && DateTime.UtcNow - lastEvent > (count == 0 && idle < TimeSpan.FromSeconds(20) ? TimeSpan.FromSeconds(20) : idle))
                {
                    break;
                }

                continue;
            }

            lastEvent = DateTime.UtcNow;
            EventMessage? e;
            try
            {
                e = EventMessage.Parse(result.Message.Value);
            }
            catch (System.Text.Json.JsonException ex)
            {
                _logger.AlertBadEvent(result.Partition.Value, result.Offset.Value, ex.Message);
                continue;
            }

            if (e is null)
            {
                continue;
            }

            var (saved, found) = await FetchAndSaveAsync(e, cancellationToken).ConfigureAwait(false);
            var clip = SaveClip(e);
            Results.Add(new AlertResult(e, result.Message.Key, result.Partition.Value, result.Offset.Value, saved, found) { SavedClip = clip });
            print(Describe(e, saved) + (clip is null ? string.Empty : " clip_saved=" + clip));
            count++;
            if (_options.MaxEvents > 0 && count >= _options.MaxEvents)
            {
                break;
            }
        }

        return count;
    }

    /// <summary>One line for an event: time, camera, kind and what applies to the kind.</summary>
    public static string Describe(EventMessage e, string? savedPath = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"{e.Time.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ} {e.CameraId} {e.Kind}");
        if (e.TrackId is { } t)
        {
            sb.Append(inv, $" track={t}");
        }

        if (e.Label is { } l)
        {
            sb.Append(inv, $" label={l}");
        }

        if (e.Score is { } s)
        {
            sb.Append(inv, $" score={s:0.00}");
        }

        if (e.Zone is { } z)
        {
            sb.Append(inv, $" zone={z}");
        }

        if (e.Line is { } line)
        {
            sb.Append(inv, $" line={line} direction={e.Direction}");
        }

        if (e.Status is { } st)
        {
            sb.Append(inv, $" status={st} state={e.State}");
        }

        if (e.Reason is { } r)
        {
            sb.Append(inv, $" reason=\"{r}\"");
        }

        if (e.Counts is { } c)
        {
            sb.Append(" counts=").AppendJoin(',', c.Select(kv => kv.Key + ":" + kv.Value.ToString(inv)));
        }

        if (e.FrameKey is { } fk)
        {
            sb.Append(inv, $" frame={fk}");
        }

        if (e.ClipKey is { } ck)
        {
            sb.Append(inv, $" clip={ck} ({e.ClipSeconds:0.0} s)");
        }

        sb.Append(inv, $" id={e.Id}");
        if (savedPath is not null)
        {
            sb.Append(inv, $" saved={savedPath}");
        }

        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _consumer.Close();
        }
        catch (KafkaException)
        {
        }

        _consumer.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Copies the event's clip (track_ended, clip_ready) next to its picture as {camera}_{seq}_{kind}_{id}.mp4; null when there is none to copy.</summary>
    private string? SaveClip(EventMessage e)
    {
        if (_options is not { SaveDirectory: { } dir, ClipDirectory: { } clips } || e.ClipKey is not { } key || ClipWriter.PathFor(clips, key) is not { } source
            || !File.Exists(source))
        {
            return null;
        }

        var target = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"{e.CameraId}_{e.FrameSequence}_{e.Kind}_{e.Id:N}.mp4"));
        try
        {
            File.Copy(source, target, overwrite: true);
            return target;
        }
        catch (IOException)
        {
            return null; // deleted by retention in the meantime
        }
    }

    private async Task<(string? Saved, bool Found)> FetchAndSaveAsync(EventMessage e, CancellationToken cancellationToken)
    {
        if (_redis is null || e.FrameKey is null)
        {
            return (null, false);
        }

        byte[]? jpeg = null;
        var deadline = DateTime.UtcNow + _options.FrameWait;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var value = await _redis.GetDatabase().StringGetAsync(e.FrameKey).ConfigureAwait(false);
                if (value.HasValue)
                {
                    jpeg = (byte[])value!;
                    break;
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _logger.AlertRedisError(UrlRedactor.Redact(ex.Message));
            }

            if (DateTime.UtcNow >= deadline)
            {
                break;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        if (jpeg is null)
        {
            _logger.AlertFrameMissing(e.FrameKey);
            return (null, false);
        }

        if (_options.SaveDirectory is not { } dir)
        {
            return (null, true);
        }

        using var image = Cv2.ImDecode(jpeg, ImreadModes.Color);
        if (image.Empty())
        {
            return (null, true);
        }

        if (e.Box is { } b)
        {
            var rect = new Rect((int)b.X1, (int)b.Y1, Math.Max(1, (int)(b.X2 - b.X1)), Math.Max(1, (int)(b.Y2 - b.Y1)));
            var color = new Scalar(0, 0, 255);
            Cv2.Rectangle(image, rect, color, 2);
            var label = string.Create(CultureInfo.InvariantCulture, $"{e.Label ?? e.Kind} #{e.TrackId} {e.Score:0.00}");
            var size = Cv2.GetTextSize(label, HersheyFonts.HersheySimplex, 0.6, 1, out var baseline);
            var top = Math.Max(0, rect.Y - size.Height - baseline - 4);
            Cv2.Rectangle(image, new Rect(rect.X, top, size.Width + 4, size.Height + baseline + 4), color, -1);
            Cv2.PutText(image, label, new Point(rect.X + 2, top + size.Height + 2), HersheyFonts.HersheySimplex, 0.6, Scalar.White, 1, LineTypes.AntiAlias);
        }

        var path = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"{e.CameraId}_{e.FrameSequence}_{e.Kind}_{e.Id:N}.jpg"));
        Cv2.ImWrite(path, image);
        return (path, true);
    }
}
