#!/usr/bin/env bash
# Runs one test filter N times in a row from a clean build, and says how many runs passed:
#   scripts/repeat-tests.sh FILTER N [PROJECT]
#   scripts/repeat-tests.sh "FullyQualifiedName~RedisFaultTests|FullyQualifiedName~SpoolDiskFullTests" 20
# PROJECT defaults to tests/Stream.Integration.Tests. The project (and what it references) is cleaned and built once in
# Release; each run then uses that build (--no-build). A run passes when every test the filter selects passes and at
# least one ran. Each run's log is kept in repeat-out/run-K.log (the failing ones are named at the end). Last line:
# "N passed, M failed".
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ $# -lt 2 ]; then
  echo "usage: scripts/repeat-tests.sh FILTER N [PROJECT]" >&2
  exit 2
fi
filter="$1"
runs="$2"
project="${3:-tests/Stream.Integration.Tests}"
case "$runs" in ''|*[!0-9]*) echo "repeat-tests: N must be a whole number, got '$runs'" >&2; exit 2 ;; esac
out="$root/repeat-out"
mkdir -p "$out"

echo "[repeat] clean build of $project (Release)"
dotnet clean "$project" -c Release -v q >/dev/null 2>&1
if ! dotnet build "$project" -c Release -v q > "$out/build.log" 2>&1; then
  tail -20 "$out/build.log" >&2
  echo "repeat-tests: the build failed (see $out/build.log)" >&2
  exit 1
fi

passed=0
failed=0
failures=()
for k in $(seq 1 "$runs"); do
  start=$(date +%s)
  dotnet test "$project" -c Release --no-build --filter "$filter" --logger "console;verbosity=normal" > "$out/run-$k.log" 2>&1
  rc=$?
  total=$(grep -Eo 'Total tests: [0-9]+' "$out/run-$k.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  if [ "$rc" -eq 0 ] && [ "${total:-0}" -gt 0 ]; then
    passed=$((passed + 1)); verdict="passed"
  else
    failed=$((failed + 1)); verdict="FAILED"; failures+=("run-$k")
    grep -E '^\s+Failed ' "$out/run-$k.log" | sed 's/^/[repeat]   /' || true
  fi
  echo "[repeat] run $k/$runs: $verdict ($total tests, $(( $(date +%s) - start )) s)"
done

if ((${#failures[@]})); then
  echo "[repeat] failing runs: ${failures[*]} (logs in $out)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
