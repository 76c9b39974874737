using Streaming.Core;

namespace Streaming.Core.Tests;

public sealed class BoxTests
{
    [Fact]
    public void IoU_of_half_overlapping_boxes_is_one_third_and_disjoint_boxes_zero()
    {
        var a = new BoxF(0, 0, 10, 10);
        var b = new BoxF(5, 0, 15, 10);
        Assert.Equal(50f / 150f, a.IoU(b), 5);
        Assert.Equal(0f, a.IoU(new BoxF(20, 20, 30, 30)));
        Assert.Equal(1f, a.IoU(a), 5);
        Assert.Equal(new BoxF(0, 0, 8, 6), new BoxF(-3, -1, 9, 7).Clip(8, 6));
    }
}
