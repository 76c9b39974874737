namespace Streaming.Track;

/// <summary>Plane geometry for zones and lines, in frame pixels.</summary>
public static class GeometryMath
{
    /// <summary>Even-odd (ray casting) point-in-polygon test; <paramref name="xs"/>/<paramref name="ys"/> are the corners in order.</summary>
    public static bool Contains(ReadOnlySpan<float> xs, ReadOnlySpan<float> ys, float x, float y)
    {
        var inside = false;
        var n = xs.Length;
        for (int i = 0, j = n - 1; i < n; j = i++)
        {
            if ((ys[i] > y) != (ys[j] > y))
            {
                var xCross = xs[j] + (y - ys[j]) * (xs[i] - xs[j]) / (ys[i] - ys[j]);
                if (x < xCross)
                {
                    inside = !inside;
                }
            }
        }

        return inside;
    }

    /// <summary>
    /// Signed distance of (x, y) from the infinite line through A -> B: positive on the right-hand side of A -> B as seen
    /// on screen (image y grows downwards), negative on the left.
    /// </summary>
    public static float SignedDistance(float ax, float ay, float bx, float by, float x, float y)
    {
        var dx = bx - ax;
        var dy = by - ay;
        var len = MathF.Sqrt(dx * dx + dy * dy);
        return (dx * (y - ay) - dy * (x - ax)) / len;
    }

    /// <summary>True when segment P -> Q meets segment A -> B (end points included).</summary>
    public static bool SegmentsIntersect(float px, float py, float qx, float qy, float ax, float ay, float bx, float by)
    {
        var d1 = Cross(ax, ay, bx, by, px, py);
        var d2 = Cross(ax, ay, bx, by, qx, qy);
        var d3 = Cross(px, py, qx, qy, ax, ay);
        var d4 = Cross(px, py, qx, qy, bx, by);
        if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
        {
            return true;
        }

        return (d1 == 0 && OnSegment(ax, ay, bx, by, px, py))
            || (d2 == 0 && OnSegment(ax, ay, bx, by, qx, qy))
            || (d3 == 0 && OnSegment(px, py, qx, qy, ax, ay))
            || (d4 == 0 && OnSegment(px, py, qx, qy, bx, by));
    }

    private static float Cross(float ax, float ay, float bx, float by, float x, float y) => (bx - ax) * (y - ay) - (by - ay) * (x - ax);

    private static bool OnSegment(float ax, float ay, float bx, float by, float x, float y) =>
        x >= Math.Min(ax, bx) && x <= Math.Max(ax, bx) && y >= Math.Min(ay, by) && y <= Math.Max(ay, by);

    /// <summary>Distance of (x, y) from the segment A-B (from A when the segment is a point).</summary>
    public static double DistanceToSegment(double x, double y, double ax, double ay, double bx, double by)
    {
        double dx = bx - ax, dy = by - ay;
        var lengthSquared = (dx * dx) + (dy * dy);
        var t = lengthSquared > 0 ? Math.Clamp((((x - ax) * dx) + ((y - ay) * dy)) / lengthSquared, 0, 1) : 0;
        double px = ax + (t * dx) - x, py = ay + (t * dy) - y;
        return Math.Sqrt((px * px) + (py * py));
    }
}
