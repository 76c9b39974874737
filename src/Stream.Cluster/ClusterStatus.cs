using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Streaming.Cluster;

/// <summary>What <c>stream cluster status</c> shows: the group's members, their partitions and cameras, and cameras no member runs.</summary>
public sealed record ClusterStatus(string Group, string State, IReadOnlyList<ClusterStatus.Member> Members, IReadOnlyList<string>? Unowned,
    IReadOnlyList<(int Partition, IReadOnlyList<string> Cameras)>? ByPartition = null)
{
    public sealed record Member(string ClientId, string Host, IReadOnlyList<int> Partitions, IReadOnlyList<string> Cameras);

    public static async Task<ClusterStatus> DescribeAsync(CameraRegistryTopic registry, string group, IReadOnlyList<RegistryRecord> cameras, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(cameras);
        using var admin = registry.CreateAdminClient();
        List<Member> members;
        string state;
        var byPartition = cameras.ToLookup(c => c.Partition);
        Member Describe(string clientId, string host, IEnumerable<TopicPartition> assignment)
        {
            var partitions = assignment.Where(tp => tp.Topic == registry.Topic).Select(tp => tp.Partition.Value).Order().ToList();
            return new Member(clientId, host, partitions, [.. partitions.SelectMany(p => byPartition[p]).Select(c => c.Key).Order(StringComparer.Ordinal)]);
        }

        try
        {
            var result = await admin.DescribeConsumerGroupsAsync([group], new DescribeConsumerGroupsOptions { RequestTimeout = TimeSpan.FromSeconds(10) })
                .WaitAsync(ct).ConfigureAwait(false);
            var description = result.ConsumerGroupDescriptions.Single();
            state = description.State.ToString();
            members = [.. description.Members.Select(m => Describe(m.ClientId, m.Host, m.Assignment?.TopicPartitions ?? []))];
        }
        catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_UnsupportedFeature || ex.Message.Contains("not supported", StringComparison.OrdinalIgnoreCase))
        {
            // Brokers without the newer DescribeConsumerGroups (librdkafka's mock cluster): the classic DescribeGroups,
            // whose member assignments are the consumer protocol's bytes.
            try
            {
                var info = admin.ListGroup(group, TimeSpan.FromSeconds(10))
                    ?? throw new InvalidOperationException($"group '{group}' not found: no worker has joined it (check Cluster:Group)");
                state = info.State;
                members = [.. info.Members.Select(m => Describe(m.ClientId, m.ClientHost, DecodeAssignment(m.MemberAssignment)))];
            }
            catch (KafkaException inner)
            {
                // librdkafka's mock cluster answers neither: the registry's cameras are still shown, by partition.
                return new ClusterStatus(group, $"unknown: the broker cannot describe groups ({inner.Error.Reason}); librdkafka's mock cluster cannot, a real Kafka can",
                    [], null, [.. byPartition.OrderBy(g => g.Key).Select(g => (g.Key, (IReadOnlyList<string>)[.. g.Select(c => c.Key).Order(StringComparer.Ordinal)]))]);
            }
        }

        members = [.. members.OrderBy(m => m.ClientId, StringComparer.Ordinal)];
        var owned = members.SelectMany(m => m.Partitions).ToHashSet();
        var unowned = cameras.Where(c => !owned.Contains(c.Partition)).Select(c => c.Key).Order(StringComparer.Ordinal).ToList();
        return new ClusterStatus(group, state, members, unowned);
    }

    /// <summary>Kafka's ConsumerProtocolAssignment: int16 version, [string topic, [int32 partition]], bytes user data.</summary>
    internal static IEnumerable<TopicPartition> DecodeAssignment(byte[]? bytes)
    {
        var list = new List<TopicPartition>();
        if (bytes is null || bytes.Length < 6)
        {
            return list;
        }

        var span = bytes.AsSpan();
        var at = 2; // version
        var topics = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(span[at..]);
        at += 4;
        for (var t = 0; t < topics; t++)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(span[at..]);
            at += 2;
            var topic = System.Text.Encoding.UTF8.GetString(span.Slice(at, length));
            at += length;
            var partitions = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(span[at..]);
            at += 4;
            for (var p = 0; p < partitions; p++)
            {
                list.Add(new TopicPartition(topic, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(span[at..])));
                at += 4;
            }
        }

        return list;
    }

    public IEnumerable<string> Lines()
    {
        if (Unowned is null)
        {
            yield return $"group {Group}: {State}";
            foreach (var (partition, cameras) in ByPartition ?? [])
            {
                yield return $"  partition {partition}: {cameras.Count} camera(s) [{string.Join(", ", cameras)}]";
            }

            yield break;
        }

        yield return $"group {Group}: {State}, {Members.Count} member(s), {Members.Sum(m => m.Cameras.Count) + Unowned.Count} camera(s)";
        foreach (var m in Members)
        {
            yield return $"  {m.ClientId} ({m.Host}): {m.Cameras.Count} camera(s) [{string.Join(", ", m.Cameras)}] on partitions [{string.Join(",", m.Partitions)}]";
        }

        yield return Unowned.Count == 0 ? "cameras without owner: none" : $"cameras without owner: {Unowned.Count} [{string.Join(", ", Unowned)}]";
    }
}
