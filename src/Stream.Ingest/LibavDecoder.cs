using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>What <see cref="LibavDecoder.Open"/> opens, and how.</summary>
/// <param name="Url">A file path or a network URL (rtsp, rtsps, http, https).</param>
/// <param name="Threads">Decoder threads (0: FFmpeg's choice).</param>
/// <param name="Transport">RTSP transport: auto, tcp or udp (ignored for other sources).</param>
/// <param name="OpenTimeout">Longest open (connect, describe, setup, stream info); zero: none (files).</param>
/// <param name="ReadTimeout">Longest wait for one packet after the open; zero: none (files).</param>
/// <param name="Skip">Frames the decoder skips.</param>
internal sealed record LibavSettings(string Url, int Threads, string Transport, TimeSpan OpenTimeout, TimeSpan ReadTimeout, SkipFrames Skip)
{
    /// <summary>A file: no timeouts, no transport.</summary>
    public static LibavSettings File(string path, int threads, SkipFrames skip = SkipFrames.None) =>
        new(path, threads, string.Empty, TimeSpan.Zero, TimeSpan.Zero, skip);

    /// <summary>A network camera, with the timeouts and transport of <paramref name="options"/>.</summary>
    public static LibavSettings Network(CameraOptions camera, IngestOptions options) =>
        new(camera.Url, options.DecoderThreads, options.RtspTransport, TimeSpan.FromSeconds(options.OpenTimeoutSeconds),
            TimeSpan.FromSeconds(options.SocketTimeoutSeconds), camera.SkipFrames);

    public bool IsNetwork => CameraSource.Classify(Url) == SourceKind.Network;
}

/// <summary>
/// Decodes a file or a network camera (rtsp, http) in-process with the system's FFmpeg libraries
/// (libavformat/libavcodec/libswscale, SIMD-optimised, unlike the FFmpeg inside OpenCvSharp's runtime) through
/// <c>libstreamdec.so</c>, a thin C shim in <c>native/</c> that scripts/setup.sh builds. The shim decodes ahead on a
/// thread of its own; each picture kept is written straight into the pooled frame, as I420 (the decoder's planes copied,
/// no colour conversion; swscale only for another pixel format or output size) or as BGR24 (swscale): no per-frame
/// allocation; pictures not kept are never written out.
/// Network I/O is bounded by the open and read timeouts and ends at once on <see cref="Abort"/> (libavformat's
/// interrupt callback), so neither the watchdog nor shutdown ever waits on a socket.
/// Owns the native decoder (a <see cref="SafeHandle"/>); one thread uses it, <see cref="Abort"/> may come from another.
/// </summary>
internal sealed partial class LibavDecoder : IPictureDecoder
{
    private const string Library = "streamdec";
    private const int ExpectedVersion = 4;
    private const int ETimedOut = 110;
    private const int EProtoNoSupport = 93;
    private const int ENoEntry = 2;
    private const int EIo = 5;
    private const int EAgain = 11;
    private const int EAccess = 13;
    private const int ENoSpace = 28;
    private const int EReadOnly = 30;
    private const int ERange = 34;
    private const int ENoSys = 38;

    // libavutil's AVERROR_HTTP_* codes, FFERRTAG(0xF8, '4', '0', 'x'): what the RTSP and HTTP clients return for those replies.
    private const int HttpUnauthorized = -(0xF8 | ('4' << 8) | ('0' << 16) | ('1' << 24));
    private const int HttpForbidden = -(0xF8 | ('4' << 8) | ('0' << 16) | ('3' << 24));
    private const int HttpNotFound = -(0xF8 | ('4' << 8) | ('0' << 16) | ('4' << 24));
    private static readonly Lazy<string?> Unavailable = new(Probe);

    private readonly DecoderHandle _handle;
    private LibavSettings? _settings;

    private LibavDecoder(DecoderHandle handle)
    {
        _handle = handle;
    }

    /// <summary>Null when libstreamdec.so loads and speaks this version, else why not (with the fix).</summary>
    public static string? UnavailableReason => Unavailable.Value;

    public static bool IsAvailable => UnavailableReason is null;

    /// <summary>Native decoders open in this process (each camera connection holds one until it is disposed).</summary>
    public static int LiveCount => IsAvailable ? NativeMethods.LiveCount() : 0;

    public int Width { get; private set; }

    public int Height { get; private set; }

    public double Fps { get; private set; }

    public long FrameCount { get; private set; }

    /// <summary>RTSP: the transport in use ("tcp" or "udp"); empty for other sources.</summary>
    public string Transport { get; private set; } = string.Empty;

    /// <summary>Pictures decoded and pictures written out (I420 or BGR) so far (the difference: grabbed and skipped).</summary>
    public (long Decoded, long Converted) Counts
    {
        get
        {
            NativeMethods.Stats(_handle, out var decoded, out var converted);
            return (decoded, converted);
        }
    }

    /// <summary>A decoder with nothing open yet, so that <see cref="Abort"/> can reach a blocking <see cref="Open"/>.</summary>
    public static LibavDecoder Create()
    {
        if (UnavailableReason is { } reason)
        {
            throw new SourceException(reason, recoverable: false);
        }

        var handle = NativeMethods.Alloc();
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw new SourceException("out of memory for a decoder", recoverable: true);
        }

        return new LibavDecoder(handle);
    }

    /// <summary>
    /// Opens <paramref name="settings"/>' source (blocking up to its open timeout; <see cref="Abort"/> ends it sooner).
    /// Throws <see cref="SourceException"/>: not recoverable for a file that cannot be decoded, recoverable for a
    /// network camera, with a line naming the cause and the fix.
    /// </summary>
    public void Open(LibavSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        var rc = NativeMethods.OpenInput(_handle, settings.Url, settings.Threads, settings.IsNetwork ? settings.Transport : null,
            (long)settings.OpenTimeout.TotalMicroseconds, (long)settings.ReadTimeout.TotalMicroseconds, (int)settings.Skip);
        Transport = Marshal.PtrToStringUTF8(NativeMethods.TransportPointer(_handle)) ?? string.Empty;
        if (rc < 0)
        {
            var error = NativeMethods.Error(_handle);
            if (!settings.IsNetwork)
            {
                throw new SourceException($"file cannot be decoded ({error}): it is corrupt or not a video; replace it or re-encode it as H.264 MP4", recoverable: false);
            }

            throw new SourceException(OpenFailure(settings, rc, error, NativeMethods.FellBack(_handle) != 0), recoverable: true);
        }

        Width = NativeMethods.Width(_handle);
        Height = NativeMethods.Height(_handle);
        Fps = NativeMethods.Fps(_handle);
        FrameCount = Math.Max(0, NativeMethods.FrameCount(_handle));
    }

    /// <summary>Why a network camera did not open, with the fix: transport refusals and timeouts by name.</summary>
    internal static string OpenFailure(LibavSettings settings, int rc, string error, bool fellBack)
    {
        var c = CultureInfo.InvariantCulture;
        var transport = settings.Transport;
        if (rc == -EProtoNoSupport && CameraSource.Classify(settings.Url, out var scheme) == SourceKind.Network && scheme is "rtsp" or "rtsps")
        {
            return fellBack || transport == "auto"
                ? "the camera refused RTSP over TCP and over UDP (461 Unsupported transport); check the camera's RTSP settings (RTP over TCP or UDP must be on)"
                : transport == "udp"
                    ? "the camera refused RTSP over UDP (Ingest:RtspTransport = udp; it answered 461 Unsupported transport); set Ingest:RtspTransport to auto (or tcp)"
                    : "the camera refused RTSP over TCP (Ingest:RtspTransport = tcp; it answered 461 Unsupported transport: it serves RTP over UDP only); set Ingest:RtspTransport to auto (or udp)";
        }

        if (fellBack)
        {
            var what = rc == -ETimedOut ? string.Create(c, $"no video arrived within {settings.OpenTimeout.TotalSeconds:0.#} s") : error;
            return $"the camera refused RTSP over TCP (461 Unsupported transport) and RTSP over UDP failed ({what}); let the camera's RTP packets (UDP) through the firewall, or turn on RTP over TCP in the camera";
        }

        switch (rc)
        {
            case HttpUnauthorized:
                return settings.Url.Contains('@', StringComparison.Ordinal)
                    ? "the camera refused the user name or password in the URL (401 Unauthorized); correct them in the camera's URL"
                    : "the camera asks for a user name and password (401 Unauthorized); put them in the camera's URL before the host, as USER:PASSWORD followed by @";
            case HttpForbidden:
                return "the camera refused this user access to the stream (403 Forbidden); give the user the right to view it in the camera, or use another account";
            case HttpNotFound:
                return "the camera has no stream at this path (404 Not Found); check the URL's path against the camera's documentation";
        }

        if (rc == -ETimedOut)
        {
            return string.Create(c, $"no answer within {settings.OpenTimeout.TotalSeconds:0.#} s ({error}); check that the camera is reachable and sends video (Ingest:OpenTimeoutSeconds sets the wait)");
        }

        return $"{error}; check that the camera is reachable and the URL (path, credentials) is right";
    }

    public bool Grab(out TimeSpan? pts)
    {
        var rc = NativeMethods.Grab(_handle, out var us);
        if (rc < 0)
        {
            var error = NativeMethods.Error(_handle);
            if (_settings is { IsNetwork: true } network)
            {
                throw new SourceException(rc == -ETimedOut
                    ? string.Create(CultureInfo.InvariantCulture, $"no data from the camera for {network.ReadTimeout.TotalSeconds:0.#} s (Ingest:SocketTimeoutSeconds); will reconnect")
                    : $"stream broke ({error}); will reconnect", recoverable: true);
            }

            throw new SourceException($"decoding failed ({error})", recoverable: true);
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

    /// <summary>The planes are copied from the decoder's picture (converted by swscale only for another format or size).</summary>
    public bool CanRetrieveI420 => true;

    public void RetrieveI420(Frame target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Format != PixelFormat.I420)
        {
            throw new ArgumentException("the target must be an I420 frame", nameof(target));
        }

        if (NativeMethods.RetrieveI420(_handle, target.PixelPointer, target.Width, target.Height) < 0)
        {
            throw new SourceException($"a decoded picture could not be copied ({NativeMethods.Error(_handle)})", recoverable: true);
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

    /// <summary>
    /// Keeps the last <paramref name="buffer"/> of compressed video packets for <see cref="Clip"/> (zero: off, the
    /// default). Set it before <see cref="Open"/> so that the buffer starts with the stream's first keyframe.
    /// </summary>
    public void SetClipBuffer(TimeSpan buffer) => NativeMethods.ClipBuffer(_handle, (long)buffer.TotalMicroseconds);

    /// <summary>What the clip buffer holds: packets, bytes, and the media times of its first keyframe and newest packet.</summary>
    public (long Packets, long Bytes, TimeSpan First, TimeSpan Newest) ClipStats
    {
        get
        {
            NativeMethods.ClipStats(_handle, out var packets, out var bytes, out var first, out var newest);
            return (packets, bytes, TimeSpan.FromMicroseconds(first), TimeSpan.FromMicroseconds(newest));
        }
    }

    /// <summary>
    /// Remuxes the buffered window [from, to] (media times from the stream start, as <see cref="Grab"/>'s) into an MP4 at
    /// <paramref name="path"/> by stream copy: from the keyframe at or before <paramref name="from"/> through the last
    /// packet decoded at or before <paramref name="to"/>. Thread-safe against the decoding thread; one clip at a time.
    /// Throws <see cref="ClipException"/> (reason <c>window</c>: not in the buffer; <c>io</c>: the file; <c>error</c>).
    /// </summary>
    public (TimeSpan First, TimeSpan Last, int Packets) Clip(TimeSpan from, TimeSpan to, string path)
    {
        var rc = NativeMethods.Clip(_handle, (long)from.TotalMicroseconds, (long)to.TotalMicroseconds, path, out var first, out var last, out var packets);
        if (rc < 0)
        {
            var error = Marshal.PtrToStringUTF8(NativeMethods.ClipErrorPointer(_handle)) ?? "unknown error";
            var reason = -rc switch
            {
                ENoSys or EAgain or ERange => "window",
                ENoSpace or EAccess or ENoEntry or EReadOnly or EIo => "io",
                _ => "error",
            };
            throw new ClipException(reason, error);
        }

        return (TimeSpan.FromMicroseconds(first), TimeSpan.FromMicroseconds(last), (int)packets);
    }

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

        [LibraryImport(Library, EntryPoint = "sd_alloc")]
        public static partial DecoderHandle Alloc();

        [LibraryImport(Library, EntryPoint = "sd_open_input", StringMarshalling = StringMarshalling.Utf8)]
        public static partial int OpenInput(DecoderHandle decoder, string url, int threads, string? transport, long openTimeoutUs, long readTimeoutUs, int skip);

        [LibraryImport(Library, EntryPoint = "sd_transport")]
        public static partial IntPtr TransportPointer(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_fell_back")]
        public static partial int FellBack(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_stats")]
        public static partial void Stats(DecoderHandle decoder, out long decoded, out long converted);

        [LibraryImport(Library, EntryPoint = "sd_live_count")]
        public static partial int LiveCount();

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

        [LibraryImport(Library, EntryPoint = "sd_retrieve_i420")]
        public static partial int RetrieveI420(DecoderHandle decoder, IntPtr destination, int width, int height);

        [LibraryImport(Library, EntryPoint = "sd_rewind")]
        public static partial int Rewind(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_abort")]
        public static partial void Abort(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_clip_buffer")]
        public static partial void ClipBuffer(DecoderHandle decoder, long bufferUs);

        [LibraryImport(Library, EntryPoint = "sd_clip_stats")]
        public static partial void ClipStats(DecoderHandle decoder, out long packets, out long bytes, out long firstUs, out long newestUs);

        [LibraryImport(Library, EntryPoint = "sd_clip", StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Clip(DecoderHandle decoder, long fromUs, long toUs, string path, out long firstUs, out long lastUs, out long packets);

        [LibraryImport(Library, EntryPoint = "sd_clip_error")]
        public static partial IntPtr ClipErrorPointer(DecoderHandle decoder);

        [LibraryImport(Library, EntryPoint = "sd_close")]
        public static partial void Close(IntPtr decoder);
    }
}
