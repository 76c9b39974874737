// Every test here runs the whole pipeline (detection on the CPU) in its own process: one at a time, so that their
// figures are not skewed by each other on a small machine.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace Streaming.Integration.Tests;

/// <summary>The collection every whole-pipeline test belongs to (run one at a time).</summary>
[CollectionDefinition(Name)]
public sealed class PipelineCollection
{
    public const string Name = "stream run process";
}
