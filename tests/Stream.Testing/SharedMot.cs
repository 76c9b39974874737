namespace Streaming.Testing;

/// <summary>The shared MOTChallenge sequences in ../shared/mot beside the repository (CI keeps ../shared beside its clone).</summary>
public static class SharedMot
{
    public static string Directory => Path.GetFullPath(Path.Combine(RepoPaths.Root, "..", "shared", "mot"));

    /// <summary>A sequence folder, or a failure naming the missing path.</summary>
    public static string Sequence(string name)
    {
        var dir = Path.Combine(Directory, name);
        return File.Exists(Path.Combine(dir, "gt", "gt.txt"))
            ? dir
            : throw new DirectoryNotFoundException($"{dir} (with gt/gt.txt, det/det.txt, reference/bytetrack.txt) is missing: the shared MOT data must sit at ../shared/mot beside the repository.");
    }
}
