using Confluent.Kafka;
using Streaming.Cluster;
using Streaming.Hosting;

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
    public void A_registry_record_carries_its_cameras_zones_and_lines_in_its_camera_entry_and_bad_ones_are_named()
    {
        var json = """{"Id":"cam-1","Url":"rtsp://h/p","zones":[{"Name":"door","Points":[{"X":0,"Y":0},{"X":10,"Y":0},{"X":10,"Y":10}],"ClassIds":[0]}],"Lines":[{"Name":"gate","From":{"X":0,"Y":5},"To":{"X":10,"Y":5}}]}"""u8;
        var (record, problems) = RegistryCamera.Parse(json);
        Assert.Empty(problems);
        Assert.Equal(("cam-1", "rtsp://h/p"), (record!.Camera.Id, record.Camera.Url));
        Assert.Equal(("door", 3, 0), (record.Geometry.Zones.Single().Name, record.Geometry.Zones[0].Points.Count, record.Geometry.Zones[0].ClassIds.Single()));
        Assert.Equal(("gate", 5f, 10f), (record.Geometry.Lines.Single().Name, record.Geometry.Lines[0].From.Y, record.Geometry.Lines[0].To.X));

        // Written back as it was read; a record without zones is the camera alone, and zones are part of what it runs with.
        var back = RegistryCamera.Parse(record.Serialize());
        Assert.Equal(record.Fingerprint(), back.Camera!.Fingerprint());
        var plain = RegistryCamera.Parse("""{"Id":"cam-1","Url":"rtsp://h/p"}"""u8).Camera!;
        Assert.False(plain.HasGeometry);
        Assert.Equal(CameraJson.Serialize(plain.Camera), plain.Serialize());
        Assert.NotEqual(plain.Fingerprint(), record.Fingerprint());

        // So are its objects: what it tracks and each class's limits, checked where they are written.
        var objects = RegistryCamera.Parse("""{"Id":"cam-1","Url":"rtsp://h/p","Objects":{"Track":["person"],"Filters":{"person":{"MinScore":0.5,"MaxArea":0.25}}}}"""u8).Camera!;
        Assert.Equal(("person", 0.5, 0.25), (string.Join(",", objects.Camera.Objects.Track), objects.Camera.Objects.Filters["person"].MinScore, objects.Camera.Objects.Filters["person"].MaxArea));
        Assert.Equal(objects.Fingerprint(), RegistryCamera.Parse(objects.Serialize()).Camera!.Fingerprint());
        Assert.Contains(RegistryCamera.Parse("""{"Id":"cam-1","Url":"rtsp://h/p","Objects":{"Track":["person"],"Filters":{"person":{"MinScore":2}}}}"""u8).Problems,
            p => p.Contains("camera 'cam-1':Objects:Filters:person:MinScore is 2: it must be between 0 and 1", StringComparison.Ordinal));

        // A zone or line Track could not use, or a key it does not know, is named; so is a camera problem beside it.
        Assert.Contains(RegistryCamera.Parse("""{"Id":"cam-1","Url":"rtsp://h/p","Zones":[{"Name":"z","Points":[{"X":0,"Y":0}]}]}"""u8).Problems,
            p => p.StartsWith("camera 'cam-1':Zones:z has 1 points", StringComparison.Ordinal));
        Assert.Contains(RegistryCamera.Parse("""{"Id":"cam-1","Url":"rtsp://h/p","Lines":[{"Name":"l","From":{"X":1,"Y":1},"To":{"X":1,"Y":1},"Width":3}]}"""u8).Problems,
            p => p.Contains("Width", StringComparison.Ordinal));
        var both = RegistryCamera.Parse("""{"Id":"cam-1","Url":"","Lines":[{"Name":"l","From":{"X":1,"Y":1},"To":{"X":1,"Y":1}}]}"""u8).Problems;
        Assert.Contains(both, p => p.Contains("Url is empty", StringComparison.Ordinal));
        Assert.Contains(both, p => p.Contains("needs distinct From and To", StringComparison.Ordinal));
        Assert.Contains(RegistryCamera.Parse("not json"u8).Problems, p => p.StartsWith("not a camera as in config", StringComparison.Ordinal));
        Assert.NotEmpty(RegistryCamera.Parse("""{"Id":"cam-1","Url":"rtsp://h/p","Zones":[{"Name":"a"}],"zones":[{"Name":"b"}]}"""u8).Problems);
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
