using System.Runtime.InteropServices;

namespace Streaming.App;

/// <summary>
/// Quietens the native libraries' own stderr output (OpenCV's warnings, the FFmpeg inside OpenCV printing e.g.
/// "moov atom not found" for a corrupt file): the pipeline already reports such problems as one line per camera, and
/// stderr is kept for `stream`'s own one-line errors. The native code reads these variables with getenv(), which does
/// not see <see cref="Environment.SetEnvironmentVariable(string, string)"/> on Linux, so they are set with libc's setenv
/// before OpenCV loads. A value already set by the user wins (e.g. OPENCV_FFMPEG_LOGLEVEL=32 to debug a camera).
/// </summary>
internal static partial class NativeLogLevels
{
    public static void Quieten()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        Set("OPENCV_LOG_LEVEL", "ERROR");
        Set("OPENCV_FFMPEG_LOGLEVEL", "-8"); // AV_LOG_QUIET
    }

    private static void Set(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is null)
        {
            _ = SetEnv(name, value, 0);
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
