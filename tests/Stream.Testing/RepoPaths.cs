namespace Streaming.Testing;

/// <summary>Locates the repository and the assets that scripts/setup.sh puts in place.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Streaming.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Root => RootLazy.Value;

    public static string Models => Path.Combine(Root, "models");

    public static string Samples => Path.Combine(Root, "samples");

    /// <summary>A file under models/; fails with the fix when setup has not been run.</summary>
    public static string Model(string name) => Require(Path.Combine(Models, name));

    /// <summary>A file under samples/; fails with the fix when setup has not been run.</summary>
    public static string Sample(string name) => Require(Path.Combine(Samples, name));

    private static string Require(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"{path} is missing: run scripts/setup.sh first.", path);
}
