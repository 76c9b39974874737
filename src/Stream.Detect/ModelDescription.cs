namespace Streaming.Detect;

/// <summary>What was learned about a model when it was loaded: its input, output, head, class names and the provider it runs on.</summary>
public sealed record ModelDescription(
    string Path,
    string InputName,
    string OutputName,
    int InputWidth,
    int InputHeight,
    int? FixedBatch,
    int OutputDim1,
    int OutputDim2,
    HeadProfile Head,
    IReadOnlyList<string> Labels,
    ExecutionProviderKind ProviderKind,
    string ProviderReason)
{
    /// <summary>Number of classes the head scores.</summary>
    public int ClassCount => Labels.Count;

    public bool DynamicBatch => FixedBatch is null;

    /// <summary>The provider's name for people ("TensorRT", "CUDA", "CPU"), from <see cref="ProviderKind"/>.</summary>
    public string Provider => ProviderKind.DisplayName();
}

/// <summary>Names of the execution providers as logs, benchmarks and reports print them.</summary>
public static class ExecutionProviderKindNames
{
    /// <summary>"TensorRT", "CUDA", "CPU", or "auto" for the choice that is not a provider yet.</summary>
    public static string DisplayName(this ExecutionProviderKind kind) => kind switch
    {
        ExecutionProviderKind.TensorRt => "TensorRT",
        ExecutionProviderKind.Cuda => "CUDA",
        ExecutionProviderKind.Cpu => "CPU",
        _ => "auto",
    };
}
