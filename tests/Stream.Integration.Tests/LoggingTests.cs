using System.Text.Json;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>Logs are kept: in rotating files while the live table owns the terminal, and as JSON on stdout when asked.</summary>
[Collection(PipelineCollection.Name)]
public sealed class LoggingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task With_the_live_table_on_the_log_is_kept_in_a_file_under_the_log_directory()
    {
        var logs = Path.Combine(Path.GetTempPath(), "stream-logs-" + Guid.NewGuid().ToString("N")[..8]);
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-a", maxFps: 5)),
            ["Status:Mode=table", "Logging:File:Directory=" + logs], output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(logs, "stream.log"))
            && ReadShared(Path.Combine(logs, "stream.log")).Contains("Detect: warmed up", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the warm-up line in data/logs/stream.log");
        await run.SignalAsync("TERM");
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var text = ReadShared(Path.Combine(logs, "stream.log"));
        Assert.Contains("Streaming.Sink.SinkService", text, StringComparison.Ordinal); // the shutdown summary is flushed too
        Directory.Delete(logs, true);
    }

    [Fact]
    public async Task Logging_Console_FormatterName_json_writes_one_json_object_per_line_on_stdout()
    {
        await using var run = StreamProcess.Start(StreamProcess.Config(StreamProcess.FileCamera("cam-a", maxFps: 5)),
            ["Status:Mode=off", "Logging:Console:FormatterName=json", "Logging:LogLevel:Default=Information"], output: output);
        await run.WaitReadyAsync();
        await run.WaitUntilAsync(() => Task.FromResult(run.StdoutLines.Any(l => l.Contains("warmed up", StringComparison.Ordinal))), TimeSpan.FromSeconds(30), "the warm-up log line");
        var lines = run.StdoutLines.Where(l => l.Length > 0).ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line); // throws when a line is not JSON
            Assert.True(json.RootElement.TryGetProperty("Category", out _), line);
        }
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }
}
