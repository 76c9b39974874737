using System.Globalization;
using System.Text.Json;
using Streaming.Core;

namespace Streaming.Eval;

/// <summary>
/// Reads ground truth in the three formats users have, recognised from the input: COCO JSON (a <c>.json</c> file with
/// images, annotations and categories), YOLO txt (a folder of per-image <c>class cx cy w h</c> files, normalised, with a
/// names list in data.yaml, classes.txt or *.names) and MOTChallenge gt (<c>gt.txt</c>, or a sequence folder holding
/// gt/gt.txt; one class, person). Pairs the labels with the images folder by file name (MOT: by frame number).
/// </summary>
public static class LabelReader
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"];

    private const string Formats =
        "COCO JSON (instances_*.json), a folder of YOLO txt files (class cx cy w h, with data.yaml, classes.txt or *.names), MOTChallenge gt.txt (frame,id,x,y,w,h,flag,...)";

    /// <summary>Reads <paramref name="labels"/> and pairs it with the images in <paramref name="imagesDirectory"/>.</summary>
    public static LabelSet Read(string labels, string imagesDirectory)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(imagesDirectory);
        if (!Directory.Exists(imagesDirectory))
        {
            throw new LabelFormatException($"images folder '{Path.GetFullPath(imagesDirectory)}' not found: check --images");
        }

        var images = Directory.EnumerateFiles(imagesDirectory)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (images.Count == 0)
        {
            throw new LabelFormatException($"images folder '{Path.GetFullPath(imagesDirectory)}' holds no images ({string.Join(" ", ImageExtensions)}): check --images");
        }

        if (Directory.Exists(labels))
        {
            var seqGt = Path.Combine(labels, "gt", "gt.txt");
            return File.Exists(seqGt) ? ReadMot(seqGt, images) : ReadYolo(labels, images);
        }

        if (!File.Exists(labels))
        {
            throw new LabelFormatException($"labels '{Path.GetFullPath(labels)}' not found: give a COCO .json, a YOLO labels folder or a MOTChallenge gt.txt");
        }

        if (string.Equals(Path.GetExtension(labels), ".json", StringComparison.OrdinalIgnoreCase))
        {
            return ReadCoco(labels, images);
        }

        var (first, row) = FirstRow(labels);
        if (first.Split(',').Length >= 7)
        {
            return ReadMot(labels, images);
        }

        throw new LabelFormatException(first.TrimStart().StartsWith('{')
            ? $"{labels}:{row}: looks like JSON: name the file *.json (COCO instances)"
            : $"{labels}:{row}: '{Shorten(first)}' fits none of the label formats: {Formats}; a YOLO labels file goes with its folder (--labels the folder)");
    }

    private static (string Line, int Row) FirstRow(string path)
    {
        var row = 0;
        foreach (var line in File.ReadLines(path))
        {
            row++;
            if (line.Trim().Length > 0)
            {
                return (line, row);
            }
        }

        throw new LabelFormatException($"{path}: the file is empty: {Formats}");
    }

    private static LabelSet ReadMot(string path, List<string> images)
    {
        var byFrame = new Dictionary<int, List<GroundTruthBox>>();
        var row = 0;
        foreach (var line in File.ReadLines(path))
        {
            row++;
            if (line.Trim().Length == 0)
            {
                continue;
            }

            var f = line.Split(',');
            var v = new double[f.Length];
            var ok = f.Length >= 7;
            for (var i = 0; ok && i < f.Length; i++)
            {
                ok = double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]);
            }

            if (!ok || v[0] < 1 || v[4] < 0 || v[5] < 0)
            {
                throw new LabelFormatException($"{path}:{row}: '{Shorten(line)}' is not a MOTChallenge gt row (frame,id,x,y,w,h,flag[,class,visibility | ,wx,wy,wz]): fix or remove the row");
            }

            // MOT15 (7 or 10 columns): every row with flag != 0 counts. MOT16/17 (9 columns): class 1 (pedestrian) counts;
            // 2 person on vehicle, 7 static person, 8 distractor, 12 reflection are ignore regions; other classes are not persons.
            var ignore = v[6] == 0;
            if (f.Length == 9)
            {
                var cls = (int)v[7];
                if (cls is 2 or 7 or 8 or 12)
                {
                    ignore = true;
                }
                else if (cls != 1)
                {
                    continue;
                }
            }

            var box = new BoxF((float)v[2], (float)v[3], (float)(v[2] + v[4]), (float)(v[3] + v[5]));
            var frame = (int)v[0];
            if (!byFrame.TryGetValue(frame, out var list))
            {
                byFrame[frame] = list = [];
            }

            list.Add(GroundTruthBox.Of(box, 0, ignore: ignore));
        }

        // Every frame image of the sequence is labelled: a frame without rows has nobody in it.
        var paired = new List<LabelledImage>();
        var withoutLabels = new List<string>();
        var seen = new HashSet<int>();
        foreach (var image in images)
        {
            if (int.TryParse(Path.GetFileNameWithoutExtension(image), NumberStyles.None, CultureInfo.InvariantCulture, out var frame))
            {
                seen.Add(frame);
                paired.Add(new LabelledImage(Path.GetFileNameWithoutExtension(image), image, byFrame.GetValueOrDefault(frame) ?? []));
            }
            else
            {
                withoutLabels.Add(Path.GetFileName(image));
            }
        }

        var withoutImages = byFrame.Keys.Where(k => !seen.Contains(k)).Order().Select(k => $"frame {k}").ToList();
        return new LabelSet("MOTChallenge gt", ["person"], paired, withoutLabels, withoutImages);
    }

    private static LabelSet ReadCoco(string path, List<string> images)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new LabelFormatException($"{path}:{(ex.LineNumber ?? 0) + 1}: not valid JSON ({ex.Message.Split('\n')[0]}): COCO labels are one JSON object", ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            var imageArray = Array(root, "images", path);
            var annotationArray = Array(root, "annotations", path);
            var categoryArray = Array(root, "categories", path);

            var categories = new List<(long Id, string Name)>();
            foreach (var c in categoryArray.EnumerateArray())
            {
                categories.Add((Long(c, "id", path, "categories", categories.Count), Str(c, "name", path, "categories", categories.Count)));
            }

            categories.Sort((a, b) => a.Id.CompareTo(b.Id));
            var classIndex = categories.Select((c, i) => (c.Id, i)).ToDictionary(x => x.Id, x => x.i);

            var fileOf = new Dictionary<long, string>();
            var n = 0;
            foreach (var im in imageArray.EnumerateArray())
            {
                fileOf[Long(im, "id", path, "images", n)] = Path.GetFileName(Str(im, "file_name", path, "images", n));
                n++;
            }

            var boxes = fileOf.Keys.ToDictionary(id => id, _ => new List<GroundTruthBox>());
            n = 0;
            foreach (var a in annotationArray.EnumerateArray())
            {
                var imageId = Long(a, "image_id", path, "annotations", n);
                var categoryId = Long(a, "category_id", path, "annotations", n);
                if (!boxes.TryGetValue(imageId, out var list))
                {
                    throw new LabelFormatException($"{path}: annotations[{n}]: image_id {imageId} is not in 'images': fix the annotation or add the image");
                }

                if (!classIndex.TryGetValue(categoryId, out var k))
                {
                    throw new LabelFormatException($"{path}: annotations[{n}]: category_id {categoryId} is not in 'categories': fix the annotation or add the category");
                }

                if (!a.TryGetProperty("bbox", out var bb) || bb.ValueKind != JsonValueKind.Array || bb.GetArrayLength() != 4)
                {
                    throw new LabelFormatException($"{path}: annotations[{n}]: no 'bbox' [x, y, width, height]: add the box");
                }

                var x = bb[0].GetDouble();
                var y = bb[1].GetDouble();
                var w = bb[2].GetDouble();
                var h = bb[3].GetDouble();
                var box = new BoxF((float)x, (float)y, (float)(x + w), (float)(y + h));
                var area = a.TryGetProperty("area", out var ar) && ar.ValueKind == JsonValueKind.Number ? ar.GetDouble() : w * h;
                list.Add(new GroundTruthBox(box, k, area, Flag(a, "iscrowd"), Flag(a, "ignore")));
                n++;
            }

            var onDisk = images.ToDictionary(p => Path.GetFileName(p), p => p, StringComparer.Ordinal);
            var paired = new List<LabelledImage>();
            var withoutImages = new List<string>();
            foreach (var (id, file) in fileOf)
            {
                if (onDisk.TryGetValue(file, out var imagePath))
                {
                    paired.Add(new LabelledImage(Path.GetFileNameWithoutExtension(file), imagePath, boxes[id]));
                }
                else
                {
                    withoutImages.Add(file);
                }
            }

            var labelled = fileOf.Values.ToHashSet(StringComparer.Ordinal);
            var withoutLabels = onDisk.Keys.Where(f => !labelled.Contains(f)).Order(StringComparer.Ordinal).ToList();
            return new LabelSet("COCO JSON", [.. categories.Select(c => c.Name)], paired, withoutLabels, withoutImages);
        }
    }

    private static JsonElement Array(JsonElement root, string name, string path)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new LabelFormatException($"{path}: not COCO instances JSON: no '{name}' array (COCO labels have images, annotations and categories)");
        }

        return array;
    }

    private static long Long(JsonElement e, string name, string path, string array, int index) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n)
            ? n
            : throw new LabelFormatException($"{path}: {array}[{index}]: no integer '{name}': fix the entry");

    private static string Str(JsonElement e, string name, string path, string array, int index) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
            ? s
            : throw new LabelFormatException($"{path}: {array}[{index}]: no '{name}' string: fix the entry");

    private static bool Flag(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && (v.ValueKind == JsonValueKind.True || (v.ValueKind == JsonValueKind.Number && v.GetDouble() != 0));

    private static LabelSet ReadYolo(string folder, List<string> images)
    {
        var names = YoloNames(folder);
        var files = Directory.EnumerateFiles(folder, "*.txt")
            .Where(f => !string.Equals(Path.GetFileName(f), "classes.txt", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => f, StringComparer.Ordinal);
        var paired = new List<LabelledImage>();
        var withoutLabels = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            var key = Path.GetFileNameWithoutExtension(image);
            if (files.TryGetValue(key, out var file))
            {
                used.Add(key);
                paired.Add(new LabelledImage(key, image, ReadYoloFile(file, names.Count)) { Normalized = true });
            }
            else
            {
                withoutLabels.Add(Path.GetFileName(image));
            }
        }

        var withoutImages = files.Where(f => !used.Contains(f.Key)).Select(f => Path.GetFileName(f.Value)).Order(StringComparer.Ordinal).ToList();
        return new LabelSet("YOLO txt", names, paired, withoutLabels, withoutImages);
    }

    /// <summary>Boxes in normalised coordinates (0..1); <see cref="LabelledImage.InPixels"/> scales them once the image size is known.</summary>
    private static List<GroundTruthBox> ReadYoloFile(string path, int classCount)
    {
        var boxes = new List<GroundTruthBox>();
        var row = 0;
        foreach (var line in File.ReadLines(path))
        {
            row++;
            var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 0)
            {
                continue;
            }

            var v = new double[5];
            var ok = f.Length == 5;
            for (var i = 0; ok && i < 5; i++)
            {
                ok = double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]);
            }

            if (!ok || v[0] != Math.Floor(v[0]) || v[3] < 0 || v[4] < 0)
            {
                throw new LabelFormatException($"{path}:{row}: '{Shorten(line)}' is not a YOLO row (class cx cy w h, normalised 0..1): fix or remove the row");
            }

            if (v[0] < 0 || v[0] >= classCount)
            {
                throw new LabelFormatException($"{path}:{row}: class {v[0]} is outside the names list (0..{classCount - 1}): fix the row or the names list");
            }

            var box = new BoxF((float)(v[1] - (v[3] / 2)), (float)(v[2] - (v[4] / 2)), (float)(v[1] + (v[3] / 2)), (float)(v[2] + (v[4] / 2)));
            boxes.Add(GroundTruthBox.Of(box, (int)v[0]));
        }

        return boxes;
    }

    /// <summary>The class names of a YOLO labels folder: data.yaml / *.yaml 'names', classes.txt or *.names, in the folder or its parent.</summary>
    private static List<string> YoloNames(string folder)
    {
        foreach (var dir in new[] { folder, Path.GetDirectoryName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar)) })
        {
            if (dir is null || !Directory.Exists(dir))
            {
                continue;
            }

            foreach (var yaml in Directory.EnumerateFiles(dir, "*.yaml").Concat(Directory.EnumerateFiles(dir, "*.yml")).Order(StringComparer.Ordinal))
            {
                if (YamlNames(yaml) is { Count: > 0 } fromYaml)
                {
                    return fromYaml;
                }
            }

            foreach (var list in Directory.EnumerateFiles(dir, "classes.txt").Concat(Directory.EnumerateFiles(dir, "*.names")).Order(StringComparer.Ordinal))
            {
                var names = File.ReadLines(list).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
                if (names.Count > 0)
                {
                    return names;
                }
            }
        }

        throw new LabelFormatException($"{folder}: a YOLO labels folder needs its class names: add data.yaml (names: [...]), classes.txt or a *.names file, one name per line");
    }

    /// <summary>The 'names' of an Ultralytics data.yaml: a flow list <c>names: [a, b]</c> or a block of <c>0: a</c> / <c>- a</c> lines.</summary>
    internal static List<string> YamlNames(string path)
    {
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd();
            if (!line.StartsWith("names:", StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line["names:".Length..].Trim();
            if (rest.StartsWith('['))
            {
                return [.. rest.Trim('[', ']').Split(',').Select(Unquote).Where(n => n.Length > 0)];
            }

            var names = new SortedDictionary<int, string>();
            for (var j = i + 1; j < lines.Length && (lines[j].StartsWith(' ') || lines[j].StartsWith('\t') || lines[j].StartsWith('-')); j++)
            {
                var entry = lines[j].Trim();
                if (entry.StartsWith('-'))
                {
                    names[names.Count] = Unquote(entry[1..]);
                }
                else if (entry.Split(':', 2) is [var id, var name] && int.TryParse(id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
                {
                    names[n] = Unquote(name);
                }
            }

            return [.. names.Values];
        }

        return [];
    }

    private static string Unquote(string s) => s.Trim().Trim('\'', '"').Trim();

    private static string Shorten(string line) => line.Length <= 60 ? line : line[..57] + "...";
}
