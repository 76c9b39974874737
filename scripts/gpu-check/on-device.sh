#!/usr/bin/env bash
# Runs ON the device machine (see README.md). Two verbs:
#   keep PART    moves a carried part into the kept folder (ignored paths stay on the machine while it is warm)
#   run [ARGS]   reassembles the kept parts, checks the checksum, points LD_LIBRARY_PATH at the CUDA libraries of the Python
#                environment's nvidia-* wheels and runs the bench; its output goes to $OUT/gpu-check.txt
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
keep=${GPU_CHECK_KEEP:-artifacts/gpu-check-kept}
mkdir -p "$keep"
keep=$(realpath "$keep")
case "${1:-}" in
keep)
    shift
    for part in "$@"; do
        mv -f "$part" "$keep/"
    done
    [ -f artifacts/gpu-check/parts/gpubench.tar.xz.sha256 ] && cp artifacts/gpu-check/parts/gpubench.tar.xz.sha256 "$keep/"
    ls -l "$keep"
    ;;
run)
    shift
    work=${GPU_CHECK_WORK:-/tmp/gpu-check}
    rm -rf "$work" && mkdir -p "$work"
    cat "$keep"/gpubench.tar.xz.part-* > "$work/gpubench.tar.xz"
    (cd "$work" && sha256sum -c "$keep/gpubench.tar.xz.sha256")
    tar -C "$work" -xJf "$work/gpubench.tar.xz"
    rm -f "$work/gpubench.tar.xz"

    # CUDA 13 user-space libraries (cudart, cuBLAS, cuDNN, ...) from the Python environment's nvidia-* wheels.
    libs=""
    if site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null); then
        libs=$(find "$site/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -)
    fi
    export LD_LIBRARY_PATH="${libs}${libs:+:}$work/gpubench${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # OpenCV's GTK/X11 dependencies: the packed copies only when the machine lacks some of them.
    if ldd "$work/gpubench/libOpenCvSharpExtern.so" | grep -q "not found"; then
        export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$work/gpubench/syslibs"
    fi
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    out=${OUT:-$work/out}
    mkdir -p "$out"
    {
        command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
        cd "$work/gpubench" && ./gpubench "$@"
    } 2>&1 | tee "$out/gpu-check.txt"
    ;;
*)
    echo "usage: $0 keep PART... | run [gpubench options]" >&2
    exit 2
    ;;
esac
