using Microsoft.Extensions.Hosting;

namespace Streaming.Core;

/// <summary>
/// Base of the Detect, Track and Sink stages. A stage does not stop when the host asks it to: it keeps going
/// until its input channel is completed and drained (that is how shutdown drains the pipeline, source first),
/// and is cancelled hard only when the host's shutdown timeout runs out. Sources (Ingest) stop on the normal
/// stopping token and complete their outputs, which completes each stage after them in turn.
/// Requires <c>HostOptions.ServicesStopConcurrently = true</c> so that all stages drain together.
/// </summary>
public abstract class PipelineStage : BackgroundService
{
    private readonly CancellationTokenSource _hardStop = new();

    /// <summary>Runs until the input is complete. <paramref name="hardStop"/> fires only when the shutdown timeout runs out.</summary>
    protected abstract Task RunAsync(CancellationToken hardStop);

    protected sealed override Task ExecuteAsync(CancellationToken stoppingToken) => RunAsync(_hardStop.Token);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Not base.StopAsync: that cancels the stopping token, and since .NET 10 starts ExecuteAsync through
        // Task.Run with that token, a stage asked to stop before its first run would never run, and never complete
        // its output. Here the stage always runs to the end of its input; only the shutdown timeout cuts it short.
        if (ExecuteTask is not { } running)
        {
            return;
        }

        try
        {
            await running.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Timed out: cancel and wait for the stage to release what it holds.
            await _hardStop.CancelAsync().ConfigureAwait(false);
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (Exception) when (running.IsCompleted)
        {
            // The stage failed; the host reports ExecuteTask's exception.
        }
    }

    public override void Dispose()
    {
        _hardStop.Dispose();
        base.Dispose();
        GC.SuppressFinalize(this);
    }
}
