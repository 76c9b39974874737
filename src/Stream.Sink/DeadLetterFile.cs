using System.Text.Json;

namespace Streaming.Sink;

/// <summary>
/// <c>dead-letter.jsonl</c> in the spool directory: the events Kafka refused for good, one JSON object a line (when, why,
/// the camera, the kind and the event itself), each line made durable before the event is settled in the spool.
/// </summary>
public sealed class DeadLetterFile
{
    private readonly TimeProvider _time;

    public DeadLetterFile(string directory, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(time);
        Path = System.IO.Path.Combine(directory, "dead-letter.jsonl");
        _time = time;
    }

    public string Path { get; }

    /// <summary>
    /// Appends <paramref name="record"/> and <paramref name="reason"/> as one line and flushes it to the disk. Throws
    /// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> when the file cannot be written: the caller
    /// then keeps the event unsettled.
    /// </summary>
    public void Write(SpoolRecord record, string reason)
    {
        ArgumentNullException.ThrowIfNull(record);
        using var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        using (var json = new Utf8JsonWriter(file))
        {
            json.WriteStartObject();
            json.WriteString("dead_letter_time", _time.GetUtcNow());
            json.WriteString("reason", reason);
            json.WriteString("camera_id", record.Key);
            json.WriteString("kind", EventMessage.KindName(record.Kind));
            json.WritePropertyName("event");
            try
            {
                json.WriteRawValue(record.Value);
            }
            catch (JsonException)
            {
                json.WriteBase64StringValue(record.Value);
            }

            json.WriteEndObject();
            json.Flush();
        }

        file.WriteByte((byte)'\n');
        file.Flush(flushToDisk: true);
    }
}
