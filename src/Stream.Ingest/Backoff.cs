namespace Streaming.Ingest;

/// <summary>
/// Reconnect delays: exponential growth from <see cref="Initial"/> doubling up to <see cref="Max"/>, each spread by
/// a random jitter so that cameras that failed together do not all retry at once; after a camera streamed for
/// <see cref="ResetAfter"/> without failing, the next failure starts again from <see cref="Initial"/>.
/// Pure: time and randomness come from the caller.
/// </summary>
public sealed class Backoff
{
    private readonly Random _random;

    public Backoff(TimeSpan initial, TimeSpan max, TimeSpan resetAfter, double jitter, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        ArgumentOutOfRangeException.ThrowIfLessThan(resetAfter, TimeSpan.Zero);
        if (jitter is < 0 or >= 1 || double.IsNaN(jitter))
        {
            throw new ArgumentOutOfRangeException(nameof(jitter), jitter, "jitter must be in [0, 1).");
        }

        Initial = initial;
        Max = max;
        ResetAfter = resetAfter;
        Jitter = jitter;
        _random = random ?? Random.Shared;
    }

    public static Backoff FromOptions(IngestOptions options, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Backoff(TimeSpan.FromSeconds(options.BackoffInitialSeconds), TimeSpan.FromSeconds(options.BackoffMaxSeconds),
            TimeSpan.FromSeconds(options.BackoffResetAfterSeconds), options.BackoffJitter, random);
    }

    public TimeSpan Initial { get; }

    public TimeSpan Max { get; }

    public TimeSpan ResetAfter { get; }

    public double Jitter { get; }

    /// <summary>Failures since the last reset.</summary>
    public int Attempt { get; private set; }

    /// <summary>The delay before the next retry without jitter: Initial * 2^Attempt, at most Max.</summary>
    public TimeSpan NominalDelay
    {
        get
        {
            var seconds = Initial.TotalSeconds * Math.Pow(2, Math.Min(Attempt, 62));
            return seconds >= Max.TotalSeconds ? Max : TimeSpan.FromSeconds(seconds);
        }
    }

    /// <summary>
    /// A connection attempt failed after the camera had been streaming for <paramref name="healthyFor"/> (zero when it
    /// never streamed). Returns how long to wait before the next attempt.
    /// </summary>
    public TimeSpan NextDelay(TimeSpan healthyFor)
    {
        if (healthyFor >= ResetAfter && ResetAfter > TimeSpan.Zero)
        {
            Attempt = 0;
        }

        var nominal = NominalDelay.TotalSeconds;
        Attempt = Attempt == int.MaxValue ? Attempt : Attempt + 1;
        var factor = 1 + (Jitter * ((2 * _random.NextDouble()) - 1));
        var seconds = Math.Min(nominal * factor, Max.TotalSeconds);
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>Forgets past failures.</summary>
    public void Reset() => Attempt = 0;
}
