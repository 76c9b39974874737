using System.Text;

namespace Streaming.Testing;

/// <summary>
/// Writes a minimal ONNX model by hand (protobuf wire format, field numbers from onnx.proto) so that tests can open real
/// models with any output shape: images [1,3,H,W] -> Reshape [1,-1] -> Slice [0, N) -> Reshape [output dims], where
/// N is the product of the output dims. Optional metadata_props (e.g. Ultralytics' "names") are written too.
/// </summary>
public static class TinyOnnx
{
    public static byte[] Model(int height, int width, long[] outputDims, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var count = outputDims.Aggregate(1L, (a, b) => a * b);
        var graph = Concat(
            Bytes(1, Node("flatten", "Reshape", ["images", "flat_shape"], "flat")),
            Bytes(1, Node("slice", "Slice", ["flat", "starts", "ends", "axes"], "sliced")),
            Bytes(1, Node("shape", "Reshape", ["sliced", "out_shape"], "output")),
            Text(2, "tiny"),
            Bytes(5, Int64Tensor("flat_shape", [1, -1])),
            Bytes(5, Int64Tensor("starts", [0])),
            Bytes(5, Int64Tensor("ends", [count])),
            Bytes(5, Int64Tensor("axes", [1])),
            Bytes(5, Int64Tensor("out_shape", outputDims)),
            Bytes(11, ValueInfo("images", [1, 3, height, width])),
            Bytes(12, ValueInfo("output", outputDims)));
        var opset = Concat(Text(1, string.Empty), Varint(2, 13));
        var props = (metadata ?? new Dictionary<string, string>())
            .Select(kv => Bytes(14, Concat(Text(1, kv.Key), Text(2, kv.Value))));
        return Concat([Varint(1, 7 /* IR version */), Text(2, "stream-tests"), Bytes(7, graph), Bytes(8, opset), .. props]);
    }

    private static byte[] Node(string name, string op, string[] inputs, string output) =>
        Concat([.. inputs.Select(i => Text(1, i)), Text(2, output), Text(3, name), Text(4, op)]);

    private static byte[] Int64Tensor(string name, long[] values)
    {
        var raw = values.SelectMany(BitConverter.GetBytes).ToArray(); // little-endian int64
        return Concat(Varint(1, values.Length), Varint(2, 7 /* INT64 */), Text(8, name), Bytes(9, raw));
    }

    private static byte[] ValueInfo(string name, long[] dims)
    {
        var shape = Concat([.. dims.Select(d => Bytes(1, Varint(1, d)))]);
        var tensorType = Concat(Varint(1, 1 /* FLOAT */), Bytes(2, shape));
        return Concat(Text(1, name), Bytes(2, Bytes(1, tensorType)));
    }

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
