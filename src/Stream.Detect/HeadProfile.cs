namespace Streaming.Detect;

/// <summary>
/// What a head family expects of its input, besides its output layout: channel order, value scale and where the
/// letterboxed picture sits. YOLOX is trained on BGR 0..255 placed top-left; Ultralytics YOLOv5/v8/11 on RGB 0..1 centred.
/// </summary>
public sealed record HeadProfile(HeadKind Kind, bool Rgb, float Scale, bool Centered, float PadValue = 114f)
{
    public static HeadProfile For(HeadKind kind) => kind switch
    {
        HeadKind.Yolox => new HeadProfile(HeadKind.Yolox, Rgb: false, Scale: 1f, Centered: false),
        HeadKind.Yolov5 => new HeadProfile(HeadKind.Yolov5, Rgb: true, Scale: 1f / 255f, Centered: true),
        HeadKind.Yolov8 => new HeadProfile(HeadKind.Yolov8, Rgb: true, Scale: 1f / 255f, Centered: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "a concrete head kind is needed"),
    };

    /// <summary>
    /// Recognises the head from the per-image output shape (<paramref name="dim1"/> x <paramref name="dim2"/>, batch axis removed)
    /// for a network input of <paramref name="inputWidth"/> x <paramref name="inputHeight"/>. Returns null when nothing matches.
    /// </summary>
    public static HeadKind? Recognise(long dim1, long dim2, int inputWidth, int inputHeight)
    {
        var cells = GridCells(inputWidth, inputHeight);
        if (dim1 == cells && dim2 >= 6)
        {
            return HeadKind.Yolox;
        }

        if (dim1 == 3 * cells && dim2 >= 6)
        {
            return HeadKind.Yolov5;
        }

        if (dim2 == cells && dim1 >= 5)
        {
            return HeadKind.Yolov8;
        }

        return null;
    }

    /// <summary>Number of grid cells over strides 8, 16 and 32 (the anchors of an anchor-free head).</summary>
    public static long GridCells(int inputWidth, int inputHeight)
    {
        long total = 0;
        foreach (var s in Strides)
        {
            total += (long)(inputWidth / s) * (inputHeight / s);
        }

        return total;
    }

    public static IReadOnlyList<int> Strides { get; } = [8, 16, 32];

    /// <summary>The shapes this code understands, for error messages.</summary>
    public static string SupportedShapes(int inputWidth, int inputHeight)
    {
        var cells = GridCells(inputWidth, inputHeight);
        return $"YOLOX N x {cells} x (5+C), YOLOv5 N x {3 * cells} x (5+C), YOLOv8/YOLO11 N x (4+C) x {cells}";
    }
}
