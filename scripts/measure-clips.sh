#!/bin/bash
# Issue 26's timeliness and correctness of event clips, seen as a consumer sees them: runs the 2-camera demo
# (config/demo.json) for SECONDS (default 180) once it answers, follows the web view's event stream (SSE), and for every track_ended
# asks for its clip (GET /api/events/{id}/clip.mp4, a 1-byte range) every 50 ms until it is served: the delay from the
# event reaching the consumer to the clip being fetchable, p50 / p99 / max. At the end every clip on disk is read by
# ffprobe (errors, first frame a keyframe), and the sink's own histogram (stream_sink_clip_delay) is printed.
#   scripts/measure-clips.sh [SECONDS]     (from the repository root, after a build)
set -euo pipefail
seconds="${1:-180}"
port=18086
clips="$(mktemp -d /tmp/stream-measure-clips-XXXXXX)"
log=/tmp/measure-clips-run.log
trap 'rm -rf "$clips"' EXIT
src/Stream.App/bin/Release/net10.0/stream run --config config/demo.json --set Status:Mode=off \
  --set Http:Urls=http://127.0.0.1:$port --set Sink:Redis:Configuration=127.0.0.1:1 --set Clips:Directory="$clips" > "$log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do curl -sf "localhost:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
metrics="$(mktemp)"
python3 - "$port" "$seconds" "$metrics" <<'EOF'
import json, sys, threading, time, urllib.request
port, seconds, metrics_file = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
base = f"http://127.0.0.1:{port}"
delays, missing, lock = [], [], threading.Lock()

def fetch(event_id, seen):
    deadline = seen + 10
    while time.monotonic() < deadline:
        req = urllib.request.Request(f"{base}/api/events/{event_id}/clip.mp4", headers={"Range": "bytes=0-0"})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status in (200, 206):
                    with lock:
                        delays.append((time.monotonic() - seen) * 1000)
                    return
        except Exception:
            pass
        time.sleep(0.05)
    with lock:
        missing.append(event_id)

def follow():
    with urllib.request.urlopen(f"{base}/api/events/stream", timeout=seconds + 30) as stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            e = json.loads(line[5:])
            if e.get("kind") == "track_ended":
                threading.Thread(target=fetch, args=(e["id"], time.monotonic()), daemon=True).start()

threading.Thread(target=follow, daemon=True).start()
time.sleep(seconds)
time.sleep(11)  # the last fetches finish
with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
    open(metrics_file, "w").write(r.read().decode())
with lock:
    d = sorted(delays)
def q(p):
    return d[min(len(d) - 1, max(0, int(-(-p * len(d) // 1)) - 1))] if d else float("nan")
print(f"clip fetch after track_ended (consumer side, 50 ms polling): {len(d)} clips, p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, max {d[-1] if d else float('nan'):.0f} ms; {len(missing)} track_ended without a clip within 10 s")
EOF
echo "sink's histogram stream_sink_clip_delay (track_ended at the sink -> clip on disk):"
grep -E '^stream_sink_clip_delay_milliseconds_(bucket|count|sum)' "$metrics" | sed 's/^/  /' || echo "  (none)"
grep -E '^stream_sink_clip_failures_total' "$metrics" | sed 's/^/  failures: /' || true
kill -TERM $pid; wait $pid || true  # (a background job of a script ignores SIGINT)
bad=0; total=0; notkey=0
while IFS= read -r -d '' f; do
  total=$((total + 1))
  err="$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$f" 2>&1 >/dev/null | head -3 || true)"
  if [ -n "$err" ]; then bad=$((bad + 1)); echo "  ffprobe: $f: $err"; fi
  first="$(ffprobe -v error -select_streams v:0 -show_entries frame=key_frame -of csv=p=0 -read_intervals '%+#1' "$f" 2>/dev/null | head -1 || true)"
  if [ "${first%%,*}" != "1" ]; then notkey=$((notkey + 1)); fi
done < <(find "$clips" -name '*.mp4' -print0)
echo "clips on disk: $total; ffprobe errors in $bad; first frame not a keyframe in $notkey"
rm -f "$metrics"
