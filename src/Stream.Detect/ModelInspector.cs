using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Streaming.Detect;

/// <summary>
/// Reads what an opened model is: its float NCHW input (size, fixed or dynamic batch), its output and the YOLO head that
/// output matches (or <see cref="DetectOptions.Head"/>), and its class names (<see cref="DetectorLabels"/>). Anything
/// the Detect stage cannot use stops the start with one line naming the model and the fix.
/// </summary>
internal static class ModelInspector
{
    public static ModelDescription Describe(InferenceSession session, DetectOptions options, ExecutionProviderKind provider, string reason, ILogger logger)
    {
        var path = options.ResolvedModelPath;
        var (inputName, input) = session.InputMetadata.First();
        var (outputName, output) = session.OutputMetadata.First();
        if (!input.IsTensor || input.ElementDataType != TensorElementType.Float)
        {
            throw new DetectModelException($"Detect model '{path}': input '{inputName}' is not a float32 tensor ({input.ElementDataType}): export the model with a float32 image input");
        }

        var inDims = input.Dimensions;
        if (inDims.Length != 4 || inDims[1] != 3)
        {
            var layout = inDims.Length == 4 && inDims[3] == 3 ? " (NHWC)" : string.Empty;
            throw new DetectModelException($"Detect model '{path}': input '{inputName}' has shape [{Dims(inDims)}]{layout}; an NCHW image input N x 3 x H x W is needed: export the model with an NCHW input");
        }

        var height = Side(inDims[2], options, path, "height");
        var width = Side(inDims[3], options, path, "width");
        int? fixedBatch = inDims[0] > 0 ? inDims[0] : null;

        var outDims = output.Dimensions;
        if (!output.IsTensor || output.ElementDataType != TensorElementType.Float || outDims.Length != 3)
        {
            throw new DetectModelException($"Detect model '{path}': output '{outputName}' has shape [{Dims(outDims)}], which matches no known head (supported: {HeadProfile.SupportedShapes(width, height)}); set Detect:Head if the model is one of these");
        }

        int dim1 = outDims[1], dim2 = outDims[2];
        if (dim1 <= 0 || dim2 <= 0)
        {
            // Symbolic axes besides the batch: learn the real sizes from one run on a blank picture.
            (dim1, dim2) = ProbeOutput(session, inputName, outputName, width, height);
        }

        HeadKind head;
        if (options.Head != HeadKind.Auto)
        {
            head = options.Head;
        }
        else
        {
            head = HeadProfile.Recognise(dim1, dim2, width, height)
                ?? throw new DetectModelException($"Detect model '{path}': output '{outputName}' has shape [{Dims(outDims)}] (per image {dim1} x {dim2}), which matches no known head for a {width}x{height} input (supported: {HeadProfile.SupportedShapes(width, height)}); set Detect:Head (yolox, yolov5, yolov8) if the model is one of these");
        }

        if (head == HeadKind.Yolox && dim1 != HeadProfile.GridCells(width, height))
        {
            throw new DetectModelException($"Detect model '{path}': Detect:Head yolox needs N x {HeadProfile.GridCells(width, height)} x (5+C) for a {width}x{height} input (grid cells over strides 8, 16, 32), the output is [{Dims(outDims)}]: fix Detect:Head or Detect:InputSize");
        }

        var classes = head == HeadKind.Yolov8 ? dim1 - 4 : dim2 - 5;
        if (classes <= 0)
        {
            throw new DetectModelException($"Detect model '{path}': a {head} head needs {(head == HeadKind.Yolov8 ? "4+C rows" : "5+C values per anchor")}, the output has shape [{Dims(outDims)}]: fix Detect:Head");
        }

        var labels = DetectorLabels.Read(session, options, classes, logger);
        return new ModelDescription(path, inputName, outputName, width, height, fixedBatch, dim1, dim2,
            HeadProfile.For(head), labels, provider, reason);
    }

    private static int Side(int dim, DetectOptions options, string path, string what)
    {
        if (dim > 0)
        {
            if (options.InputSize > 0 && options.InputSize != dim)
            {
                throw new DetectModelException($"Detect:InputSize is {options.InputSize} but model '{path}' has a fixed input {what} of {dim}: remove Detect:InputSize or export the model with a dynamic size");
            }

            return dim;
        }

        return options.InputSize > 0 ? options.InputSize : 640;
    }

    private static (int, int) ProbeOutput(InferenceSession session, string inputName, string outputName, int width, int height)
    {
        var data = new float[3 * width * height];
        using var value = OrtValue.CreateTensorValueFromMemory(data, [1, 3, height, width]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [inputName], [value], [outputName]);
        var shape = results[0].GetTensorTypeAndShape().Shape;
        return shape.Length == 3 ? ((int)shape[1], (int)shape[2]) : (0, 0);
    }

    private static string Dims(int[] dims) => string.Join(", ", dims.Select(d => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : "?"));
}
