namespace Streaming.Core;

/// <summary>
/// Whether Detect can look at frames yet: its model loaded and warmed up. Detect sets it; readiness checks read it, and
/// ingest starts the configured cameras only once it is set, so that a camera is not played into a model still loading
/// (a live-paced camera would drop its first frames, and a recording would lose its start). Registered by Detect's
/// registration, so a process without Detect has none and nothing waits for it.
/// </summary>
public sealed class DetectReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once Detect is ready.</summary>
    public Task Ready => _ready.Task;

    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    /// <summary>Detect's model is loaded and warmed up.</summary>
    public void SetReady() => _ready.TrySetResult();
}
