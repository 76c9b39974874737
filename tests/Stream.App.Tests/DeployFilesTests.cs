using System.Diagnostics;
using System.Text.RegularExpressions;
using Streaming.Hosting;
using Streaming.Testing;

namespace Streaming.App.Tests;

/// <summary>Issue 6, Deploy: no Docker engine runs here, so the compose file is validated the way CI can.</summary>
public sealed partial class DeployFilesTests
{
    /// <summary>A <c>STREAM_*</c> variable set in a Dockerfile (<c>ENV K=V</c>) or a compose file (<c>K: V</c>, <c>- K=V</c>).</summary>
    [GeneratedRegex(@"\b(STREAM_[A-Za-z0-9_]+)\s*[:=]\s*""?([^""\s\\]*)")]
    private static partial Regex StreamVariable();

    /// <summary>Each options section and the type its stage binds it to, as the host does (unknown keys and bad values are problems).</summary>
    private static readonly Dictionary<string, Type> SectionTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Cameras"] = typeof(List<Core.CameraOptions>),
        ["Channels"] = typeof(Core.ChannelOptions),
        ["Ingest"] = typeof(Ingest.IngestOptions),
        ["Detect"] = typeof(Detect.DetectOptions),
        ["Track"] = typeof(Track.TrackOptions),
        ["Sink"] = typeof(Sink.SinkOptions),
        ["Http"] = typeof(HttpOptions),
        ["Host"] = typeof(HostBehaviourOptions),
        ["Status"] = typeof(StatusOptions),
    };

    /// <summary>The key check of <c>stream run</c> for one <c>--set</c>-style setting: unknown sections, unknown keys, values that do not convert.</summary>
    private static List<string> KeyProblems(string setting)
    {
        var root = PipelineConfiguration.Load(null, [setting], out var errors);
        var problems = new List<string>(errors);
        problems.AddRange(PipelineConfiguration.UnknownSections(root));
        foreach (var section in root.GetChildren())
        {
            if (SectionTypes.TryGetValue(section.Key, out var type))
            {
                problems.AddRange(Core.ConfigurationChecks.Problems(section, type));
            }
        }

        return problems;
    }

    [Theory]
    [InlineData("Dockerfile")]
    [InlineData("Dockerfile.gpu")]
    [InlineData("docker-compose.yml")]
    public void Every_STREAM_variable_a_deploy_file_sets_passes_the_config_key_check(string file)
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Root, file));
        var variables = StreamVariable().Matches(text).Select(m => (Key: m.Groups[1].Value, Value: m.Groups[2].Value)).ToList();
        Assert.NotEmpty(variables);

        foreach (var (key, value) in variables)
        {
            var errors = KeyProblems(key[PipelineConfiguration.EnvironmentPrefix.Length..] + "=" + value);
            Assert.True(errors.Count == 0, $"{file} sets {key}: {string.Join("; ", errors)}");
        }
    }

    [Fact]
    public void The_deploy_file_check_catches_a_renamed_key()
    {
        // Dockerfile.gpu once set this misspelling of Detect:TensorRtCacheDir, and the GPU image stopped at start.
        var errors = KeyProblems("Detect__TensorRtCacheDirectory=/var/cache/stream/trt");

        Assert.Contains(errors, e => e.Contains("Detect:TensorRtCacheDirectory", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Docker_compose_file_is_valid_and_has_kafka_redis_stream_dashboards_and_a_gpu_profile()
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
        Assert.Equal(["grafana", "kafka", "prometheus", "redis", "stream", "stream-gpu"], services.Order(StringComparer.Ordinal));
    }
}
