using System.Globalization;

namespace Streaming.Core;

/// <summary>
/// The class names of the detection model the process runs: Detect publishes them once it has loaded the model (from
/// <c>Detect:LabelsFile</c>, the model's own metadata, or COCO's for an 80-class model), and every stage that names a
/// class (Track's events, the sink, the overlay and the page) reads them here, so that a custom model's classes are
/// called by its own names everywhere. One instance per process (registered with the pipeline channels).
/// </summary>
public sealed class ModelLabels
{
    private readonly TaskCompletionSource<IReadOnlyList<string>> _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile IReadOnlyList<string> _names = [];

    /// <summary>The labels, index = class id: COCO's until a model is loaded (YOLO models' default), then the model's.</summary>
    public IReadOnlyList<string> Names => _loaded.Task.IsCompleted ? _names : CocoClasses.Names;

    /// <summary>Completes with the labels once the model is loaded.</summary>
    public Task<IReadOnlyList<string>> Loaded => _loaded.Task;

    /// <summary>Publishes the model's labels (Detect, once the model is loaded).</summary>
    public void Publish(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        _names = [.. names];
        _loaded.TrySetResult(_names);
    }

    /// <summary>The name of class <paramref name="classId"/>: the model's label, else "class{id}".</summary>
    public string NameOf(int classId)
    {
        var names = Names;
        return (uint)classId < (uint)names.Count ? names[classId] : "class" + classId.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The class id of <paramref name="name"/> (case-insensitive), or -1.</summary>
    public int IdOf(string name)
    {
        var names = Names;
        for (var i = 0; i < names.Count; i++)
        {
            if (string.Equals(names[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}
