namespace Streaming.Core;

/// <summary>An axis-aligned box in pixels of the original frame: (X1, Y1) top-left, (X2, Y2) bottom-right.</summary>
public readonly record struct BoxF(float X1, float Y1, float X2, float Y2)
{
    public float Width => X2 - X1;

    public float Height => Y2 - Y1;

    public float Area => Math.Max(0f, Width) * Math.Max(0f, Height);

    public float CenterX => (X1 + X2) * 0.5f;

    public float CenterY => (Y1 + Y2) * 0.5f;

    public static BoxF FromCenter(float cx, float cy, float w, float h) => new(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);

    public static BoxF FromXywh(float x, float y, float w, float h) => new(x, y, x + w, y + h);

    public float IoU(in BoxF other)
    {
        var ix = Math.Min(X2, other.X2) - Math.Max(X1, other.X1);
        var iy = Math.Min(Y2, other.Y2) - Math.Max(Y1, other.Y1);
        if (ix <= 0 || iy <= 0)
        {
            return 0f;
        }

        var inter = ix * iy;
        var union = Area + other.Area - inter;
        return union <= 0 ? 0f : inter / union;
    }

    public BoxF Clip(float width, float height) =>
        new(Math.Clamp(X1, 0, width), Math.Clamp(Y1, 0, height), Math.Clamp(X2, 0, width), Math.Clamp(Y2, 0, height));
}

/// <summary>A point in frame pixels (zones and lines are configured in these).</summary>
public readonly record struct PointF(float X, float Y);
