#!/usr/bin/env bash
# Packs the GPU check's bench for a machine without .NET: a self-contained linux-x64 publish of GpuBench (GPU flavour of
# ONNX Runtime, whose CUDA provider library alone is ~284 MB) plus the dynamic-batch model and dog.jpg, as tar.xz split
# into parts under 60 MiB, because at most 64 MiB of files travel to the device machine per call.
# Output (ignored): artifacts/gpu-check/parts/gpubench.tar.xz.part-NN and gpubench.tar.xz.sha256.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=artifacts/gpu-check
part_size=${GPU_CHECK_PART_SIZE:-55M}
rm -rf "$out/parts" "$out/gpubench.tar.xz"
mkdir -p "$out/stage" "$out/parts"
rm -rf "$out/stage/gpubench"

dotnet publish scripts/gpu-check/GpuBench/GpuBench.csproj -c Release -r linux-x64 --self-contained \
    -p:OnnxRuntimeFlavor=Gpu -o "$out/stage/gpubench" -v q -nologo
cp models/yolox_nano_dynamic.onnx samples/dog.jpg "$out/stage/gpubench/"
# Symbols are not needed to run.
find "$out/stage/gpubench" -name '*.pdb' -delete
# OpenCV's native wrapper links GTK, X11 and image libraries the bare device machine may lack: carry this machine's
# copies (not glibc, libstdc++ or libgcc, which the device has); on-device.sh uses them only where the device lacks one.
mkdir -p "$out/stage/gpubench/syslibs"
ldd "$out/stage/gpubench/libOpenCvSharpExtern.so" | awk '/=> \// {print $3}' \
    | grep -vE '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+)\.so' \
    | xargs -r -I{} cp -L {} "$out/stage/gpubench/syslibs/"

# xz -1: within a few percent of -6 on these binaries, and many times faster on a loaded 2-core machine.
tar -C "$out/stage" -cf - gpubench | xz -T0 "-${GPU_CHECK_XZ_LEVEL:-1}" > "$out/gpubench.tar.xz"
(cd "$out" && sha256sum gpubench.tar.xz > parts/gpubench.tar.xz.sha256)
split -b "$part_size" -d -a 2 "$out/gpubench.tar.xz" "$out/parts/gpubench.tar.xz.part-"
rm -rf "$out/stage" "$out/gpubench.tar.xz"
ls -l "$out/parts"
echo "parts: $(ls "$out/parts" | grep -c part-) (each under 60 MiB); next: scripts/gpu-check/README.md"
