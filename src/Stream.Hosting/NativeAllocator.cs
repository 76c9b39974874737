using System.Runtime.InteropServices;

namespace Streaming.Hosting;

/// <summary>
/// glibc malloc settings for a long-running process whose native libraries (OpenCV, libjpeg, ONNX Runtime,
/// librdkafka) allocate and free large blocks from many threads. By default glibc raises its mmap threshold each time
/// a large mmapped block is freed (up to 32 MiB), after which blocks of that size come from the per-thread arenas
/// instead, and those arenas fragment and keep growing: in a 10-minute soak the process grew about 3 MiB a minute while
/// the native memory in use (heaptrack) stayed flat. A fixed threshold keeps every block of 256 KiB and more in its own
/// mapping, returned to the OS when freed. Set before the pipeline starts; an operator's own MALLOC_MMAP_THRESHOLD_
/// wins. Not glibc (musl, macOS, Windows): nothing to do.
/// </summary>
public static partial class NativeAllocator
{
    /// <summary>Blocks of this size and more get their own mapping.</summary>
    public const int MmapThresholdBytes = 256 * 1024;

    private const int MallocOptionMmapThreshold = -3; // M_MMAP_THRESHOLD in glibc's malloc.h

    public static void Tune()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null)
        {
            return;
        }

        try
        {
            _ = MallOpt(MallocOptionMmapThreshold, MmapThresholdBytes);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc.
        }
    }

    /// <summary>Gives free native heap pages back to the OS (glibc <c>malloc_trim</c>); false where there is no glibc.</summary>
    public static bool TryTrim()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            _ = MallocTrim(0);
            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int option, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
