namespace Streaming.Ingest;

/// <summary>What the ffmpeg child writes on its pipe.</summary>
public enum PipeFormat
{
    /// <summary>
    /// Planar YUV 4:2:0 (I420, the H.264/HEVC decoders' native layout: no conversion in ffmpeg, half the bytes of
    /// BGR24), read straight into an I420 frame (no conversion at all; the full-size BGR is made only for the frames the
    /// sink stores or the live view shows). Default.
    /// </summary>
    I420,

    /// <summary>BGR24 converted by ffmpeg's swscale (read straight into the frame buffer; costs ~1 ms/frame more CPU at 720p).</summary>
    Bgr24,
}
