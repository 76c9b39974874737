using Streaming.Core;
using Streaming.Ingest;

namespace Streaming.Ingest.Tests;

public class RedactionTests
{
    [Theory]
    [InlineData("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://***@10.0.0.5:554/stream1")]
    [InlineData("rtsps://user:p%40ss@cam.local/live", "rtsps://***@cam.local/live")]
    [InlineData("http://viewer:s3cret@cam/mjpeg", "http://***@cam/mjpeg")]
    [InlineData("https://cam/video?user=a&password=topsecret&x=1", "https://cam/video?user=a&password=***&x=1")]
    [InlineData("rtsp://cam/stream?token=abc123", "rtsp://cam/stream?token=***")]
    [InlineData("/var/video/a.mp4", "/var/video/a.mp4")]
    public void Credentials_in_camera_urls_are_redacted(string url, string expected)
    {
        Assert.Equal(expected, UrlRedactor.Redact(url));
    }

    [Fact]
    public void Validation_errors_never_show_the_password()
    {
        var errors = CameraListOptions.Validator.Problems(ConfigValidationTests.List(new CameraOptions { Id = "a", Url = "ftp://admin:hunter2@host/x" }));
        var error = Assert.Single(errors);
        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
        Assert.Contains("ftp://***@host/x", error, StringComparison.Ordinal);
    }
}
