#!/usr/bin/env bash
# Ingest over HTTP: batched POSTs of 1000 usage events with ?wait=1 on 8 connections against a
# `tally dev` started here (api/ingest_load_bench.cpp, the load client `http_ingest_load`), and the
# FlatBuffers verifications per event between HTTP and the fold (api/verify_passes_bench.cpp).
# Prints on stdout:
#   bench http_ingest_events_per_s <median of 3 runs> events/s
#   bench fold_verify_passes_per_event <n> passes/event      (1: only the fold verifies)
#
# Usage: api/bench_ingest.sh [http_ingest_load options: --requests 20 --runs 3 ...]
# Environment: TALLY_BUILD_DIR (default: build) — the build tree; the programs are built there if
#   missing. TALLY_BIN (default: $TALLY_BUILD_DIR/tally) — the tally binary to start: another
#   version's for a before/after comparison (the load client speaks only the public HTTP API).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TALLY_BUILD_DIR:-$root/build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
for target in tally http_ingest_load verify_passes_bench; do
  path="$build/$target"
  [[ "$target" == tally ]] || path="$build/api/$target"
  [[ -x "$path" ]] || cmake --build "$build" --target "$target" -j"$(nproc)" >&2
done
tally="${TALLY_BIN:-$build/tally}"
dir=$(mktemp -d)
dev_pid=""
cleanup() {
  [[ -n "$dev_pid" ]] && kill "$dev_pid" 2>/dev/null && wait "$dev_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
token="bench-ingest-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
"$tally" dev --data "$dir/d" --listen 127.0.0.1:0 --token "$token" --tick-interval-ms 0 >"$dir/dev.log" 2>&1 &
dev_pid=$!
deadline=$(( $(date +%s) + 60 ))
until grep -q '^listening on' "$dir/dev.log"; do
  kill -0 "$dev_pid" 2>/dev/null || { cat "$dir/dev.log" >&2; exit 1; }
  [[ "$(date +%s)" -le "$deadline" ]] || { echo "bench_ingest.sh: tally dev did not listen" >&2; exit 1; }
  sleep 0.1
done
url=$(grep -o 'http://[0-9.:]*' "$dir/dev.log" | head -1)
"$build/api/http_ingest_load" --url "$url" --token "$token" --connections 8 --batch 1000 --runs 3 "$@"
kill "$dev_pid" && wait "$dev_pid" || true
dev_pid=""
"$build/api/verify_passes_bench"
