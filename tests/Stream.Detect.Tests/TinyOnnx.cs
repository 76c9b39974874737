using System.Text;

namespace Streaming.Detect.Tests;

/// <summary>
/// Writes a minimal ONNX model (protobuf wire format, by hand, following onnx.proto) so that tests can open a real
/// model with an output shape no YOLO head has: images [1,3,H,W] -> Reshape -> output [dims].
/// </summary>
internal static class TinyOnnx
{
    public static byte[] Reshape(int height, int width, long[] outputDims)
    {
        var shapeTensor = new MemoryStream();
        foreach (var d in outputDims)
        {
            shapeTensor.Write(BitConverter.GetBytes(d)); // raw_data: little-endian int64
        }

        var initializer = Message(
            Concat(outputDims.Length > 0 ? Varint(1, outputDims.Length) : [], Varint(2, 7 /* INT64 */), Bytes(8, "shape"u8.ToArray()), Bytes(9, shapeTensor.ToArray())));
        var node = Concat(Text(1, "images"), Text(1, "shape"), Text(2, "output"), Text(3, "reshape"), Text(4, "Reshape"));
        var graph = Concat(
            Bytes(1, node),
            Text(2, "tiny"),
            Bytes(5, initializer),
            Bytes(11, ValueInfo("images", [1, 3, height, width])),
            Bytes(12, ValueInfo("output", outputDims)));
        var opset = Concat(Text(1, string.Empty), Varint(2, 13));
        return Concat(Varint(1, 7 /* IR version */), Text(2, "stream-tests"), Bytes(7, graph), Bytes(8, opset));
    }

    private static byte[] ValueInfo(string name, long[] dims)
    {
        var shape = Concat([.. dims.Select(d => Bytes(1, Varint(1, d)))]);
        var tensorType = Concat(Varint(1, 1 /* FLOAT */), Bytes(2, shape));
        var type = Bytes(1, tensorType);
        return Concat(Text(1, name), Bytes(2, type));
    }

    private static byte[] Message(byte[] content) => content;

    private static byte[] Text(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    private static byte[] Bytes(int field, byte[] value) => Concat(Key(field, 2), RawVarint((ulong)value.Length), value);

    private static byte[] Varint(int field, long value) => Concat(Key(field, 0), RawVarint((ulong)value));

    private static byte[] Key(int field, int wireType) => RawVarint((ulong)((field << 3) | wireType));

    private static byte[] RawVarint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value != 0 ? (byte)(b | 0x80) : b);
        }
        while (value != 0);
        return [.. bytes];
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
