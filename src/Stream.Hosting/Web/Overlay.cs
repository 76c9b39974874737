using System.Globalization;
using OpenCvSharp;
using Streaming.Core;
using Streaming.Track;

namespace Streaming.Hosting.Web;

/// <summary>
/// Draws what the pipeline saw onto a picture: boxes with label, track id and score, and the camera's zones and lines.
/// Used by the web view (latest picture, MJPEG, event snapshots) and <c>stream detect --save</c>. Colours follow the
/// track id (or class) so that one object keeps its colour from picture to picture.
/// </summary>
public static class Overlay
{
    private static readonly Scalar[] Palette =
    [
        new(56, 56, 255), new(151, 157, 255), new(31, 112, 255), new(29, 178, 255), new(49, 210, 207), new(10, 249, 72),
        new(23, 204, 146), new(134, 219, 61), new(52, 147, 26), new(187, 212, 0), new(168, 153, 44), new(255, 194, 0),
        new(147, 69, 52), new(255, 115, 100), new(236, 24, 0), new(255, 56, 132), new(133, 0, 82), new(255, 56, 203),
    ];

    private static readonly Scalar ZoneColour = new(0, 200, 255);
    private static readonly Scalar LineColour = new(255, 0, 255);

    public static Scalar ColourOf(long key) => Palette[(int)((ulong)key % (ulong)Palette.Length)];

    /// <summary>The pixel rectangle a box is drawn as: its outline runs through (X, Y) and (Right - 1, Bottom - 1).</summary>
    public static Rect RectOf(BoxF box, int width, int height)
    {
        var b = box.Clip(width - 1, height - 1);
        return new Rect((int)b.X1, (int)b.Y1, Math.Max(1, (int)b.Width), Math.Max(1, (int)b.Height));
    }

    /// <summary>One labelled box: a rectangle and, above it (inside the picture), its label on a filled band.</summary>
    public static void Box(Mat image, BoxF box, string label, Scalar colour)
    {
        ArgumentNullException.ThrowIfNull(image);
        var rect = RectOf(box, image.Width, image.Height);
        var thickness = Math.Max(3, image.Width / 400);
        Cv2.Rectangle(image, rect, colour, thickness);
        var scale = Math.Max(0.5, image.Width / 1600.0);
        var size = Cv2.GetTextSize(label, HersheyFonts.HersheySimplex, scale, 1, out var baseline);
        var bandHeight = size.Height + baseline + 4;
        var top = rect.Y - bandHeight >= 0 ? rect.Y - bandHeight : rect.Y;
        Cv2.Rectangle(image, new Rect(rect.X, top, size.Width + 4, bandHeight), colour, -1);
        Cv2.PutText(image, label, new Point(rect.X + 2, top + size.Height + 2), HersheyFonts.HersheySimplex, scale, Scalar.White, 1, LineTypes.AntiAlias);
    }

    /// <summary>
    /// Every track of a frame that is confirmed (or tentative, thinner label) with "label #n score": the model's label and
    /// the track's short id (its number in the camera run, <see cref="TrackIds.Short"/>).
    /// </summary>
    public static void Tracks(Mat image, IReadOnlyList<TrackedObject> tracks, ModelLabels labels, long epoch)
    {
        foreach (var t in tracks)
        {
            if (t.State is TrackState.Lost or TrackState.Removed)
            {
                continue;
            }

            var label = string.Create(CultureInfo.InvariantCulture, $"{labels.NameOf(t.ClassId)} #{TrackIds.Short(t.TrackId, epoch)} {t.Score:0.00}");
            Box(image, t.Box, label, ColourOf(t.TrackId));
        }
    }

    /// <summary>The zones (closed polygons) and lines (with an arrow showing the "in" direction) of one camera.</summary>
    public static void Geometry(Mat image, CameraGeometryOptions? geometry)
    {
        if (geometry is null)
        {
            return;
        }

        var thickness = Math.Max(2, image.Width / 640);
        foreach (var zone in geometry.Zones)
        {
            var points = zone.Points.Select(p => new Point(p.X, p.Y)).ToArray();
            Cv2.Polylines(image, [points], isClosed: true, ZoneColour, thickness, LineTypes.AntiAlias);
            if (points.Length > 0)
            {
                Caption(image, zone.Name, points[0], ZoneColour);
            }
        }

        foreach (var line in geometry.Lines)
        {
            var from = new Point(line.From.X, line.From.Y);
            var to = new Point(line.To.X, line.To.Y);
            Cv2.Line(image, from, to, LineColour, thickness, LineTypes.AntiAlias);

            // "in" is the right-hand side walking From -> To on screen (y down): the normal (-dy, dx).
            var mid = new Point((from.X + to.X) / 2, (from.Y + to.Y) / 2);
            double dx = to.X - from.X, dy = to.Y - from.Y, length = Math.Max(1, Math.Sqrt(dx * dx + dy * dy));
            var tip = new Point(mid.X - dy / length * 30, mid.Y + dx / length * 30);
            Cv2.ArrowedLine(image, mid, tip, LineColour, thickness, LineTypes.AntiAlias, 0, 0.3);
            Caption(image, line.Name, from, LineColour);
        }
    }

    private static void Caption(Mat image, string text, Point at, Scalar colour)
    {
        var scale = Math.Max(0.5, image.Width / 1600.0);
        Cv2.PutText(image, text, new Point(Math.Max(0, at.X + 4), Math.Max(14, at.Y - 6)), HersheyFonts.HersheySimplex, scale, colour, 2, LineTypes.AntiAlias);
    }
}
