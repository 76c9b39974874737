using System.Diagnostics;

namespace Streaming.Testing;

/// <summary>The RTP transports an <see cref="RtspServerFixture"/> offers (GstRTSPMediaFactory.set_protocols).</summary>
public enum RtspProtocols
{
    /// <summary>UDP, UDP multicast and TCP (interleaved), as GStreamer's default.</summary>
    All,

    /// <summary>RTP over UDP only: a SETUP asking for TCP is answered 461 Unsupported transport (as VLC's server does).</summary>
    Udp,

    /// <summary>RTP interleaved over the RTSP TCP connection only.</summary>
    Tcp,
}

/// <summary>
/// A real GStreamer RTSP server (Scripts/rtsp_server.py run by the system python3 with python3-gi and
/// gir1.2-gst-rtsp-server-1.0) on a free loopback port, serving the H.264 test clip on mounts /cam1../camN, paced
/// like live cameras. It can be killed (SIGKILL, like a crash or power loss) and started again on the same port.
/// The served file is samples/test_360p.mp4 stream-copied many times over (no re-encode) so that it never runs
/// out during a test.
/// </summary>
public sealed class RtspServerFixture : IAsyncDisposable
{
    private static readonly Lazy<string> LongClip = new(MakeLongClip, LazyThreadSafetyMode.ExecutionAndPublication);
    private Process? _process;

    public RtspServerFixture(int mounts = 3, int? port = null, RtspProtocols protocols = RtspProtocols.All)
    {
        Mounts = mounts;
        Protocols = protocols;
        Port = port ?? FreePort.Next();
    }

    public int Port { get; }

    public int Mounts { get; }

    public RtspProtocols Protocols { get; }

    /// <summary>"user:password" the mounts require (basic authentication; others get 401 Unauthorized); null: none. Set before starting.</summary>
    public string? Credentials { get; init; }

    /// <summary>Frame size of the served clip.</summary>
    public static (int Width, int Height) ClipSize => (640, 360);

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The URL of mount <paramref name="index"/> (1-based); optional credentials are put in the URL (checked only when <see cref="Credentials"/> is set).</summary>
    public string Url(int index, string? userInfo = null) =>
        $"rtsp://{(userInfo is null ? string.Empty : userInfo + "@")}127.0.0.1:{Port}/cam{index}";

    public static async Task<RtspServerFixture> StartNewAsync(int mounts = 3, RtspProtocols protocols = RtspProtocols.All)
    {
        var server = new RtspServerFixture(mounts, protocols: protocols);
        await server.StartAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>Starts the server (again) on <see cref="Port"/> and waits until it listens.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            return;
        }

        var clip = LongClip.Value;
        var info = new ProcessStartInfo(Python())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Script());
        info.ArgumentList.Add(Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add(clip);
        info.ArgumentList.Add(Mounts.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add(Protocols.ToString().ToLowerInvariant());
        info.ArgumentList.Add(Credentials ?? "-");
        var process = Process.Start(info) ?? throw new InvalidOperationException("python3 did not start");
        _process = process;
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
                if (line is null)
                {
                    await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                    throw new InvalidOperationException($"RTSP server exited ({process.ExitCode}): {await stderr.ConfigureAwait(false)}");
                }

                if (line.StartsWith("READY", StringComparison.Ordinal))
                {
                    return;
                }
            }
        }
        catch
        {
            Kill();
            throw;
        }
    }

    /// <summary>Freezes the server (SIGSTOP): its connections stay open and it sends nothing, like a hung camera.</summary>
    public void Pause() => Signal("STOP");

    /// <summary>Lets a paused server carry on (SIGCONT).</summary>
    public void Resume() => Signal("CONT");

    private void Signal(string signal)
    {
        if (_process is not { HasExited: false } p)
        {
            return;
        }

        using var kill = Process.Start("kill", ["-" + signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Kills the server abruptly (SIGKILL) and waits until it is gone.</summary>
    public void Kill()
    {
        var p = _process;
        _process = null;
        if (p is null)
        {
            return;
        }

        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }

            p.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }

        p.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }

    private static string Python() =>
        // The Debian python3 has the GObject bindings; a pyenv/venv python3 earlier on PATH usually has not.
        File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private static string Script()
    {
        var local = Path.Combine(AppContext.BaseDirectory, "Scripts", "rtsp_server.py");
        return File.Exists(local) ? local : Path.Combine(RepoPaths.Root, "tests", "Stream.Testing", "Scripts", "rtsp_server.py");
    }

    private static string MakeLongClip()
    {
        var clip = RepoPaths.Sample("test_360p.mp4");
        var dir = Path.Combine(Path.GetTempPath(), "stream-tests");
        Directory.CreateDirectory(dir);
        var output = Path.Combine(dir, "rtsp_loop_360p_4min.mp4");
        if (File.Exists(output) && File.GetLastWriteTimeUtc(output) >= File.GetLastWriteTimeUtc(clip))
        {
            return output;
        }

        var part = output + $".{Environment.ProcessId}.part.mp4";
        var info = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "47", "-i", clip, "-c", "copy", part })
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg did not start");
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException("ffmpeg could not make the RTSP test clip: " + err);
        }

        File.Move(part, output, overwrite: true);
        return output;
    }
}
