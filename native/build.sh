#!/usr/bin/env bash
# Builds native/build/libstreamdec.so (the in-process file decoder over the system FFmpeg libraries) when its source
# is newer than the library. Needs gcc, pkg-config and Debian's libavformat-dev, libavcodec-dev, libavutil-dev,
# libswscale-dev (scripts/setup.sh installs them). dotnet build copies the library next to the assemblies.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build/libstreamdec.so"
sources=("$here/streamdec.c" "$here/streamclip.c")
fresh=1
for f in "${sources[@]}" "$here/streamdec.h" "$here/build.sh"; do
  [[ -f "$out" && "$out" -nt "$f" ]] || fresh=0
done
if [[ $fresh == 1 ]]; then
  exit 0
fi
mods="libavformat libavcodec libavutil libswscale"
if ! command -v gcc >/dev/null || ! command -v pkg-config >/dev/null || ! pkg-config --exists $mods; then
  echo "native/build.sh: gcc, pkg-config or the FFmpeg development packages are missing; install gcc pkg-config libavformat-dev libavcodec-dev libavutil-dev libswscale-dev (scripts/setup.sh does)" >&2
  exit 1
fi
mkdir -p "$here/build"
# shellcheck disable=SC2046
gcc -std=c11 -O2 -Wall -Wextra -Werror -pthread -fPIC -shared -fvisibility=hidden -o "$out.tmp" "${sources[@]}" \
  $(pkg-config --cflags --libs $mods)
mv "$out.tmp" "$out"
echo "native/build.sh: built $out"
