using Streaming.Core;

namespace Streaming.Eval;

/// <summary>
/// One labelled object. <paramref name="Area"/> is what the COCO area ranges test (COCO's own <c>area</c> field when the
/// labels give one, else the box's). A crowd box may match any number of detections; crowd and ignored boxes are neither
/// found nor missed, and a detection matched to one is not a false positive.
/// </summary>
public readonly record struct GroundTruthBox(BoxF Box, int ClassIndex, double Area, bool Crowd = false, bool Ignore = false)
{
    public static GroundTruthBox Of(BoxF box, int classIndex, bool crowd = false, bool ignore = false) =>
        new(box, classIndex, (double)Math.Max(0f, box.Width) * Math.Max(0f, box.Height), crowd, ignore);
}

/// <summary>A detection in the evaluated label set's class numbering (not the model's).</summary>
public readonly record struct ScoredBox(BoxF Box, float Score, int ClassIndex);

/// <summary>
/// An image of the label set: its key (file name without extension), its file, and its boxes (possibly none); YOLO
/// boxes are <see cref="Normalized"/> (0..1) until the image's size is known.
/// </summary>
public sealed record LabelledImage(string Key, string Path, IReadOnlyList<GroundTruthBox> Boxes)
{
    public bool Normalized { get; init; }

    /// <summary>The boxes in the pixels of a <paramref name="width"/> x <paramref name="height"/> image.</summary>
    public IReadOnlyList<GroundTruthBox> InPixels(int width, int height) => !Normalized
        ? Boxes
        : [.. Boxes.Select(b => GroundTruthBox.Of(new BoxF(b.Box.X1 * width, b.Box.Y1 * height, b.Box.X2 * width, b.Box.Y2 * height), b.ClassIndex, b.Crowd, b.Ignore))];
}

/// <summary>
/// Labels read from disk and paired with the images folder. <see cref="ImagesWithoutLabels"/> and
/// <see cref="LabelsWithoutImages"/> are reported, not silently dropped.
/// </summary>
public sealed record LabelSet(
    string Format,
    IReadOnlyList<string> Classes,
    IReadOnlyList<LabelledImage> Images,
    IReadOnlyList<string> ImagesWithoutLabels,
    IReadOnlyList<string> LabelsWithoutImages);

/// <summary>Labels that cannot be read; the message is one line naming the file, the row and the fix.</summary>
public sealed class LabelFormatException : Exception
{
    public LabelFormatException()
    {
    }

    public LabelFormatException(string message)
        : base(message)
    {
    }

    public LabelFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
