#!/usr/bin/env bash
# GET /api/v1/org/{org}/credits under wrk while the projector ingests usage (api/api_bench.cpp).
# Prints on stdout:
#   bench api_credits_req_per_s <int> req/s
#   bench api_credits_p50_ms <float> ms
#   bench api_credits_p99_ms <float> ms
#   (8 closed-loop connections: as many requests as 2 cores serve, queueing included), then the
#   same at the load of issue 19's target (p99 <= 1 ms at >= 20,000 req/s while the projector
#   ingests): 2 connections, medians of 3 runs, with the rate they reached (below 20,000 on a
#   slower machine: then the figure is not at the target's load, and says so by its rate):
#   bench api_credits_req_per_s_2conn, api_credits_p50_ms_2conn, api_credits_p99_ms_2conn
# (wrk's own report and the ingest rate go to stderr).
#
# Usage: api/bench_api.sh [api_bench options: --duration-s 10 --connections 8 --io-threads 2 ...]
# Environment: TALLY_BUILD_DIR (default: build) — the build tree; api_bench is built there if missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TALLY_BUILD_DIR:-$root/build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench_api.sh: wrk is not installed (apt-get install wrk)" >&2
  exit 1
fi
if [[ ! -x "$build/api/api_bench" ]]; then
  cmake --build "$build" --target api_bench -j"$(nproc)" >&2
fi
"$build/api/api_bench" "$@"
runs=""
for run in 1 2 3; do
  runs+=$("$build/api/api_bench" --connections 2 --duration-s 5 2>/dev/null)$'\n'
done
for figure in api_credits_req_per_s api_credits_p50_ms api_credits_p99_ms; do
  median=$(awk -v f="$figure" '$2 == f { print $3 }' <<<"$runs" | sort -g | sed -n 2p)
  unit=$(awk -v f="$figure" '$2 == f { print $4; exit }' <<<"$runs")
  echo "bench ${figure}_2conn $median $unit"
done
