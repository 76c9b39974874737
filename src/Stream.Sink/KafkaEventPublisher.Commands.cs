namespace Streaming.Sink;

/// <summary>What the publisher's loop reads from its one command channel: events to accept, the close, and the ticks.</summary>
public sealed partial class KafkaEventPublisher
{
    private abstract class Command;

    private enum TickKind
    {
        Fsync,
        Retry,
        SpoolRetry,
        CloseDeadline,
        Delivered,
    }

    /// <summary>A timer's or the caller's nudge; carries nothing, so one instance of each kind is shared.</summary>
    private sealed class Tick : Command
    {
        public static readonly Tick Fsync = new(TickKind.Fsync);
        public static readonly Tick Retry = new(TickKind.Retry);
        public static readonly Tick SpoolRetry = new(TickKind.SpoolRetry);
        public static readonly Tick CloseDeadline = new(TickKind.CloseDeadline);
        public static readonly Tick Delivered = new(TickKind.Delivered);

        private Tick(TickKind kind) => Kind = kind;

        public TickKind Kind { get; }
    }

    /// <summary>
    /// An event to accept. Its outcome (accepted once in the spool, or failed) is kept without a task unless the caller
    /// waits for it (<see cref="WhenAccepted"/>, only while the spool is full), which saves two allocations per event.
    /// </summary>
    private sealed class Publish(SpoolRecord record) : Command
    {
        private static readonly object AcceptedMark = new();
        private object? _outcome; // null: pending; AcceptedMark; an Exception; or the TaskCompletionSource of a caller waiting

        public SpoolRecord Record { get; } = record;

        public void Accept() => Complete(AcceptedMark);

        public void Fail(Exception error) => Complete(error);

        public Task WhenAccepted()
        {
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return Interlocked.CompareExchange(ref _outcome, waiter, null) switch
            {
                null => waiter.Task,
                Exception error => Task.FromException(error),
                TaskCompletionSource other => other.Task,
                _ => Task.CompletedTask,
            };
        }

        private void Complete(object outcome)
        {
            var previous = Interlocked.CompareExchange(ref _outcome, outcome, null);
            if (previous is TaskCompletionSource waiter && Interlocked.CompareExchange(ref _outcome, outcome, waiter) == waiter)
            {
                if (outcome is Exception error)
                {
                    waiter.TrySetException(error);
                }
                else
                {
                    waiter.TrySetResult();
                }
            }
        }
    }

    private sealed class Close(TimeSpan timeout) : Command
    {
        public TimeSpan Timeout { get; } = timeout;

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
