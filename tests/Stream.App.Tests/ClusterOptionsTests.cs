using Confluent.Kafka;
using Streaming.App.Cluster;
using Streaming.App.Hosting;

namespace Streaming.App.Tests;

/// <summary>Issue 11: the Cluster section, registry records and the group's member assignments as `stream cluster status` reads them.</summary>
public class ClusterOptionsTests
{
    [Fact]
    public void The_cluster_defaults_are_valid_and_a_heartbeat_over_a_third_of_the_session_is_named_with_the_fix()
    {
        Assert.Empty(ClusterOptions.Validator.Problems(new ClusterOptions()));
        Assert.True(new ClusterOptions().SessionTimeoutMs <= 10_000);
        var problems = ClusterOptions.Validator.Problems(new ClusterOptions { SessionTimeoutMs = 3000, HeartbeatIntervalMs = 2000, Group = "" });
        Assert.Contains(problems, p => p.StartsWith("Cluster:HeartbeatIntervalMs", StringComparison.Ordinal) && p.Contains("third", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Cluster:Group", StringComparison.Ordinal));
    }

    [Fact]
    public void A_registry_record_is_read_like_a_config_camera_and_one_that_is_not_says_why()
    {
        var (camera, problems) = CameraJson.Parse("""{"id":"cam-1","url":"rtsp://h/p","maxFps":2,"pacing":"full"}"""u8);
        Assert.Empty(problems);
        Assert.Equal(("cam-1", 2.0, Streaming.Core.FilePacing.Full), (camera!.Id, camera.MaxFps, camera.Pacing));
        var back = CameraJson.Parse(CameraJson.Serialize(camera));
        Assert.Equal(CameraJson.Fingerprint(camera), CameraJson.Fingerprint(back.Camera!));

        Assert.Contains(CameraJson.Parse("""{"Id":"cam-2","Url":"","Colour":"red"}"""u8).Problems, p => p.Contains("Colour", StringComparison.Ordinal));
        Assert.Contains(CameraJson.Parse("not json"u8).Problems, p => p.StartsWith("not a camera as in config", StringComparison.Ordinal));
    }

    [Fact]
    public void A_members_assignment_in_the_consumer_protocol_decodes_to_its_partitions()
    {
        // version 1, one topic "stream.cameras" with partitions 3 and 9, empty user data.
        var topic = "stream.cameras"u8.ToArray();
        var bytes = new List<byte> { 0, 1, 0, 0, 0, 1, 0, (byte)topic.Length };
        bytes.AddRange(topic);
        bytes.AddRange(new byte[] { 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0 });
        Assert.Equal([new TopicPartition("stream.cameras", 3), new TopicPartition("stream.cameras", 9)], ClusterStatus.DecodeAssignment([.. bytes]));
    }
}
