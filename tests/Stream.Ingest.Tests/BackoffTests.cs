using Streaming.Ingest;

namespace Streaming.Ingest.Tests;

public class BackoffTests
{
    private static Backoff NoJitter() => new(TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), jitter: 0);

    [Fact]
    public void Delays_start_at_half_a_second_and_double_up_to_the_30_second_cap()
    {
        var backoff = NoJitter();
        var delays = Enumerable.Range(0, 10).Select(_ => backoff.NextDelay(TimeSpan.Zero).TotalSeconds).ToArray();
        Assert.Equal(new[] { 0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30 }, delays);
    }

    [Fact]
    public void Jitter_spreads_each_delay_within_its_bounds_and_never_above_the_cap()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), jitter: 0.2, new Random(42));
        var firsts = new List<double>();
        for (var run = 0; run < 500; run++)
        {
            backoff.Reset();
            for (var attempt = 0; attempt < 9; attempt++)
            {
                var nominal = Math.Min(30, 0.5 * Math.Pow(2, attempt));
                var d = backoff.NextDelay(TimeSpan.Zero).TotalSeconds;
                Assert.InRange(d, nominal * 0.8 - 1e-9, Math.Min(30, nominal * 1.2) + 1e-9);
                if (attempt == 0)
                {
                    firsts.Add(d);
                }
            }
        }

        // Really random: cameras that failed together do not retry in lockstep.
        Assert.True(firsts.Distinct().Count() > 100);
        Assert.True(firsts.Min() < 0.45 && firsts.Max() > 0.55);
    }

    [Fact]
    public void A_healthy_minute_of_streaming_resets_the_backoff_to_its_start()
    {
        var backoff = NoJitter();
        for (var i = 0; i < 5; i++)
        {
            backoff.NextDelay(TimeSpan.Zero);
        }

        Assert.Equal(16, backoff.NextDelay(TimeSpan.FromSeconds(59)).TotalSeconds);
        Assert.Equal(0.5, backoff.NextDelay(TimeSpan.FromSeconds(60)).TotalSeconds);
        Assert.Equal(1, backoff.NextDelay(TimeSpan.FromSeconds(3)).TotalSeconds);
    }

    [Fact]
    public void Invalid_backoff_settings_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.Zero, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), TimeSpan.Zero, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.Zero, 1.5));
    }
}
