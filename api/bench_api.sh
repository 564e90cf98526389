#!/usr/bin/env bash
# GET /api/v1/org/{org}/credits under wrk while the projector ingests usage (api/api_bench.cpp).
# Prints on stdout:
#   bench api_credits_req_per_s <int> req/s
#   bench api_credits_p50_ms <float> ms
#   bench api_credits_p99_ms <float> ms
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
exec "$build/api/api_bench" "$@"
