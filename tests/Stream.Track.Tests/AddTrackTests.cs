using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Track.Tests;

public class AddTrackTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton(typeof(Microsoft.Extensions.Logging.ILogger<>), typeof(NullLogger<>));
        services.AddTrack(config);
        return services.BuildServiceProvider();
    }

    [Fact]
    public void Zones_and_lines_bind_from_the_Track_section()
    {
        using var sp = Build(new()
        {
            ["Track:LostBufferSeconds"] = "2.5",
            ["Track:Cameras:dock-1:Zones:0:Name"] = "door",
            ["Track:Cameras:dock-1:Zones:0:Points:0:X"] = "0",
            ["Track:Cameras:dock-1:Zones:0:Points:0:Y"] = "0",
            ["Track:Cameras:dock-1:Zones:0:Points:1:X"] = "10",
            ["Track:Cameras:dock-1:Zones:0:Points:1:Y"] = "0",
            ["Track:Cameras:dock-1:Zones:0:Points:2:X"] = "10",
            ["Track:Cameras:dock-1:Zones:0:Points:2:Y"] = "10",
            ["Track:Cameras:dock-1:Lines:0:Name"] = "gate",
            ["Track:Cameras:dock-1:Lines:0:From:X"] = "5",
            ["Track:Cameras:dock-1:Lines:0:To:Y"] = "50",
        });
        var options = sp.GetRequiredService<IOptions<TrackOptions>>().Value;
        Assert.Equal(2.5, options.LostBufferSeconds);
        Assert.Equal(3, options.Cameras["dock-1"].Zones[0].Points.Count);
        Assert.Equal(50, options.Cameras["dock-1"].Lines[0].To.Y);
    }

    [Fact]
    public void Bad_track_config_fails_with_a_message_naming_the_key()
    {
        using var sp = Build(new()
        {
            ["Track:Cameras:cam:Lines:0:Name"] = "gate",
        });
        var ex = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<TrackOptions>>().Value);
        Assert.Contains("Track:Cameras:cam:Lines:gate", ex.Message, StringComparison.Ordinal);

        using var sp2 = Build(new() { ["Track:HighThreshold"] = "1.5" });
        Assert.Throws<OptionsValidationException>(() => sp2.GetRequiredService<IOptions<TrackOptions>>().Value);
    }

    [Fact]
    public void A_misspelt_track_key_fails_at_start_instead_of_being_ignored()
    {
        using var sp = Build(new() { ["Track:MatchIoU"] = "0.8" });
        var ex = Assert.ThrowsAny<Exception>(() => sp.GetRequiredService<IOptions<TrackOptions>>().Value);
        Assert.Contains("MatchIoU", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddTrack_registers_the_stage_on_the_pipeline_channels()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>()).Build();
        var services = new ServiceCollection();
        services.AddSingleton(typeof(Microsoft.Extensions.Logging.ILogger<>), typeof(NullLogger<>));
        services.AddMetrics();
        services.AddPipelineChannels(config);
        services.AddTrack(config);
        using var sp = services.BuildServiceProvider();
        Assert.Single(sp.GetServices<IHostedService>().OfType<TrackService>());
    }
}
