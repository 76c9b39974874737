#!/bin/bash
# What one viewer of the web page costs with the 2-camera demo: CPU of the stream process and the web view's own
# instruments (stream_web_pictures, stream_web_render_duration) with no viewer, then with one page viewer (both tiles
# polled every 0.4 s with boxes, stats every second, as the page does), twice. Run from the repository root after a build.
port=18085
src/Stream.App/bin/Release/net10.0/stream run --config config/demo.json --set Cameras:0:Url=samples/outdoor_person_bicycle_car.mp4 --set Cameras:1:Url=samples/indoor_people_one_by_one.mp4 --set Status:Mode=off --set Http:Urls=http://127.0.0.1:$port --set Sink:Redis:Configuration=127.0.0.1:1 > /tmp/measure3-run.log 2>&1 &
pid=$!
sleep 20
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
m() { curl -s localhost:$port/metrics | awk -v n="$1" '$1 ~ "^"n {s+=$2} END {printf "%.3f", s}'; }
hz=$(getconf CLK_TCK)
phase() {
  local c0=$(cpu) t0=$(date +%s.%N) r0=$(m stream_web_render_duration_milliseconds_sum) n0=$(m stream_web_render_duration_milliseconds_count) p0=$(m stream_web_pictures_total) pids=()
  if [ "$3" = 1 ]; then
    ( end=$(( $(date +%s) + $2 )); while [ $(date +%s) -lt $end ]; do for c in outdoor indoor; do curl -s -o /dev/null "localhost:$port/api/cameras/$c/latest.jpg?boxes=1"; done; sleep 0.4; done ) & pids+=($!)
    ( end=$(( $(date +%s) + $2 )); while [ $(date +%s) -lt $end ]; do curl -s -o /dev/null localhost:$port/api/view/cameras; sleep 1; done ) & pids+=($!)
  fi
  sleep $2; [ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
  local c1=$(cpu) t1=$(date +%s.%N) r1=$(m stream_web_render_duration_milliseconds_sum) n1=$(m stream_web_render_duration_milliseconds_count) p1=$(m stream_web_pictures_total)
  python3 -c "
w=$t1-$t0
print('$1: process cpu %.3f cores; web: %.1f pictures/s copied, %.1f encodes/s, %.2f ms each, %.1f ms of CPU per second; load %s' % (($c1-$c0)/$hz/w, ($p1-$p0)/w, ($n1-$n0)/w, ($r1-$r0)/max(1,$n1-$n0), ($r1-$r0)/w, open('/proc/loadavg').read().split()[0]))"
}
phase "no viewer" 30 0
phase "one viewer" 30 1
phase "no viewer" 30 0
phase "one viewer" 30 1
kill -INT $pid; wait $pid
