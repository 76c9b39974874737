namespace Streaming.Detect;

/// <summary>A model that cannot be used (missing, not ONNX, unknown output head, unusable input). The message is one line naming the file and the fix.</summary>
public sealed class DetectModelException : Exception
{
    public DetectModelException()
    {
    }

    public DetectModelException(string message)
        : base(message)
    {
    }

    public DetectModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
