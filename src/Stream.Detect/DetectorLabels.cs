using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Streaming.Core;

namespace Streaming.Detect;

/// <summary>A model's class names, where they come from, and the class filter over them.</summary>
internal static partial class DetectorLabels
{
    [GeneratedRegex(@"(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|""((?:[^""\\]|\\.)*)"")")]
    private static partial Regex UltralyticsNames();

    /// <summary>
    /// The model's class names: <see cref="DetectOptions.LabelsFile"/> (one name a line) when set, else the model's
    /// <c>names</c> metadata (Ultralytics exports carry it), else COCO's 80 names for an 80-class head; classes left
    /// without a name are <c>classN</c>, and names beyond the head's classes are cut. (Detect publishes them to the
    /// other stages through <see cref="Streaming.Core.ModelLabels"/>.)
    /// </summary>
    public static IReadOnlyList<string> Read(InferenceSession session, DetectOptions options, int classes, ILogger logger)
    {
        List<string>? names = null;
        if (options.LabelsFile is { Length: > 0 } file)
        {
            names = [.. File.ReadAllLines(Path.GetFullPath(file)).Select(l => l.Trim()).Where(l => l.Length > 0)];
            if (names.Count != classes)
            {
                DetectLog.LabelCountMismatch(logger, names.Count, classes);
            }
        }
        else if (session.ModelMetadata.CustomMetadataMap.TryGetValue("names", out var meta))
        {
            names = ParseNames(meta);
        }

        if (names is null || names.Count == 0)
        {
            names = classes == CocoClasses.Names.Count ? [.. CocoClasses.Names] : [];
        }

        for (var i = names.Count; i < classes; i++)
        {
            names.Add("class" + i.ToString(CultureInfo.InvariantCulture));
        }

        return names.Count > classes ? names[..classes] : names;
    }

    /// <summary>Parses Ultralytics' <c>names</c> metadata, a Python dict such as <c>{0: 'person', 1: 'bicycle'}</c>.</summary>
    public static List<string> ParseNames(string text)
    {
        var byId = new SortedDictionary<int, string>();
        foreach (Match m in UltralyticsNames().Matches(text))
        {
            var id = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            byId[id] = m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value;
        }

        var list = new List<string>();
        foreach (var (id, name) in byId)
        {
            while (list.Count < id)
            {
                list.Add("class" + list.Count.ToString(CultureInfo.InvariantCulture));
            }

            list.Add(name);
        }

        return list;
    }

    /// <summary>Turns the configured class filter (names or ids) into a mask over the model's classes; empty keeps all.</summary>
    public static bool[] ClassMask(IEnumerable<string> filter, IReadOnlyList<string> labels)
    {
        var entries = filter.Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => f.Trim()).ToList();
        if (entries.Count == 0)
        {
            return [];
        }

        var mask = new bool[labels.Count];
        foreach (var entry in entries)
        {
            var id = int.TryParse(entry, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1;
            if (id < 0)
            {
                for (var i = 0; i < labels.Count; i++)
                {
                    if (string.Equals(labels[i], entry, StringComparison.OrdinalIgnoreCase))
                    {
                        id = i;
                        break;
                    }
                }
            }

            if (id < 0 || id >= labels.Count)
            {
                throw new DetectModelException($"Detect:Classes: '{entry}' is not a class of the model (it has {labels.Count}: {string.Join(", ", labels.Take(5))}, ...): use a class name or an id from 0 to {labels.Count - 1}");
            }

            mask[id] = true;
        }

        return mask;
    }
}
