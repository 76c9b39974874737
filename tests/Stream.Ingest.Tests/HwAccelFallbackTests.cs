using OpenCvSharp;
using Streaming.Core;
using Streaming.Ingest;
using Streaming.Testing;

namespace Streaming.Ingest.Tests;

/// <summary>Issue 12: HwAccel cuda on a machine whose ffmpeg cannot set up the GPU decoder falls back to software decode with one warning.</summary>
public class HwAccelFallbackTests
{
    [Fact]
    public void When_hardware_decode_fails_the_camera_decodes_in_software_with_one_warning()
    {
        if (File.Exists("/dev/nvidiactl"))
        {
            return; // a GPU machine: hardware decode may work, which is not the case this test describes
        }

        var camera = new CameraOptions { Id = $"hw-{Guid.NewGuid():N}", Url = RepoPaths.Sample("test_360p.mp4"), Pacing = FilePacing.Full, HwAccel = "cuda" };
        var options = new IngestOptions { FileDecoder = FileDecoder.Ffmpeg };
        var log = new ListLogger();

        using (var source = new FfmpegFrameSource(camera, options, logger: log))
        using (var software = new FfmpegFrameSource(new CameraOptions { Id = "sw", Url = camera.Url, Pacing = FilePacing.Full }, options))
        {
            source.Open(CancellationToken.None);
            software.Open(CancellationToken.None);
            using var frame = source.Read(camera.Id, 0, live: false, CancellationToken.None);
            using var expected = software.Read("sw", 0, live: false, CancellationToken.None);
            Assert.NotNull(frame);
            Assert.NotNull(expected);
            using var diff = new Mat();
            Cv2.Absdiff(frame.Image, expected.Image, diff);
            Assert.Equal(0, Cv2.CountNonZero(diff.Reshape(1)));
        }

        var warning = Assert.Single(log.Lines);
        Assert.Equal((Microsoft.Extensions.Logging.LogLevel.Warning, 2015), (warning.Level, warning.EventId));
        Assert.Contains("hardware decode (cuda) failed", warning.Message, StringComparison.Ordinal);
        Assert.Contains("decoding in software", warning.Message, StringComparison.Ordinal);

        // The camera reconnects: straight to software, no second warning.
        using (var again = new FfmpegFrameSource(camera, options, logger: log))
        {
            again.Open(CancellationToken.None);
            using var frame = again.Read(camera.Id, 0, live: false, CancellationToken.None);
            Assert.NotNull(frame);
        }

        Assert.Single(log.Lines);
        Assert.DoesNotContain("-hwaccel", FfmpegFrameSource.BuildArguments(camera, options, hardwareDecode: false));
        Assert.Contains("-hwaccel", FfmpegFrameSource.BuildArguments(camera, options));
    }
}
