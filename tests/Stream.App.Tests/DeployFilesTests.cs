using System.Diagnostics;
using Streaming.Testing;

namespace Streaming.App.Tests;

/// <summary>Issue 6, Deploy: no Docker engine runs here, so the compose file is validated the way CI can.</summary>
public sealed class DeployFilesTests
{
    [Fact]
    public async Task Docker_compose_file_is_valid_and_has_kafka_redis_stream_and_a_gpu_profile()
    {
        var info = new ProcessStartInfo("docker-compose", ["-f", Path.Combine(RepoPaths.Root, "docker-compose.yml"), "--profile", "gpu", "config", "--services"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, stderr);
        var services = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["kafka", "redis", "stream", "stream-gpu"], services.Order(StringComparer.Ordinal));
    }
}
