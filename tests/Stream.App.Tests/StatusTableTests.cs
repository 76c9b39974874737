using Spectre.Console;
using Streaming.Hosting;

namespace Streaming.App.Tests;

/// <summary>Issue 16, part 4: with 24 cameras in a 24-row terminal the live table keeps its header and totals in view.</summary>
public sealed class StatusTableTests
{
    [Fact]
    public void With_24_cameras_in_a_24_row_terminal_the_header_and_totals_stay_visible_and_the_worst_cameras_are_shown_first()
    {
        var cameras = Enumerable.Range(1, 24)
            .Select(i => new CameraRow($"cam-{i:00}", "Streaming", 25, 25, 0, 40, 80, null))
            .ToList();
        cameras[17] = cameras[17] with { State = "Failed", LastError = "decoding failed: the file ends in the middle of a frame" };
        cameras[20] = cameras[20] with { State = "Backoff", LastError = "connection refused" };
        cameras[22] = cameras[22] with { Drops = 500 };
        var logs = Enumerable.Range(1, 8).Select(i => $"12:00:0{i} info: log line {i}").ToList();

        var lines = Draw(StatusReporter.Screen(new StatusSnapshot(cameras, 0.75, 12.5, 3), logs, height: 24), width: 140);

        Assert.True(lines.Count <= 23, $"{lines.Count} lines drawn in a 24-row terminal:\n{string.Join('\n', lines)}");
        Assert.Contains(lines, l => l.Contains("camera", StringComparison.Ordinal) && l.Contains("fps in", StringComparison.Ordinal) && l.Contains("p99 ms", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("batch fill 75%", StringComparison.Ordinal) && l.Contains("inference 12.5 ms", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("cam-18", StringComparison.Ordinal) && l.Contains("Failed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("cam-21", StringComparison.Ordinal) && l.Contains("Backoff", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("cam-23", StringComparison.Ordinal) && l.Contains("500", StringComparison.Ordinal));
        var more = Assert.Single(lines, l => l.Contains(" more", StringComparison.Ordinal) && l.Contains("Streaming", StringComparison.Ordinal));
        var shown = lines.Count(l => l.Contains("cam-", StringComparison.Ordinal));
        Assert.Contains($"+{24 - shown} more", more, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("log line 8", StringComparison.Ordinal));
    }

    [Fact]
    public void Cameras_that_fit_are_all_shown_in_their_own_order_with_the_latest_logs_under_them()
    {
        var cameras = new[] { new CameraRow("b", "Streaming", 5, 5, 0, 1, 2, null), new CameraRow("a", "Failed", 0, 0, 0, null, null, "gone") };
        var logs = Enumerable.Range(1, 8).Select(i => $"log line {i}").ToList();

        var lines = Draw(StatusReporter.Screen(new StatusSnapshot(cameras, null, null, 0), logs, height: 40), width: 120);

        var b = lines.FindIndex(l => l.Contains("│ b ", StringComparison.Ordinal));
        var a = lines.FindIndex(l => l.Contains("│ a ", StringComparison.Ordinal));
        Assert.True(b >= 0 && a > b, string.Join('\n', lines));
        Assert.DoesNotContain(lines, l => l.Contains(" more", StringComparison.Ordinal));
        Assert.Equal(8, lines.Count(l => l.Contains("log line", StringComparison.Ordinal)));
    }

    private static List<string> Draw(Spectre.Console.Rendering.IRenderable screen, int width)
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = width;
        console.Write(screen);
        return [.. writer.ToString().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0)];
    }
}
