using System.Reflection;
using System.Runtime.InteropServices;
using OpenCvSharp;

namespace Streaming.Ingest;

/// <summary>
/// Decodes a file in-process with the system's FFmpeg libraries (libavformat/libavcodec/libswscale, SIMD-optimised,
/// unlike the FFmpeg inside OpenCvSharp's runtime) through <c>libstreamdec.so</c>, a thin C shim in <c>native/</c> that
/// scripts/setup.sh builds. The shim decodes ahead on a thread of its own; each picture kept is converted to BGR24 by
/// swscale (scaled to the output size when one is configured) straight into the pooled frame: no copy, no per-frame
/// allocation.
/// Owns the native decoder (a <see cref="SafeHandle"/>); one thread uses it, <see cref="Abort"/> may come from another.
/// </summary>
internal sealed partial class LibavDecoder : IPictureDecoder
{
    private const string Library = "streamdec";
    private const int ExpectedVersion = 1;
    private static readonly Lazy<string?> Unavailable = new(Probe);

    private readonly DecoderHandle _handle;
    private LibavDecoder(DecoderHandle handle)
    {
        _handle = handle;
        Width = NativeMethods.Width(handle);
        Height = NativeMethods.Height(handle);
        Fps = NativeMethods.Fps(handle);
        FrameCount = Math.Max(0, NativeMethods.FrameCount(handle));
    }

    /// <summary>Null when libstreamdec.so loads and speaks this version, else why not (with the fix).</summary>
    public static string? UnavailableReason => Unavailable.Value;

    public static bool IsAvailable => UnavailableReason is null;

    public int Width { get; }

    public int Height { get; }

    public double Fps { get; }

    public long FrameCount { get; }

    /// <summary>Opens <paramref name="path"/>; throws <see cref="SourceException"/> (not recoverable) when it cannot be decoded.</summary>
    public static LibavDecoder Open(string path, int threads)
    {
        if (UnavailableReason is { } reason)
        {
            throw new SourceException(reason, recoverable: false);
        }

        var rc = NativeMethods.Open(path, threads, out var handle);
        if (rc < 0)
        {
            var error = handle.IsInvalid ? "out of memory" : NativeMethods.Error(handle);
            handle.Dispose();
            throw new SourceException($"file cannot be decoded ({error}): it is corrupt or not a video; replace it or re-encode it as H.264 MP4", recoverable: false);
        }

        return new LibavDecoder(handle);
    }

    public bool Grab(out TimeSpan? pts)
    {
        var rc = NativeMethods.Grab(_handle, out var us);
        if (rc < 0)
        {
            throw new SourceException($"decoding failed ({NativeMethods.Error(_handle)})", recoverable: true);
        }

        pts = us >= 0 ? TimeSpan.FromMicroseconds(us) : null;
        return rc == 1;
    }

    public void Retrieve(Mat target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException("the target must be a BGR24 image", nameof(target));
        }

        if (NativeMethods.RetrieveBgr(_handle, target.Data, target.Step(), target.Width, target.Height) < 0)
        {
            throw new SourceException($"a decoded picture could not be converted ({NativeMethods.Error(_handle)})", recoverable: true);
        }
    }

    public void Restart()
    {
        if (NativeMethods.Rewind(_handle) < 0)
        {
            throw new SourceException($"cannot start the file again ({NativeMethods.Error(_handle)})", recoverable: true);
        }
    }

    public void Abort() => NativeMethods.Abort(_handle);

    public void Dispose() => _handle.Dispose();

    private static string? Probe()
    {
        try
        {
            var version = NativeMethods.Version();
            return version == ExpectedVersion
                ? null
                : $"libstreamdec.so is version {version}, this build needs {ExpectedVersion}; rebuild it with scripts/setup.sh (or native/build.sh)";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return $"libstreamdec.so is not next to {Assembly.GetExecutingAssembly().GetName().Name}.dll or cannot load ({ex.Message.Split('\n')[0].Trim()}); build it with scripts/setup.sh (needs libavformat-dev, libavcodec-dev, libswscale-dev, gcc)";
        }
    }

    private sealed class DecoderHandle : SafeHandle
    {
        public DecoderHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle()
        {
            NativeMethods.Close(handle);
            return true;
        }
    }

    private static partial class NativeMethods
    {
        [LibraryImport(Library, EntryPoint = "sd_version")]
        public static partial int Version();

        [LibraryImport(Library, EntryPoint = "sd_open", StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string url, int threads, out DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_error")]
        private static partial IntPtr ErrorPointer(DecoderHandle decoder);

        public static string Error(DecoderHandle decoder) => Marshal.PtrToStringUTF8(ErrorPointer(decoder)) ?? "unknown error";

        [LibraryImport(Library, EntryPoint = "sd_width")]
        public static partial int Width(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_height")]
        public static partial int Height(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_fps")]
        public static partial double Fps(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_frame_count")]
        public static partial long FrameCount(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_grab")]
        public static partial int Grab(DecoderHandle decoder, out long ptsMicroseconds);

        [LibraryImport(Library, EntryPoint = "sd_retrieve_bgr")]
        public static partial int RetrieveBgr(DecoderHandle decoder, IntPtr destination, long stride, int width, int height);

        [LibraryImport(Library, EntryPoint = "sd_rewind")]
        public static partial int Rewind(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_abort")]
        public static partial void Abort(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_close")]
        public static partial void Close(IntPtr decoder);
    }
}
