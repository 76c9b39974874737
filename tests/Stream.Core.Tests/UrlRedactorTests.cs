using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class UrlRedactorTests
{
    [Theory]
    [InlineData("rtsp://admin:S3cret@10.0.0.5:554/stream1", "rtsp://***@10.0.0.5:554/stream1")]
    [InlineData("error opening rtsps://u:p@cam/x: refused", "error opening rtsps://***@cam/x: refused")]
    [InlineData("http://host/path?user=a&password=hunter2&x=1", "http://host/path?user=a&password=***&x=1")]
    [InlineData("sasl.password=abc123", "sasl.password=***")]
    [InlineData("samples/clip.mp4", "samples/clip.mp4")]
    public void Credentials_never_survive_redaction(string input, string expected) => Assert.Equal(expected, UrlRedactor.Redact(input));
}
