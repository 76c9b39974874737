using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Streaming.Core;

namespace Streaming.Sink;

/// <summary>One event waiting in the spool: its Kafka key and value plus what metrics need.</summary>
public sealed record SpoolRecord(string Key, byte[] Value, EventKind Kind, long CaptureUnixMs)
{
    /// <summary>The frame's capture stamp (<see cref="TimeProvider.GetTimestamp"/>) while the process that took the event lives; 0 once read back from disk. Not stored.</summary>
    public long CaptureTimestamp { get; init; }
}

/// <summary>
/// How one <see cref="SpoolRecord"/> lies in a spool segment file: <c>[u32 length][u32 crc32][payload]</c>, payload =
/// <c>[i64 capture unix ms][u8 kind][u16 key length][key utf-8][value]</c>, little-endian, the CRC-32 over the payload.
/// Encoding, and reading back with every check a torn or corrupt record fails (length, size, checksum, key). The
/// segment files themselves are <see cref="EventSpool"/>'s.
/// </summary>
internal static class SpoolRecordFormat
{
    public const int HeaderBytes = 8;
    public const int FixedPayloadBytes = 8 + 1 + 2;
    public const int MaxRecordBytes = 64 << 20;

    /// <summary>The record's bytes on disk (header included); throws <see cref="ArgumentException"/> for one the format cannot hold.</summary>
    public static int Measure(SpoolRecord record, out int keyBytes)
    {
        ArgumentNullException.ThrowIfNull(record);
        keyBytes = Encoding.UTF8.GetByteCount(record.Key);
        var payload = FixedPayloadBytes + keyBytes + record.Value.Length;
        if (payload > MaxRecordBytes || keyBytes > ushort.MaxValue)
        {
            throw new ArgumentException($"Event of {payload} bytes is too large for the spool.", nameof(record));
        }

        return HeaderBytes + payload;
    }

    /// <summary>Encodes <paramref name="record"/> into <paramref name="destination"/>, exactly <see cref="Measure"/> bytes long.</summary>
    public static void Write(SpoolRecord record, int keyBytes, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(record);
        var body = destination[HeaderBytes..];
        BinaryPrimitives.WriteInt64LittleEndian(body, record.CaptureUnixMs);
        body[8] = (byte)record.Kind;
        BinaryPrimitives.WriteUInt16LittleEndian(body[9..], (ushort)keyBytes);
        Encoding.UTF8.GetBytes(record.Key, body.Slice(FixedPayloadBytes, keyBytes));
        record.Value.CopyTo(body[(FixedPayloadBytes + keyBytes)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32.HashToUInt32(body));
    }

    /// <summary>Reads the record at <paramref name="offset"/>; false, with why, when it is truncated or corrupt.</summary>
    public static bool TryRead(SafeFileHandle handle, long offset, out SpoolRecord? record, out int length, out string? problem)
    {
        record = null;
        length = 0;
        var fileLength = RandomAccess.GetLength(handle);
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (fileLength - offset < HeaderBytes || RandomAccess.Read(handle, header, offset) < HeaderBytes)
        {
            problem = $"truncated header ({fileLength - offset} bytes left)";
            return false;
        }

        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (payloadLength < FixedPayloadBytes || payloadLength > MaxRecordBytes)
        {
            problem = $"impossible record length {payloadLength}";
            return false;
        }

        if (fileLength - offset - HeaderBytes < payloadLength)
        {
            problem = $"truncated record (needs {payloadLength} bytes, {fileLength - offset - HeaderBytes} left)";
            return false;
        }

        var payload = new byte[payloadLength];
        if (RandomAccess.Read(handle, payload, offset + HeaderBytes) < payloadLength)
        {
            problem = "short read";
            return false;
        }

        if (Crc32.HashToUInt32(payload) != crc)
        {
            problem = "checksum mismatch";
            return false;
        }

        var keyLength = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(9));
        if (FixedPayloadBytes + keyLength > payloadLength)
        {
            problem = "key longer than record";
            return false;
        }

        var capture = BinaryPrimitives.ReadInt64LittleEndian(payload);
        var kind = (EventKind)payload[8];
        var key = Encoding.UTF8.GetString(payload, FixedPayloadBytes, keyLength);
        var value = payload.AsSpan(FixedPayloadBytes + keyLength).ToArray();
        record = new SpoolRecord(key, value, kind, capture);
        length = HeaderBytes + (int)payloadLength;
        problem = null;
        return true;
    }

    /// <summary>
    /// Counts the whole records at the start of the file at <paramref name="path"/>: how many, the length they fill, and
    /// why the scan stopped before the end (a torn or corrupt record ends its segment), or null when it reached the end.
    /// </summary>
    public static (long Records, long ValidLength, string? Problem) Scan(string path)
    {
        long offset = 0;
        long records = 0;
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = RandomAccess.GetLength(handle);
        while (offset < length)
        {
            if (!TryRead(handle, offset, out _, out var recordLength, out var problem))
            {
                return (records, offset, problem);
            }

            offset += recordLength;
            records++;
        }

        return (records, offset, null);
    }
}
