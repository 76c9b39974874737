using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Streaming.App.Cluster;

/// <summary>What <c>stream cluster status</c> shows: the group's members, their partitions and cameras, and cameras no member runs.</summary>
internal sealed record ClusterStatus(string Group, string State, IReadOnlyList<ClusterStatus.Member> Members, IReadOnlyList<string> Unowned)
{
    public sealed record Member(string ClientId, string Host, IReadOnlyList<int> Partitions, IReadOnlyList<string> Cameras);

    public static async Task<ClusterStatus> DescribeAsync(CameraRegistryTopic registry, string group, IReadOnlyList<RegistryRecord> cameras, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(cameras);
        using var admin = registry.CreateAdminClient();
        var result = await admin.DescribeConsumerGroupsAsync([group], new DescribeConsumerGroupsOptions { RequestTimeout = TimeSpan.FromSeconds(10) })
            .WaitAsync(ct).ConfigureAwait(false);
        var description = result.ConsumerGroupDescriptions.Single();
        var byPartition = cameras.ToLookup(c => c.Partition);
        var members = description.Members
            .Select(m =>
            {
                var partitions = m.Assignment?.TopicPartitions.Where(tp => tp.Topic == registry.Topic).Select(tp => tp.Partition.Value).Order().ToList() ?? [];
                return new Member(m.ClientId, m.Host, partitions, [.. partitions.SelectMany(p => byPartition[p]).Select(c => c.Key).Order(StringComparer.Ordinal)]);
            })
            .OrderBy(m => m.ClientId, StringComparer.Ordinal)
            .ToList();
        var owned = members.SelectMany(m => m.Partitions).ToHashSet();
        var unowned = cameras.Where(c => !owned.Contains(c.Partition)).Select(c => c.Key).Order(StringComparer.Ordinal).ToList();
        return new ClusterStatus(group, description.State.ToString(), members, unowned);
    }

    public IEnumerable<string> Lines()
    {
        yield return $"group {Group}: {State}, {Members.Count} member(s), {Members.Sum(m => m.Cameras.Count) + Unowned.Count} camera(s)";
        foreach (var m in Members)
        {
            yield return $"  {m.ClientId} ({m.Host}): {m.Cameras.Count} camera(s) [{string.Join(", ", m.Cameras)}] on partitions [{string.Join(",", m.Partitions)}]";
        }

        yield return Unowned.Count == 0 ? "cameras without owner: none" : $"cameras without owner: {Unowned.Count} [{string.Join(", ", Unowned)}]";
    }
}
