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

# The shared MOT sequences (../shared/mot, when present) as recordings a camera can play: each at its own 25 fps and
# at 7 fps (every 25/7th frame, as a low-rate street camera records), H.264 with a 2 s GOP. The 7 fps copies are what
# issue 23's recording tests and `stream eval alerts --events` runs use: at 7 fps people move far between frames, so
# anything that disturbs the tracker's sense of time shows at once.
mot="${STREAM_SHARED_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared}/mot"
mot_clip() { # sequence fps
  local name; name="$(echo "$1" | tr 'A-Z-' 'a-z_')_$2fps.mp4"
  [ -f "$out/$name" ] && return 0
  [ -d "$mot/$1/img1" ] || return 0
  ffmpeg -hide_banner -loglevel error -y -framerate 25 -i "$mot/$1/img1/%06d.jpg" -vf "fps=$2" \
    -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -g $(( $2 * 2 )) -bf 0 "$out/$name.part.mp4"
  mv "$out/$name.part.mp4" "$out/$name"
  echo "[setup] generated $out/$name"
}
for seq in TUD-Stadtmitte TUD-Campus; do mot_clip "$seq" 25; mot_clip "$seq" 7; done
