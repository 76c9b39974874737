using OpenCvSharp;
using Streaming.Core;
using Streaming.Detect;

namespace Streaming.Eval.Tests;

/// <summary>Labels in COCO JSON, YOLO txt and MOTChallenge gt, recognised from the input; bad input named in one line.</summary>
public sealed class DetectionLabelsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("deteval-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Sub(string name) => Directory.CreateDirectory(Path.Combine(_dir.FullName, name)).FullName;

    private static void Picture(string path, int width = 200, int height = 100)
    {
        using var mat = new Mat(height, width, MatType.CV_8UC3, Scalar.Gray);
        Cv2.ImWrite(path, mat);
    }

    /// <summary>Images without labels and labels without images are listed, not silently dropped.</summary>
    private static void AssertUnpaired(LabelSet set, string[] imagesWithoutLabels, string[] labelsWithoutImages)
    {
        Assert.Equal(imagesWithoutLabels, set.ImagesWithoutLabels);
        Assert.Equal(labelsWithoutImages, set.LabelsWithoutImages);
    }

    [Fact]
    public void COCO_JSON_is_recognised_with_crowd_and_ignore_flags_and_unpaired_files_are_listed()
    {
        var images = Sub("images");
        Picture(Path.Combine(images, "a.jpg"));
        Picture(Path.Combine(images, "stray.jpg"));
        var json = Path.Combine(_dir.FullName, "instances_val.json");
        File.WriteAllText(json, """
            {"images": [{"id": 1, "file_name": "val/a.jpg"}, {"id": 2, "file_name": "gone.jpg"}],
             "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],
             "annotations": [
               {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40], "area": 900, "iscrowd": 0},
               {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 50, 50], "iscrowd": 1},
               {"id": 3, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "ignore": 1}]}
            """);
        var set = LabelReader.Read(json, images);

        Assert.Equal("COCO JSON", set.Format);
        Assert.Equal(["person", "car"], set.Classes);
        var a = Assert.Single(set.Images);
        Assert.Equal(new GroundTruthBox(new BoxF(10, 20, 40, 60), 0, 900), a.Boxes[0]);
        Assert.True(a.Boxes[1].Crowd);
        Assert.Equal(1, a.Boxes[1].ClassIndex);
        Assert.True(a.Boxes[2].Ignore);
        AssertUnpaired(set, ["stray.jpg"], ["gone.jpg"]);
    }

    [Fact]
    public void A_YOLO_folder_with_data_yaml_gives_pixel_boxes_once_the_image_size_is_known()
    {
        var (images, labels) = (Sub("images"), Sub("labels"));
        Picture(Path.Combine(images, "a.png"), 200, 100);
        Picture(Path.Combine(images, "b.png"), 200, 100);
        File.WriteAllText(Path.Combine(labels, "a.txt"), "1 0.5 0.5 0.2 0.4\n\n0 0.1 0.1 0.1 0.1\n");
        File.WriteAllText(Path.Combine(labels, "c.txt"), string.Empty);
        File.WriteAllText(Path.Combine(_dir.FullName, "data.yaml"), "path: .\nnames:\n  0: person\n  1: 'fork lift'\nnc: 2\n");
        var set = LabelReader.Read(labels, images);

        Assert.Equal("YOLO txt", set.Format);
        Assert.Equal(["person", "fork lift"], set.Classes);
        var a = Assert.Single(set.Images);
        var pixels = a.InPixels(200, 100);
        Assert.Equal([80f, 30f, 120f, 70f], new[] { pixels[0].Box.X1, pixels[0].Box.Y1, pixels[0].Box.X2, pixels[0].Box.Y2 }, (x, y) => Math.Abs(x - y) < 1e-4f);
        Assert.Equal(1, pixels[0].ClassIndex);
        Assert.Equal(1600, pixels[0].Area, 2);
        AssertUnpaired(set, ["b.png"], ["c.txt"]);
    }

    [Fact]
    public void A_YOLO_row_that_is_not_class_cx_cy_w_h_is_named_with_its_file_and_row()
    {
        var (images, labels) = (Sub("images"), Sub("labels"));
        Picture(Path.Combine(images, "a.jpg"));
        File.WriteAllText(Path.Combine(labels, "classes.txt"), "person\n");
        File.WriteAllText(Path.Combine(labels, "a.txt"), "0 0.5 0.5 0.2 0.4\n0 0.5 0.5 wide 0.4\n");
        var ex = Assert.Throws<LabelFormatException>(() => LabelReader.Read(labels, images));
        Assert.Equal($"{Path.Combine(labels, "a.txt")}:2: '0 0.5 0.5 wide 0.4' is not a YOLO row (class cx cy w h, normalised 0..1): fix or remove the row", ex.Message);
    }

    [Fact]
    public void A_file_that_fits_no_format_gets_one_line_naming_the_file_and_the_row()
    {
        var images = Sub("images");
        Picture(Path.Combine(images, "000001.jpg"));
        var file = Path.Combine(_dir.FullName, "labels.txt");
        File.WriteAllText(file, "\nhello world\n");
        var ex = Assert.Throws<LabelFormatException>(() => LabelReader.Read(file, images));
        Assert.StartsWith($"{file}:2: 'hello world' fits none of the label formats: COCO JSON", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);

        File.WriteAllText(file, "1,1,10,10,20,20,1,-1,-1,-1\n2,1,10,10,x,20,1,-1,-1,-1\n");
        var mot = Assert.Throws<LabelFormatException>(() => LabelReader.Read(file, images));
        Assert.StartsWith($"{file}:2: '2,1,10,10,x,20,1,-1,-1,-1' is not a MOTChallenge gt row", mot.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MOT15_gt_pairs_frames_by_number_counts_flag_1_rows_and_treats_flag_0_as_ignore()
    {
        var seq = Sub("seq");
        var img1 = Sub(Path.Combine("seq", "img1"));
        Directory.CreateDirectory(Path.Combine(seq, "gt"));
        Picture(Path.Combine(img1, "000001.jpg"));
        Picture(Path.Combine(img1, "000002.jpg"));
        File.WriteAllText(Path.Combine(seq, "gt", "gt.txt"), "1,1,10,20,30,40,1,-1,-1,-1\n1,2,50,20,30,40,0,-1,-1,-1\n3,1,10,20,30,40,1,-1,-1,-1\n");
        var set = LabelReader.Read(seq, img1);

        Assert.Equal("MOTChallenge gt", set.Format);
        Assert.Equal(["person"], set.Classes);
        Assert.Equal(2, set.Images.Count);
        Assert.Equal([new BoxF(10, 20, 40, 60), new BoxF(50, 20, 80, 60)], set.Images[0].Boxes.Select(b => b.Box));
        Assert.Equal([false, true], set.Images[0].Boxes.Select(b => b.Ignore));
        Assert.Empty(set.Images[1].Boxes);
        Assert.Equal(["frame 3"], set.LabelsWithoutImages);
    }

    [Fact]
    public void Class_names_the_model_does_not_know_stop_the_run_naming_them_and_the_models_classes()
    {
        var ex = Assert.Throws<DetectModelException>(() =>
            DetectionEvaluation.ModelClassIds(["person", "forklift", "pallet"], CocoClasses.Names, "/m/yolox_nano.onnx"));
        Assert.StartsWith("model 'yolox_nano.onnx' does not know the classes forklift, pallet (its 80 classes: person, bicycle, car,", ex.Message, StringComparison.Ordinal);
        Assert.Contains("toothbrush)", ex.Message, StringComparison.Ordinal);
        Assert.Equal([0, 2], DetectionEvaluation.ModelClassIds(["Person", "car"], CocoClasses.Names, "m.onnx"));
    }

    [Fact]
    public void Classes_asked_for_that_the_labels_do_not_have_are_named_with_the_labels_classes()
    {
        var set = new LabelSet("YOLO txt", ["person", "car"], [], [], []);
        var ex = Assert.Throws<LabelFormatException>(() => DetectionEvaluation.SelectClasses(set, ["car", "dog"]));
        Assert.Equal("--classes dog: not in the labels (YOLO txt classes: person, car): use names from the labels", ex.Message);
        Assert.Equal([1], DetectionEvaluation.SelectClasses(set, ["CAR"]));
    }
}
