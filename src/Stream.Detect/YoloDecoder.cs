using Streaming.Core;

namespace Streaming.Detect;

/// <summary>Where a source picture sits in the network input: input = source x <see cref="Scale"/> + (PadX, PadY).</summary>
public readonly record struct LetterboxTransform(float Scale, float PadX, float PadY, int SourceWidth, int SourceHeight)
{
    /// <summary>The letterbox of a <paramref name="sourceWidth"/> x <paramref name="sourceHeight"/> picture in an input of the given size.</summary>
    public static LetterboxTransform For(int sourceWidth, int sourceHeight, int inputWidth, int inputHeight, bool centered, out int resizedWidth, out int resizedHeight)
    {
        var scale = Math.Min((float)inputWidth / sourceWidth, (float)inputHeight / sourceHeight);

        // Truncation, as YOLOX's preproc does (int(w * r)); never zero, never past the input.
        resizedWidth = Math.Clamp((int)(sourceWidth * scale), 1, inputWidth);
        resizedHeight = Math.Clamp((int)(sourceHeight * scale), 1, inputHeight);
        var padX = centered ? (inputWidth - resizedWidth) / 2 : 0;
        var padY = centered ? (inputHeight - resizedHeight) / 2 : 0;
        return new LetterboxTransform(scale, padX, padY, sourceWidth, sourceHeight);
    }

    /// <summary>Maps a box from network input pixels back to source pixels, clipped to the source.</summary>
    public BoxF ToSource(in BoxF box)
    {
        var inv = 1f / Scale;
        return new BoxF((box.X1 - PadX) * inv, (box.Y1 - PadY) * inv, (box.X2 - PadX) * inv, (box.Y2 - PadY) * inv)
            .Clip(SourceWidth, SourceHeight);
    }
}

/// <summary>
/// Turns one image's raw model output into scored boxes in network-input pixels. Every (anchor, class) pair whose
/// score reaches the threshold becomes a candidate (multi-label), so an object scored as both car and truck keeps both
/// until class-aware NMS; this is what YOLOX's class-aware multiclass NMS does.
/// </summary>
public static class YoloDecoder
{
    /// <summary>
    /// Decodes <paramref name="output"/> (<paramref name="dim1"/> x <paramref name="dim2"/> floats: one image, batch axis removed)
    /// and appends candidates to <paramref name="candidates"/>. <paramref name="classMask"/> empty keeps all classes,
    /// else only those whose entry is true.
    /// </summary>
    public static void Decode(HeadKind kind, ReadOnlySpan<float> output, int dim1, int dim2, int inputWidth, int inputHeight,
        float scoreThreshold, ReadOnlySpan<bool> classMask, List<Detection> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        if (output.Length < (long)dim1 * dim2)
        {
            throw new ArgumentException($"output has {output.Length} values, expected {dim1} x {dim2}", nameof(output));
        }

        switch (kind)
        {
            case HeadKind.Yolox:
                DecodeYolox(output, dim1, dim2, inputWidth, inputHeight, scoreThreshold, classMask, candidates);
                break;
            case HeadKind.Yolov5:
                DecodeRows(output, dim1, dim2, scoreThreshold, classMask, candidates);
                break;
            case HeadKind.Yolov8:
                DecodeColumns(output, dim1, dim2, scoreThreshold, classMask, candidates);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "a concrete head kind is needed");
        }
    }

    private static void DecodeYolox(ReadOnlySpan<float> output, int anchors, int stride, int inputWidth, int inputHeight,
        float threshold, ReadOnlySpan<bool> classMask, List<Detection> candidates)
    {
        var classes = stride - 5;
        var a = 0;
        foreach (var s in HeadProfile.Strides)
        {
            var gw = inputWidth / s;
            var gh = inputHeight / s;
            for (var gy = 0; gy < gh; gy++)
            {
                for (var gx = 0; gx < gw; gx++, a++)
                {
                    if (a >= anchors)
                    {
                        return;
                    }

                    var row = output.Slice(a * stride, stride);
                    var obj = row[4];
                    if (obj < threshold || obj <= 0f)
                    {
                        continue; // class scores are at most 1, so the product cannot reach the threshold
                    }

                    var cx = (row[0] + gx) * s;
                    var cy = (row[1] + gy) * s;
                    var w = MathF.Exp(row[2]) * s;
                    var h = MathF.Exp(row[3]) * s;
                    AddClasses(row.Slice(5, classes), obj, BoxF.FromCenter(cx, cy, w, h), threshold, classMask, candidates);
                }
            }
        }
    }

    private static void DecodeRows(ReadOnlySpan<float> output, int anchors, int stride, float threshold,
        ReadOnlySpan<bool> classMask, List<Detection> candidates)
    {
        var classes = stride - 5;
        for (var a = 0; a < anchors; a++)
        {
            var row = output.Slice(a * stride, stride);
            var obj = row[4];
            if (obj < threshold || obj <= 0f)
            {
                continue;
            }

            AddClasses(row.Slice(5, classes), obj, BoxF.FromCenter(row[0], row[1], row[2], row[3]), threshold, classMask, candidates);
        }
    }

    private static void AddClasses(ReadOnlySpan<float> scores, float obj, BoxF box, float threshold,
        ReadOnlySpan<bool> classMask, List<Detection> candidates)
    {
        for (var c = 0; c < scores.Length; c++)
        {
            var score = obj * scores[c];
            if (score >= threshold && score > 0f && (classMask.IsEmpty || (c < classMask.Length && classMask[c])))
            {
                candidates.Add(new Detection(box, score, c));
            }
        }
    }

    private static void DecodeColumns(ReadOnlySpan<float> output, int rows, int anchors, float threshold,
        ReadOnlySpan<bool> classMask, List<Detection> candidates)
    {
        // Class-major layout: walk each class row contiguously and build the box only for anchors that pass.
        var classes = rows - 4;
        var cxs = output[..anchors];
        var cys = output.Slice(anchors, anchors);
        var ws = output.Slice(2 * anchors, anchors);
        var hs = output.Slice(3 * anchors, anchors);
        for (var c = 0; c < classes; c++)
        {
            if (!classMask.IsEmpty && (c >= classMask.Length || !classMask[c]))
            {
                continue;
            }

            var scores = output.Slice((4 + c) * anchors, anchors);
            for (var a = 0; a < scores.Length; a++)
            {
                var score = scores[a];
                if (score >= threshold && score > 0f)
                {
                    candidates.Add(new Detection(BoxF.FromCenter(cxs[a], cys[a], ws[a], hs[a]), score, c));
                }
            }
        }
    }
}

/// <summary>Greedy class-aware non-maximum suppression: a box suppresses only lower-scored boxes of its own class.</summary>
public static class Nms
{
    private static readonly Comparison<Detection> ByScoreDescending = static (a, b) => b.Score.CompareTo(a.Score);

    /// <summary>
    /// Sorts <paramref name="candidates"/> by score (in place) and appends to <paramref name="kept"/> the boxes that no
    /// higher-scored box of the same class overlaps by more than <paramref name="iouThreshold"/>, at most <paramref name="maxDetections"/>.
    /// </summary>
    public static void Apply(List<Detection> candidates, float iouThreshold, int maxDetections, List<Detection> kept)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(kept);
        candidates.Sort(ByScoreDescending);
        var start = kept.Count;
        foreach (var candidate in candidates)
        {
            if (kept.Count - start >= maxDetections)
            {
                break;
            }

            var suppressed = false;
            for (var k = start; k < kept.Count; k++)
            {
                var other = kept[k];
                if (other.ClassId == candidate.ClassId && other.Box.IoU(candidate.Box) > iouThreshold)
                {
                    suppressed = true;
                    break;
                }
            }

            if (!suppressed)
            {
                kept.Add(candidate);
            }
        }
    }
}
