using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using Streaming.Core;

namespace Streaming.Ingest;

/// <summary>
/// A camera decoded by an ffmpeg child process (network cameras with a hardware decoder or where libstreamdec.so is
/// missing, and files with <c>Ingest:FileDecoder = Ffmpeg</c>) that writes raw frames to its stdout. By default
/// ffmpeg emits I420 (<c>-pix_fmt yuv420p</c>: the decoder's own format, so ffmpeg converts only odd sources such as yuvj420p or 4:2:2); each frame of an even
/// size is read with one <c>ReadExactly</c> straight into a pooled I420 frame, with no conversion (an odd-sized one
/// into a native buffer owned by this source, then converted to BGR with OpenCV, BT.601 limited range): no per-frame
/// allocation.
/// The picture size is taken from ffmpeg's own description of its output (no second connection to probe).
/// stderr is read continuously; its last meaningful line (redacted) explains a failure. The process is owned:
/// disposing kills it (whole tree) and waits for it, so no zombie is left.
/// </summary>
internal sealed partial class FfmpegFrameSource : IFrameSource
{
    private const int StderrLines = 8;

    /// <summary>Cameras (id, URL, hardware decoder) whose hardware decode failed once: they decode in software from then on, without a second warning.</summary>
    private static readonly ConcurrentDictionary<(string Camera, string Url, string HwAccel), bool> SoftwareDecode = new();

    private readonly ILogger? _logger;

    private readonly CameraOptions _camera;
    private readonly IngestOptions _options;
    private readonly Lock _gate = new();
    private readonly Queue<string> _stderr = new();
    private readonly ManualResetEventSlim _described = new();
    private readonly byte[] _one = new byte[1];
    private readonly bool _isFile;
    private readonly PipeFormat _format;
    private long _framesRead;
    private I420Converter? _i420;
    private Process? _process;
    private Stream? _stdout;
    private bool _inOutputSection;
    private volatile string? _abortReason;

    private readonly FrameBufferPool _pool;
    private readonly TimeProvider _time;

    public FfmpegFrameSource(CameraOptions camera, IngestOptions options, PipeFormat format = PipeFormat.I420,
        FrameBufferPool? pool = null, TimeProvider? time = null, ILogger? logger = null)
    {
        _logger = logger;
        _pool = pool ?? FrameBufferPool.Shared;
        _time = time ?? TimeProvider.System;
        _camera = camera;
        _options = options;
        _format = format;
        _isFile = CameraSource.Classify(camera.Url) == SourceKind.File;
    }

    public int Width { get; private set; }

    public int Height { get; private set; }

    public double NominalFps { get; private set; }

    /// <summary>The ffmpeg command line for a camera (exposed for tests and diagnostics; contains the URL unredacted).</summary>
    public static IReadOnlyList<string> BuildArguments(CameraOptions camera, IngestOptions options, PipeFormat format = PipeFormat.I420, bool hardwareDecode = true)
    {
        ArgumentNullException.ThrowIfNull(camera);
        ArgumentNullException.ThrowIfNull(options);
        var args = new List<string> { "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info" };
        var kind = CameraSource.Classify(camera.Url, out var scheme);
        var timeoutUs = ((long)(options.SocketTimeoutSeconds * 1_000_000)).ToString(CultureInfo.InvariantCulture);
        if (kind == SourceKind.File)
        {
            // Files: native pacing reads at the file's rate (-re); looping restarts the input at its end.
            if (camera.Pacing == FilePacing.Native)
            {
                args.Add("-re");
            }

            if (camera.Loop)
            {
                args.AddRange(["-stream_loop", "-1"]);
            }
        }
        else if (scheme is "rtsp" or "rtsps")
        {
            // ffmpeg's client cannot try TCP first and UDP after a 461; the pipe reads "auto" as TCP.
            var transport = options.RtspTransport == "udp" ? "udp" : "tcp";
            args.AddRange(["-rtsp_transport", transport, "-timeout", timeoutUs]);
        }
        else
        {
            // http(s): socket I/O timeout, and reconnect-free (the worker's backoff owns reconnecting).
            args.AddRange(["-timeout", timeoutUs]);
        }

        if (hardwareDecode && HwAccel(camera, options) is { } hw)
        {
            args.AddRange(["-hwaccel", hw]);
        }

        if (camera.SkipFrames != SkipFrames.None)
        {
            args.AddRange(["-skip_frame", camera.SkipFrames == SkipFrames.NonKey ? "nokey" : "noref"]);
        }

        if (options.DecoderThreads > 0)
        {
            args.AddRange(["-threads", options.DecoderThreads.ToString(CultureInfo.InvariantCulture)]);
        }

        args.AddRange(["-i", kind == SourceKind.File ? CameraSource.FilePath(camera.Url) : camera.Url, "-map", "0:v:0", "-an", "-sn", "-dn"]);
        if (camera.Width > 0)
        {
            var h = camera.Height > 0 ? camera.Height.ToString(CultureInfo.InvariantCulture) : "-2";
            args.AddRange(["-vf", $"scale={camera.Width.ToString(CultureInfo.InvariantCulture)}:{h}"]);
        }

        if (camera.MaxFps > 0)
        {
            // Output rate cap without duplicating frames: vfr drops frames that would share a timestamp.
            args.AddRange(["-r", camera.MaxFps.ToString(CultureInfo.InvariantCulture), "-fps_mode", "vfr"]);
        }
        else
        {
            args.AddRange(["-fps_mode", "passthrough"]);
        }

        args.AddRange(["-pix_fmt", format == PipeFormat.I420 ? "yuv420p" : "bgr24", "-f", "rawvideo", "pipe:1"]);
        return args;
    }

    /// <summary>The hardware decoder asked for (the camera's own, else Ingest's default); null: software.</summary>
    private static string? HwAccel(CameraOptions camera, IngestOptions options)
    {
        var hw = string.IsNullOrWhiteSpace(camera.HwAccel) ? options.HwAccel : camera.HwAccel;
        return string.IsNullOrWhiteSpace(hw) ? null : hw.Trim();
    }

    [GeneratedRegex(@"Device (setup|creation) failed|No device available for decoder|Could not dynamically load|hwaccel initiali[sz]ation|Failed setup for format", RegexOptions.CultureInvariant)]
    private static partial Regex HardwareDecodeFailure();

    /// <summary>
    /// Opens with the configured hardware decoder; when ffmpeg cannot set it up (no GPU, no driver, a codec the
    /// hardware lacks), opens again decoding in software and warns once for the camera.
    /// </summary>
    public void Open(CancellationToken cancellationToken)
    {
        if (_isFile && !File.Exists(CameraSource.FilePath(_camera.Url)))
        {
            throw new SourceException($"file not found; fix the path ({Environment.CurrentDirectory} is the working directory) or run scripts/setup.sh", recoverable: false);
        }

        var hw = HwAccel(_camera, _options);
        var key = (_camera.Id, _camera.Url, hw ?? string.Empty);
        if (hw is null || SoftwareDecode.ContainsKey(key))
        {
            OpenProcess(hardwareDecode: false, cancellationToken);
            return;
        }

        try
        {
            OpenProcess(hardwareDecode: true, cancellationToken);
        }
        catch (SourceException) when (_abortReason is null && StderrMatches(HardwareDecodeFailure()) is { } failure)
        {
            ResetProcess();
            SoftwareDecode[key] = true;
            if (_logger is not null)
            {
                Log.HardwareDecodeFailed(_logger, _camera.Id, hw, failure);
            }

            OpenProcess(hardwareDecode: false, cancellationToken);
        }
    }

    private string? StderrMatches(Regex pattern)
    {
        lock (_gate)
        {
            return _stderr.FirstOrDefault(pattern.IsMatch);
        }
    }

    /// <summary>Ends the child of a failed open and forgets what it said, so the source can open again.</summary>
    private void ResetProcess()
    {
        DisposeProcess();
        lock (_gate)
        {
            _stderr.Clear();
        }

        _described.Reset();
        _inOutputSection = false;
        Width = Height = 0;
        NominalFps = 0;
    }

    private void OpenProcess(bool hardwareDecode, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(_options.FfmpegPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var a in BuildArguments(_camera, _options, _format, hardwareDecode))
        {
            info.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.ErrorDataReceived += OnStderr;
        process.Exited += OnExited;
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new SourceException($"cannot start ffmpeg ('{_options.FfmpegPath}': {ex.Message}); install ffmpeg or set Ingest:FfmpegPath", recoverable: true, ex);
        }

        _process = process;
        _stdout = process.StandardOutput.BaseStream;
        GrowPipe(_stdout, Math.Max(1 << 16, (Math.Max(_camera.Width, 1920) * 1080 * 3) + 4096));
        process.BeginErrorReadLine();

        // ffmpeg describes its output stream (with the picture size) before it writes the first frame.
        var timeout = TimeSpan.FromSeconds(_options.OpenTimeoutSeconds);
        if (!_described.Wait(timeout, cancellationToken))
        {
            throw new SourceException(_abortReason ?? string.Create(CultureInfo.InvariantCulture,
                $"no stream description within {timeout.TotalSeconds:0.#} s ({LastError() ?? "no output"}); check that the camera is reachable and sends video"), recoverable: true);
        }

        if (Width <= 0 || Height <= 0)
        {
            // A short file may end before its output description has been read from stderr: wait for stderr's end.
            WaitExit();
        }

        if (Width <= 0 || Height <= 0)
        {
            if (_isFile && _abortReason is null && _process is { HasExited: true })
            {
                throw new SourceException($"file cannot be decoded ({Describe(LastError())}): it is corrupt or not a video; replace it or re-encode it as H.264 MP4", recoverable: false);
            }

            throw new SourceException(_abortReason ?? $"{Describe(LastError())}; check that the camera is reachable and the URL (path, credentials) is right", recoverable: true);
        }
    }

    /// <summary>
    /// Linux pipes hold 64 KiB by default, so one 1080p frame would take ~95 write/read round trips between ffmpeg
    /// and us; a pipe of about a frame (capped by /proc/sys/fs/pipe-max-size, 1 MiB by default) cuts that to a few.
    /// Best effort: on failure the default size stays.
    /// </summary>
    private static void GrowPipe(Stream stream, int bytes)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var handle = stream switch
        {
            System.IO.Pipes.PipeStream pipe => pipe.SafePipeHandle.DangerousGetHandle(),
            FileStream file => file.SafeFileHandle.DangerousGetHandle(),
            _ => IntPtr.Zero,
        };
        if (handle == IntPtr.Zero)
        {
            return;
        }

        var max = 1 << 20;
        try
        {
            max = int.Parse(File.ReadAllText("/proc/sys/fs/pipe-max-size").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
        }

        _ = NativeMethods.SetPipeSize((int)handle, Math.Min(bytes, max));
    }

    private static string Describe(string? error) => error is null ? "ffmpeg ended without output" : $"ffmpeg: {error}";

    [GeneratedRegex(@"^\s*Stream #\d+:\d+.*?: Video: rawvideo.*?[ ,](?<w>\d{1,5})x(?<h>\d{1,5})[ ,\[]", RegexOptions.CultureInvariant)]
    private static partial Regex OutputVideo();

    [GeneratedRegex(@"[ ,](?<fps>\d+(\.\d+)?) fps", RegexOptions.CultureInvariant)]
    private static partial Regex Fps();

    [GeneratedRegex(@"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*", RegexOptions.CultureInvariant)]
    private static partial Regex ComponentPrefix();

    private void OnExited(object? sender, EventArgs e) => _described.Set();

    private void OnStderr(object sender, DataReceivedEventArgs e)
    {
        var line = e.Data;
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        if (line.StartsWith("Output #0", StringComparison.Ordinal))
        {
            _inOutputSection = true;
            return;
        }

        if (_inOutputSection && Width == 0)
        {
            var m = OutputVideo().Match(line);
            if (m.Success)
            {
                Height = int.Parse(m.Groups["h"].Value, CultureInfo.InvariantCulture);
                Width = int.Parse(m.Groups["w"].Value, CultureInfo.InvariantCulture);
                var f = Fps().Match(line);
                NominalFps = f.Success ? double.Parse(f.Groups["fps"].Value, CultureInfo.InvariantCulture) : 0;
                _described.Set();
                return;
            }
        }

        if (char.IsWhiteSpace(line[0]) || line.StartsWith("Input #", StringComparison.Ordinal)
            || line.StartsWith("Stream mapping", StringComparison.Ordinal) || line.StartsWith("Press [q]", StringComparison.Ordinal)
            || line.StartsWith("Exiting normally", StringComparison.Ordinal) || line.StartsWith("frame=", StringComparison.Ordinal)
            || line.StartsWith("video:", StringComparison.Ordinal))
        {
            return;
        }

        var clean = UrlRedactor.Redact(ComponentPrefix().Replace(line, string.Empty)).Trim();
        if (clean.Length > 300)
        {
            clean = clean[..300];
        }

        lock (_gate)
        {
            _stderr.Enqueue(clean);
            while (_stderr.Count > StderrLines)
            {
                _stderr.Dequeue();
            }
        }
    }

    /// <summary>ffmpeg's last meaningful stderr line, redacted (null when it said nothing).</summary>
    public string? LastError()
    {
        lock (_gate)
        {
            return _stderr.Count == 0 ? null : _stderr.Last();
        }
    }

    public Frame? Read(string cameraId, long sequence, bool live, CancellationToken cancellationToken)
    {
        var stdout = _stdout ?? throw new InvalidOperationException("Open the source first.");
        cancellationToken.ThrowIfCancellationRequested();

        // Block until the next frame starts arriving, so that the capture time is when it was decoded.
        int first;
        try
        {
            first = stdout.Read(_one, 0, 1);
        }
        catch (IOException ex)
        {
            throw Broken(ex);
        }

        if (first == 0)
        {
            if (_isFile && _abortReason is null)
            {
                WaitExit();
                if (_process is { HasExited: true, ExitCode: 0 })
                {
                    if (_framesRead == 0)
                    {
                        throw new SourceException("file has no decodable video frames: it is corrupt or not a video; replace it or re-encode it as H.264 MP4", recoverable: false);
                    }

                    return null;
                }
            }

            throw Broken(null);
        }

        // Files: media time from the frame index and the stream's rate (raw frames carry no timestamps).
        TimeSpan? pts = _isFile && NominalFps > 0 ? TimeSpan.FromSeconds(_framesRead / NominalFps) : null;
        // The I420 wire of an even-sized picture is exactly an I420 frame's layout: read straight into it, no conversion
        // (the full-resolution BGR is made only if the sink or the live view asks for it).
        var direct = _format == PipeFormat.I420 && Frame.CanHoldI420(Width, Height);
        var frame = Frame.Rent(direct ? PixelFormat.I420 : PixelFormat.Bgr24, cameraId, sequence, Width, Height, _time.GetUtcNow(), pts, live, _pool);
        try
        {
            if (_format == PipeFormat.Bgr24 || direct)
            {
                var pixels = frame.Pixels;
                pixels[0] = _one[0];
                stdout.ReadExactly(pixels[1..]);
            }
            else
            {
                _i420 ??= new I420Converter(Width, Height, _pool);
                var wire = _i420.Wire;
                wire[0] = _one[0];
                stdout.ReadExactly(wire[1..]);
                _i420.Convert(frame.Image);
            }

            _framesRead++;
            return frame;
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException)
        {
            frame.Dispose();
            throw Broken(ex);
        }
    }

    private SourceException Broken(Exception? inner)
    {
        if (_abortReason is { } reason)
        {
            return new SourceException(reason, recoverable: true, inner);
        }

        WaitExit();
        return new SourceException($"stream ended ({Describe(LastError())}); will reconnect", recoverable: true, inner);
    }

    private void WaitExit()
    {
        // Give ffmpeg a moment to exit and flush its last error line.
        try
        {
            if (_process is { } p && p.WaitForExit(TimeSpan.FromSeconds(1)))
            {
                // Exited: the parameterless wait also waits until stderr has been read to its end.
                p.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (SystemException)
        {
        }
    }

    /// <summary>Kills ffmpeg so that a blocked read returns; <paramref name="reason"/> becomes the error.</summary>
    public void Abort(string reason)
    {
        _abortReason ??= reason;
        _described.Set();
        Kill();
    }

    private void Kill()
    {
        try
        {
            var p = _process;
            if (p is not null && !p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already exited or never started.
        }
        catch (Win32Exception)
        {
            // Exiting at the same moment.
        }
    }

    public void Dispose()
    {
        DisposeProcess();
        _i420?.Dispose();
        _i420 = null;

        // _described is not disposed: a late Exited callback may still set it (it holds no kernel handle).
    }

    private void DisposeProcess()
    {
        var p = _process;
        if (p is not null)
        {
            Kill();
            try
            {
                // Reap the child (no zombie) and let the stderr reader finish.
                p.WaitForExit(TimeSpan.FromSeconds(5));
            }
            catch (SystemException)
            {
            }

            p.ErrorDataReceived -= OnStderr;
            p.Exited -= OnExited;
            p.Dispose();
            _process = null;
            _stdout = null;
        }
    }
}

internal static partial class NativeMethods
{
    private const int FSetPipeSize = 1031; // F_SETPIPE_SZ (Linux)

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    /// <summary>Sets a pipe's capacity; returns the new size or -1.</summary>
    public static int SetPipeSize(int fd, int bytes) => Fcntl(fd, FSetPipeSize, bytes);
}
