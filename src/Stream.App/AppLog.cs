using Microsoft.Extensions.Logging;

namespace Streaming.App;

/// <summary>
/// The log messages of the `stream` executable itself, with their event ids (1000-1999 with the host's HostLog and the
/// cluster's ClusterLog; Ingest 2xxx, Detect 3xxx, Sink 5xxx).
/// </summary>
internal static partial class AppLog
{
    [LoggerMessage(EventId = 1005, Level = LogLevel.Critical, Message = "{Stage} failed and stopped the pipeline")]
    public static partial void StageFailed(ILogger logger, string stage, Exception exception);
}
