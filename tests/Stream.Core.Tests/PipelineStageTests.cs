using System.Threading.Channels;
using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class PipelineStageTests
{
    /// <summary>Copies its input to a list until the input completes.</summary>
    private sealed class DrainingStage(ChannelReader<int> input) : PipelineStage
    {
        public List<int> Seen { get; } = [];

        public bool HardStopped { get; private set; }

        protected override async Task RunAsync(CancellationToken hardStop)
        {
            try
            {
                while (await input.WaitToReadAsync(hardStop))
                {
                    while (input.TryRead(out var item))
                    {
                        Seen.Add(item);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                HardStopped = true;
            }
        }
    }

    [Fact]
    public async Task A_stage_asked_to_stop_keeps_draining_until_its_input_completes()
    {
        var channel = Channel.CreateUnbounded<int>();
        using var stage = new DrainingStage(channel.Reader);
        await stage.StartAsync(CancellationToken.None);
        channel.Writer.TryWrite(1);

        var stopping = stage.StopAsync(CancellationToken.None);
        await Task.Delay(100);
        Assert.False(stopping.IsCompleted); // still draining: the input is open
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await stopping.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal([1, 2], stage.Seen);
        Assert.False(stage.HardStopped);
    }

    [Fact]
    public async Task A_stage_asked_to_stop_before_it_ever_ran_still_runs_to_the_end_of_its_input()
    {
        var channel = Channel.CreateUnbounded<int>();
        channel.Writer.TryWrite(7);
        channel.Writer.Complete();
        using var stage = new DrainingStage(channel.Reader);
        await stage.StartAsync(CancellationToken.None);
        await stage.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal([7], stage.Seen);
    }

    [Fact]
    public async Task A_stage_is_cancelled_hard_when_the_shutdown_timeout_runs_out()
    {
        var channel = Channel.CreateUnbounded<int>();
        using var stage = new DrainingStage(channel.Reader);
        await stage.StartAsync(CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await stage.StopAsync(timeout.Token).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(stage.HardStopped);
    }
}
