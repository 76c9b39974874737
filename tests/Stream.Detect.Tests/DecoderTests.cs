using Streaming.Core;
using Streaming.Detect;

namespace Streaming.Detect.Tests;

public class DecoderTests
{
    private const int Side = 416;
    private const int Cells = 52 * 52 + 26 * 26 + 13 * 13; // 3549

    [Fact]
    public void Yolox_raw_grid_output_is_decoded_with_grid_offsets_exp_sizes_and_strides()
    {
        const int stride = 85;
        var output = new float[Cells * stride];

        // Anchor at stride 16, cell (gx 5, gy 3): centre ((5 + 0.5) * 16, (3 + 0.25) * 16) = (88, 52), size (4 * 16, 2 * 16).
        var a = 52 * 52 + 3 * 26 + 5;
        Set(output, a * stride, 0.5f, 0.25f, MathF.Log(4), MathF.Log(2), 0.9f);
        output[a * stride + 5 + 16] = 0.8f; // dog
        output[a * stride + 5 + 17] = 0.2f; // horse: 0.18 < threshold

        // Anchor at stride 32, cell (12, 12), objectness below the threshold: nothing.
        var b = 52 * 52 + 26 * 26 + 12 * 13 + 12;
        Set(output, b * stride, 0f, 0f, 0f, 0f, 0.2f);
        output[b * stride + 5] = 1f;

        var found = Decode(HeadKind.Yolox, output, Cells, stride);

        var d = Assert.Single(found);
        Assert.Equal(16, d.ClassId);
        Assert.Equal(0.72f, d.Score, 4);
        AssertBox(new BoxF(56, 36, 120, 68), d.Box);
    }

    [Fact]
    public void Yolov5_output_is_read_as_decoded_centre_boxes_scored_objectness_times_class()
    {
        const int stride = 85;
        var anchors = 3 * Cells;
        var output = new float[anchors * stride];
        Set(output, 100 * stride, 200, 150, 50, 40, 0.8f);
        output[100 * stride + 5 + 2] = 0.5f; // car, 0.4
        Set(output, 9000 * stride, 10, 10, 4, 4, 0.9f);
        output[9000 * stride + 5] = 0.1f; // person, 0.09 < threshold

        var found = Decode(HeadKind.Yolov5, output, anchors, stride);

        var d = Assert.Single(found);
        Assert.Equal(2, d.ClassId);
        Assert.Equal(0.4f, d.Score, 4);
        AssertBox(new BoxF(175, 130, 225, 170), d.Box);
    }

    [Fact]
    public void Yolov8_output_is_read_class_major_without_objectness()
    {
        var rows = 4 + 80;
        var output = new float[rows * Cells];
        var a = 7;
        output[0 * Cells + a] = 300;
        output[1 * Cells + a] = 100;
        output[2 * Cells + a] = 60;
        output[3 * Cells + a] = 20;
        output[(4 + 5) * Cells + a] = 0.6f; // bus
        output[(4 + 6) * Cells + 8] = 0.9f; // another anchor: box (0,0,0,0) but a score; decoded as-is

        var found = Decode(HeadKind.Yolov8, output, rows, Cells);

        Assert.Equal(2, found.Count);
        var bus = Assert.Single(found, d => d.ClassId == 5);
        Assert.Equal(0.6f, bus.Score, 4);
        AssertBox(new BoxF(270, 90, 330, 110), bus.Box);
    }

    [Fact]
    public void Class_filter_keeps_only_the_listed_classes()
    {
        const int stride = 85;
        var output = new float[Cells * stride];
        Set(output, 10 * stride, 0, 0, 0, 0, 1f);
        output[10 * stride + 5 + 0] = 0.9f; // person
        output[10 * stride + 5 + 2] = 0.9f; // car
        output[10 * stride + 5 + 16] = 0.9f; // dog
        var mask = DetectorLabels.ClassMask(["person", "2"], CocoClasses.Names);

        var found = Decode(HeadKind.Yolox, output, Cells, stride, mask);

        Assert.Equal([0, 2], found.Select(d => d.ClassId).Order());
    }

    [Fact]
    public void Head_is_recognised_from_the_output_shape()
    {
        Assert.Equal(HeadKind.Yolox, HeadProfile.Recognise(3549, 85, 416, 416));
        Assert.Equal(HeadKind.Yolov5, HeadProfile.Recognise(25200, 85, 640, 640));
        Assert.Equal(HeadKind.Yolov8, HeadProfile.Recognise(84, 8400, 640, 640));
        Assert.Null(HeadProfile.Recognise(1000, 85, 640, 640));
    }

    [Fact]
    public void Ultralytics_names_metadata_is_parsed_into_class_names()
    {
        var names = DetectorLabels.ParseNames("{0: 'person', 1: \"bicycle\", 2: 'traffic light', 3: 'it\\'s'}");
        Assert.Equal(["person", "bicycle", "traffic light", "it\\'s"], names);
    }

    [Fact]
    public void Letterbox_transform_maps_input_boxes_back_to_source_pixels_and_clips_them()
    {
        var topLeft = LetterboxTransform.For(768, 576, 416, 416, centered: false, out var w, out var h);
        Assert.Equal((416, 312), (w, h));
        AssertBox(new BoxF(0, 0, 768, 576), topLeft.ToSource(new BoxF(-10, -10, 500, 400)));

        var centred = LetterboxTransform.For(640, 320, 640, 640, centered: true, out _, out var ch);
        Assert.Equal(320, ch);
        AssertBox(new BoxF(10, 20, 30, 40), centred.ToSource(new BoxF(10, 180, 30, 200)));
    }

    private static List<Detection> Decode(HeadKind kind, float[] output, int dim1, int dim2, bool[]? mask = null)
    {
        var found = new List<Detection>();
        YoloDecoder.Decode(kind, output, dim1, dim2, Side, Side, 0.3f, mask ?? [], found);
        return found;
    }

    private static void Set(float[] output, int offset, params float[] values) => values.CopyTo(output, offset);

    private static void AssertBox(BoxF expected, BoxF actual)
    {
        Assert.Equal(expected.X1, actual.X1, 3);
        Assert.Equal(expected.Y1, actual.Y1, 3);
        Assert.Equal(expected.X2, actual.X2, 3);
        Assert.Equal(expected.Y2, actual.Y2, 3);
    }
}

public class NmsTests
{
    [Fact]
    public void Overlapping_boxes_of_one_class_keep_only_the_best()
    {
        var kept = Run(
            new Detection(new BoxF(0, 0, 100, 100), 0.8f, 1),
            new Detection(new BoxF(5, 5, 105, 105), 0.9f, 1),
            new Detection(new BoxF(200, 200, 300, 300), 0.5f, 1));

        Assert.Equal([0.9f, 0.5f], kept.Select(d => d.Score));
    }

    [Fact]
    public void Overlapping_boxes_of_different_classes_are_both_kept()
    {
        var kept = Run(
            new Detection(new BoxF(0, 0, 100, 100), 0.8f, 2),
            new Detection(new BoxF(2, 2, 100, 100), 0.4f, 7));

        Assert.Equal([2, 7], kept.Select(d => d.ClassId));
    }

    [Fact]
    public void Boxes_overlapping_at_most_the_threshold_are_kept()
    {
        // IoU of these two is 1/3 < 0.45.
        var kept = Run(
            new Detection(new BoxF(0, 0, 100, 100), 0.8f, 0),
            new Detection(new BoxF(50, 0, 150, 100), 0.7f, 0));

        Assert.Equal(2, kept.Count);
    }

    private static List<Detection> Run(params Detection[] candidates)
    {
        var kept = new List<Detection>();
        Nms.Apply([.. candidates], 0.45f, 100, kept);
        return kept;
    }
}
