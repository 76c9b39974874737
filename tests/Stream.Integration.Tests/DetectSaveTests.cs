using System.Text.Json;
using OpenCvSharp;
using Streaming.Hosting.Web;
using Streaming.Testing;

namespace Streaming.Integration.Tests;

/// <summary><c>stream detect --image X --save out.jpg</c> writes the picture with each detection's box drawn where it was found.</summary>
[Collection(PipelineCollection.Name)]
public sealed class DetectSaveTests
{
    [Fact]
    public async Task Detect_save_writes_the_image_with_a_box_on_each_detection()
    {
        var output = Path.Combine(Path.GetTempPath(), "stream-detect-" + Guid.NewGuid().ToString("N")[..8] + ".png");
        var (exitCode, stdout, stderr) = await StreamProcess.CommandAsync(
            ["detect", "--image", RepoPaths.Sample("dog.jpg"), "--provider", "cpu", "--json", "--save", output]);
        try
        {
            Assert.True(exitCode == 0, stderr);
            using var rows = JsonDocument.Parse(stdout);
            Assert.NotEmpty(rows.RootElement.EnumerateArray());
            using var original = Cv2.ImRead(RepoPaths.Sample("dog.jpg"), ImreadModes.Color);
            using var saved = Cv2.ImRead(output, ImreadModes.Color);
            Assert.Equal(original.Size(), saved.Size());
            // Down each box's left edge, below any label band: exactly a box colour (PNG is lossless). Boxes drawn later
            // may cover an earlier one's edge (a car also found as a truck), so the last box drawn must show its own.
            var detections = rows.RootElement.EnumerateArray().Select(d => (Cls: d.GetProperty("cls").GetInt32(),
                Box: new Core.BoxF(d.GetProperty("x1").GetSingle(), d.GetProperty("y1").GetSingle(), d.GetProperty("x2").GetSingle(), d.GetProperty("y2").GetSingle()))).ToList();
            var colours = detections.Select(d => Overlay.ColourOf(d.Cls)).ToList();
            for (var k = 0; k < detections.Count; k++)
            {
                var rect = Overlay.RectOf(detections[k].Box, saved.Width, saved.Height);
                var edge = Enumerable.Range(0, 10).Select(i => saved.At<Vec3b>(rect.Y + rect.Height * (40 + i * 5) / 100, rect.X)).ToList();
                var own = edge.Count(p => Same(p, colours[k]));
                var any = edge.Count(p => colours.Any(c => Same(p, c)));
                Assert.True(any >= 8, $"class {detections[k].Cls} box {rect}: {any} of 10 edge pixels in a box colour");
                if (k == detections.Count - 1)
                {
                    Assert.True(own >= 8, $"class {detections[k].Cls} box {rect}, drawn last: {own} of 10 edge pixels in its colour");
                }
            }
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static bool Same(Vec3b p, Scalar c) => p.Item0 == (byte)c.Val0 && p.Item1 == (byte)c.Val1 && p.Item2 == (byte)c.Val2;
}
