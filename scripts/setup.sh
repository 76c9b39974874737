#!/usr/bin/env bash
# One-time (idempotent) setup of a fresh Debian 12 machine for Stream:
#   1. Debian packages (OpenCV's GTK dependency, ffmpeg and its libraries' headers, redis-server, kcat, GStreamer RTSP
#      server for test cameras, chromium + chromium-driver for the web page's browser tests, prometheus for the
#      dashboard test)
#   2. build native/build/libstreamdec.so (the in-process file decoder), restore and build the solution (Release)
#   3. the YOLOX-Nano model under models/ (copied from ../shared/models, else downloaded and checked)
#   4. sample media under samples/ (copied from ../shared/media, else generated) and the test clips
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
shared="${STREAM_SHARED_DIR:-$root/../shared}"
build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "setup: unknown argument '$arg' (known: --no-build)" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# ---- 1. Debian packages ------------------------------------------------------------------------------------
packages=(libgtk-3-0 ffmpeg redis-server redis-tools kcat python3-gi gir1.2-gst-rtsp-server-1.0
          gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
          gstreamer1.0-plugins-ugly gstreamer1.0-libav docker-compose curl ca-certificates
          gcc libc6-dev pkg-config libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
          chromium chromium-driver prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get could not install ${missing[*]}; check the Debian mirror and run scripts/setup.sh again"
else
  log "Debian packages present"
fi
# The demo run caches frames in a Redis on localhost:6379; start one when none answers (containers have no systemd).
# The tests start their own servers on free ports and do not need it.
if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null && log "started redis-server on 127.0.0.1:6379"
fi

# ---- 2. model --------------------------------------------------------------------------------------------
mkdir -p models
model_url="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx"
model_size=3659407
model_sha=(4903c9058f6e2553834e9905be1ae5d67e262cb6321964dbc57a49edc6fa10da c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d)
check_model() { # file -> 0 when size and sha256 match the published model
  [ -f "$1" ] || return 1
  [ "$(stat -c %s "$1")" -eq "$model_size" ] || return 1
  local sum; sum="$(sha256sum "$1" | cut -d' ' -f1)"
  for s in "${model_sha[@]}"; do [ "$sum" = "$s" ] && return 0; done
  return 1
}
if check_model models/yolox_nano.onnx; then
  log "model present: models/yolox_nano.onnx"
elif [ -f "$shared/models/yolox_nano.onnx" ]; then
  cp "$shared/models/yolox_nano.onnx" models/
  check_model models/yolox_nano.onnx || die "$shared/models/yolox_nano.onnx has the wrong size or sha256; replace it with the YOLOX 0.1.1rc0 release asset"
  log "model copied from $shared/models"
else
  log "downloading $model_url"
  curl -fsSL --retry 3 -o models/yolox_nano.onnx.part "$model_url" \
    || die "cannot download the model (offline?): put yolox_nano.onnx into ../shared/models or models/ and run scripts/setup.sh again"
  mv models/yolox_nano.onnx.part models/yolox_nano.onnx
  check_model models/yolox_nano.onnx || die "downloaded model has the wrong size or sha256; delete models/yolox_nano.onnx and retry"
fi
# The dynamic-batch variant has no public release of its own; it is used when present and skipped otherwise.
if [ -f "$shared/models/yolox_nano_dynamic.onnx" ] && ! cmp -s "$shared/models/yolox_nano_dynamic.onnx" models/yolox_nano_dynamic.onnx; then
  cp "$shared/models/yolox_nano_dynamic.onnx" models/
  log "dynamic-batch model copied from $shared/models"
fi

# ---- 3. sample media ----------------------------------------------------------------------------------------
mkdir -p samples
for f in dog.jpg dog_pan_960p.mp4 outdoor_person_bicycle_car.mp4 indoor_people_one_by_one.mp4 parking_lot_cars_sparse.mp4; do
  if [ ! -f "samples/$f" ] && [ -f "$shared/media/$f" ]; then cp "$shared/media/$f" samples/; log "copied samples/$f"; fi
done
if [ ! -f samples/dog_pan_960p.mp4 ]; then
  log "no shared media: generating samples/dog_pan_960p.mp4 with ffmpeg"
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1280x960:rate=25:duration=10" \
    -c:v libx264 -pix_fmt yuv420p -g 25 samples/dog_pan_960p.mp4
fi
bash "$root/scripts/make-test-media.sh" "$root/samples"

# ---- 4. build -----------------------------------------------------------------------------------------------
if ((build)); then
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  bash "$root/native/build.sh" || die "native/build.sh failed (errors above); files would fall back to the slower ffmpeg pipe"
  log "restoring and building (Release)"
  dotnet build "$root/Streaming.sln" -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null \
    || { dotnet build "$root/Streaming.sln" -c Release -nologo -v quiet -clp:ErrorsOnly; die "build failed (errors above)"; }
fi
log "ready"
