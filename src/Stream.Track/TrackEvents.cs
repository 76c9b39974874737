using Streaming.Core;

namespace Streaming.Track;

/// <summary>Builds the <see cref="PipelineEvent"/>s of a track, with the fields every track event carries.</summary>
internal static class TrackEvents
{
    public static PipelineEvent Create(EventKind kind, string cameraId, Tracklet track, DateTimeOffset time, long? frame, BoxF box, float score) => new()
    {
        Kind = kind,
        CameraId = cameraId,
        Time = time,
        FrameSequence = frame,
        TrackId = track.ReportedId,
        ClassId = track.ClassId,
        Label = (uint)track.ClassId < (uint)CocoClasses.Names.Count ? CocoClasses.Names[track.ClassId] : "class" + track.ClassId,
        Score = kind is EventKind.TrackEnded or EventKind.TrackStarted ? track.BestScore : score,
        Box = box,
        FirstSeen = track.FirstSeen,
        LastSeen = track.LastSeen,
    };
}
