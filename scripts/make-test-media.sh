#!/usr/bin/env bash
# Generates the H.264 clips the tests and benchmarks use (idempotent):
#   samples/test_720p.mp4  10 s, 1280x720, 25 fps (benchmarks)
#   samples/test_360p.mp4   5 s,  640x360, 25 fps, 1 s GOP, no B-frames (RTSP test server and file-source tests; loopable)
set -euo pipefail
out="${1:?usage: make-test-media.sh OUTDIR}"
mkdir -p "$out"
gen() { # name size seconds
  [ -f "$out/$1" ] && return 0
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=$2:rate=25:duration=$3" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 25 -bf 0 "$out/$1.part.mp4"
  mv "$out/$1.part.mp4" "$out/$1"
  echo "[setup] generated $out/$1"
}
gen test_720p.mp4 1280x720 10
gen test_360p.mp4 640x360 5
