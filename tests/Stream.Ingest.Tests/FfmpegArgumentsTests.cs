using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Ingest.Tests;

public class FfmpegArgumentsTests
{
    [Fact]
    public void An_rtsp_camera_is_read_over_tcp_with_a_socket_timeout_hardware_decode_scaling_and_an_fps_cap()
    {
        var args = FfmpegFrameSource.BuildArguments(
            new CameraOptions { Id = "c", Url = "rtsp://u:p@127.0.0.1/x", Width = 640, MaxFps = 10, HwAccel = "cuda" },
            new IngestOptions { SocketTimeoutSeconds = 5 });
        var line = string.Join(' ', args);
        Assert.Contains("-rtsp_transport tcp -timeout 5000000", line, StringComparison.Ordinal);
        Assert.Contains("-hwaccel cuda -i rtsp://u:p@127.0.0.1/x", line, StringComparison.Ordinal);
        Assert.Contains("-vf scale=640:-2", line, StringComparison.Ordinal);
        Assert.Contains("-r 10 -fps_mode vfr", line, StringComparison.Ordinal);
        Assert.EndsWith("-pix_fmt yuv420p -f rawvideo pipe:1", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_paced_looping_file_read_by_ffmpeg_uses_native_rate_and_stream_loop()
    {
        var line = string.Join(' ', FfmpegFrameSource.BuildArguments(
            new CameraOptions { Id = "f", Url = "/tmp/a.mp4", Loop = true, Pacing = FilePacing.Native },
            new IngestOptions { HwAccel = "vaapi" }));
        Assert.Contains("-re -stream_loop -1", line, StringComparison.Ordinal);
        Assert.Contains("-hwaccel vaapi -i /tmp/a.mp4", line, StringComparison.Ordinal);
        Assert.Contains("-fps_mode passthrough", line, StringComparison.Ordinal);
        Assert.DoesNotContain("-rtsp_transport", line, StringComparison.Ordinal);
    }
}
