using System.Runtime.InteropServices;

namespace Streaming.Bench;

/// <summary>
/// CPU time used by this process and by its reaped child processes (Linux getrusage), so that a benchmark can
/// report work per CPU-second, which stays meaningful on a machine shared with other load.
/// </summary>
public static partial class CpuClock
{
    private const int RusageSelf = 0;
    private const int RusageChildren = -1;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public TimeVal User;
        public TimeVal System;

        // ru_maxrss .. ru_nivcsw: 14 longs we do not need.
        public long F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13, F14;
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRUsage(int who, out RUsage usage);

    /// <summary>CPU time (user + system) of this process so far; zero where unsupported.</summary>
    public static TimeSpan Self() => Read(RusageSelf);

    /// <summary>CPU time (user + system) of all child processes waited for so far; zero where unsupported.</summary>
    public static TimeSpan Children() => Read(RusageChildren);

    private static TimeSpan Read(int who)
    {
        if (!OperatingSystem.IsLinux() || GetRUsage(who, out var u) != 0)
        {
            return TimeSpan.Zero;
        }

        var us = (u.User.Seconds * 1_000_000) + u.User.Microseconds + (u.System.Seconds * 1_000_000) + u.System.Microseconds;
        return TimeSpan.FromMicroseconds(us);
    }
}
