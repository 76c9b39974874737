using System.Runtime.InteropServices;

namespace Streaming.DevServices;

/// <summary>
/// While alive, the calling thread blocks the asynchronous, process-directed signals (hang-up, interrupt, quit, terminate,
/// child, continue, terminal stop and I/O, window change, user, alarm, pipe); threads it creates meanwhile inherit that mask.
/// <para>
/// Why: librdkafka's mock cluster thread polls its sockets with <c>poll()</c> and ends the whole mock cluster (listeners
/// closed, the process still running) the first time that poll fails, EINTR included. The .NET runtime installs handlers
/// for SIGCONT, SIGCHLD, SIGWINCH, SIGTERM and SIGINT, and the kernel runs a process-directed signal's handler on any
/// thread that does not block it; <c>poll()</c> is never restarted after a handler. So a broker resumed after SIGSTOP (or a
/// <c>stream run</c> resumed after Ctrl+Z, or one whose ffmpeg child exited) lost its mock cluster about once in twenty
/// signals, depending on which thread the kernel picked. A mock thread created with these signals blocked is never picked.
/// Synchronous signals (faults) and the runtime's own real-time signals are left alone.
/// </para>
/// </summary>
internal sealed partial class AsyncSignalsBlocked : IDisposable
{
    // Linux signal numbers (the same on x86-64 and arm64).
    private static readonly int[] Signals = [1, 2, 3, 10, 12, 13, 14, 15, 17, 18, 20, 21, 22, 28];
    private const int SigBlock = 0;
    private const int SigSetMask = 2;
    private const int SigSetBytes = 128; // glibc's sigset_t

    private readonly byte[]? _previous;

    public AsyncSignalsBlocked()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var previous = new byte[SigSetBytes];
        unsafe
        {
            var set = stackalloc byte[SigSetBytes];
            if (sigemptyset(set) != 0)
            {
                return;
            }

            foreach (var signal in Signals)
            {
                _ = sigaddset(set, signal);
            }

            fixed (byte* old = previous)
            {
                if (pthread_sigmask(SigBlock, set, old) != 0)
                {
                    return;
                }
            }
        }

        _previous = previous;
    }

    public void Dispose()
    {
        if (_previous is not null)
        {
            unsafe
            {
                fixed (byte* previous = _previous)
                {
                    _ = pthread_sigmask(SigSetMask, previous, null);
                }
            }
        }
    }

    [LibraryImport("libc")]
    private static unsafe partial int sigemptyset(byte* set);

    [LibraryImport("libc")]
    private static unsafe partial int sigaddset(byte* set, int signal);

    [LibraryImport("libc")]
    private static unsafe partial int pthread_sigmask(int how, byte* set, byte* oldSet);
}
