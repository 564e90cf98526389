#!/usr/bin/env bash
# Ingest over HTTP: batched POSTs of 1000 usage events with ?wait=1 on 8 connections against a
# `tally dev` started here (api/ingest_load_bench.cpp, the load client `http_ingest_load`), and the
# FlatBuffers verifications per event between HTTP and the fold (api/verify_passes_bench.cpp).
# Then single requests, one at a time per keep-alive connection, at 1 and at 32 connections: a
# plain usage event with ?wait=1 (appended durably, folded, committed, answered) and, as the
# baseline measured in the same run, GET /healthz (the HTTP round trip alone: no route can beat it).
# Prints on stdout:
#   bench http_ingest_events_per_s <median of 3 runs> events/s
#   bench wait_roundtrip_{p50_ms,p99_ms,req_per_s}[_32] and healthz_roundtrip_…[_32] (medians of 3)
#   bench wait_vs_healthz_req_ratio[_32]: the ?wait=1 rate over the /healthz rate
#   bench journal_commit_appends_per_s[_32], journal_commit_{p50,p99}_ms: durable one-record
#     appends of the journal alone on this disk, from 1 and 32 threads (log_bench --only commits)
#   bench wait_vs_journal_commit_ratio[_32]: the ?wait=1 rate over the journal's alone
#   bench wait_roundtrip_32_ceiling_req_per_s: the lower of the two rates no ?wait=1 can pass at
#     32 clients (the journal's group commits, GET /healthz); wait_roundtrip_floor_{p50,p99}_ms:
#     one durable journal commit, the least a lone ?wait=1 can take. Targets (issue 15: >= 10,000 req/s at 32
#     clients, p99 <= 5 ms, lone p50 <= 1 ms) are out of reach where these say so.
#   bench hold_place_{p50_ms,p99_ms,per_s}[_32], hold_pair_{p50_ms,p99_ms}[_32]: holds at 1 and 32
#     connections, each iteration a place (POST .../credits/holds) and its capture (a usage event
#     naming the hold, final, ?wait=1), both durable, in orgs funded by a signup allocation; the
#     figures time the place, hold_pair_… the pair (--roundtrip hold)
#   bench hold_vs_wait_req_ratio[_32]: the hold rate over the ?wait=1 rate of the same run;
#     bench hold_place_ceiling_per_s_32: half the ?wait=1 ceiling (each iteration is two durable
#     requests on its connection); the lone place's floor is wait_roundtrip_floor_{p50,p99}_ms
#   bench hold_place_{per_s,p50_ms}_32_{noflush,log_noflush,views_noflush}: the 32-client holds
#     again with the journal and the views in memory (/dev/shm: no device flush), only the journal
#     there, only the views there; hold_place_durable_vs_<variant>_ratio_32: the durable rate over
#     each. Not configurations (nothing is durable there) but the decomposition of the durable
#     figure: the CPU ceiling of the path on this machine, and what each store's flushes cost it.
#   bench fold_verify_passes_per_event <n> passes/event      (1: only the fold verifies)
#
# Usage: api/bench_ingest.sh [http_ingest_load options: --requests 20 --runs 3 ...]
# TALLY_BENCH_ROUNDTRIP_ONLY=1: only the single-request figures. TALLY_BENCH_SECONDS: seconds per
#   round-trip run (default 3).
# Environment: TALLY_BUILD_DIR (default: build) — the build tree; the programs are built there if
#   missing. TALLY_BIN (default: $TALLY_BUILD_DIR/tally) — the tally binary to start: another
#   version's for a before/after comparison (the load client speaks only the public HTTP API).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TALLY_BUILD_DIR:-$root/build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
for target in tally http_ingest_load verify_passes_bench log_bench; do
  path="$build/$target"
  [[ "$target" == tally ]] || path="$build/api/$target"
  [[ "$target" != log_bench ]] || path="$build/log/$target"
  [[ -x "$path" ]] || cmake --build "$build" --target "$target" -j"$(nproc)" >&2
done
tally="${TALLY_BIN:-$build/tally}"
dir=$(mktemp -d)
# Memory-backed scratch for the flush decomposition (below); empty when the machine has none.
shm=""
if [[ -d /dev/shm && -w /dev/shm ]]; then shm=$(mktemp -d /dev/shm/tally-bench.XXXXXX); fi
dev_pid=""
cleanup() {
  [[ -n "$dev_pid" ]] && kill "$dev_pid" 2>/dev/null && wait "$dev_pid" 2>/dev/null || true
  rm -rf "$dir"
  [[ -z "$shm" ]] || rm -rf "$shm"
}
trap cleanup EXIT
token="bench-ingest-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
# start_dev NAME [tally dev options]: a `tally dev` logging to $dir/NAME.log; sets dev_pid and url.
start_dev() {
  local name="$1"
  shift
  "$tally" dev "$@" --listen 127.0.0.1:0 --token "$token" --tick-interval-ms 0 >"$dir/$name.log" 2>&1 &
  dev_pid=$!
  local deadline=$(( $(date +%s) + 60 ))
  until grep -q '^listening on' "$dir/$name.log"; do
    kill -0 "$dev_pid" 2>/dev/null || { cat "$dir/$name.log" >&2; exit 1; }
    [[ "$(date +%s)" -le "$deadline" ]] || { echo "bench_ingest.sh: tally dev did not listen" >&2; exit 1; }
    sleep 0.1
  done
  url=$(grep -o 'http://[0-9.:]*' "$dir/$name.log" | head -1)
}
stop_dev() {
  kill "$dev_pid" && wait "$dev_pid" || true
  dev_pid=""
}
start_dev dev --data "$dir/d"
load="$build/api/http_ingest_load"
if [[ "${TALLY_BENCH_ROUNDTRIP_ONLY:-0}" != 1 ]]; then
  "$load" --url "$url" --token "$token" --connections 8 --batch 1000 --runs 3 "$@"
fi
seconds="${TALLY_BENCH_SECONDS:-3}"
figure() { awk -v n="$1" '$2 == n {print $3}' <<<"$2"; }
for clients in 1 32; do
  label=""
  [[ "$clients" == 1 ]] || label="$clients"
  # The journal alone, same disk, just before: durable one-record appends from as many threads.
  commits=$("$build/log/log_bench" --only commits --threads "$clients" --seconds "$seconds" 2>/dev/null)
  printf '%s\n' "$commits"
  if [[ "$clients" == 1 ]]; then
    floor_p50=$(figure journal_commit_p50_ms "$commits")
    floor_p99=$(figure journal_commit_p99_ms "$commits")
  fi
  rt=(--url "$url" --token "$token" --connections "$clients" --runs 3 --seconds "$seconds" --label "$label")
  wait_out=$("$load" "${rt[@]}" --roundtrip wait)
  health_out=$("$load" "${rt[@]}" --roundtrip healthz)
  hold_out=$("$load" "${rt[@]}" --roundtrip hold)
  printf '%s\n%s\n%s\n' "$wait_out" "$health_out" "$hold_out"
  wait_rate=$(awk '$2 ~ /req_per_s/ {print $3}' <<<"$wait_out")
  health_rate=$(awk '$2 ~ /req_per_s/ {print $3}' <<<"$health_out")
  hold_rate=$(figure "hold_place_per_s${label:+_$label}" "$hold_out")
  journal_rate=$(figure "journal_commit_appends_per_s${label:+_$label}" "$commits")
  awk -v w="$wait_rate" -v h="$health_rate" -v j="$journal_rate" -v p="$hold_rate" -v l="${label:+_$label}" 'BEGIN {
    printf "bench wait_vs_healthz_req_ratio%s %.3f ratio\n", l, (h > 0 ? w / h : 0)
    printf "bench wait_vs_journal_commit_ratio%s %.3f ratio\n", l, (j > 0 ? w / j : 0)
    printf "bench hold_vs_wait_req_ratio%s %.3f ratio\n", l, (w > 0 ? p / w : 0)
    if (l != "") printf "bench wait_roundtrip%s_ceiling_req_per_s %.0f req/s\n", l, (j < h ? j : h)
    if (l != "") printf "bench hold_place_ceiling_per_s%s %.0f holds/s\n", l, (j < h ? j : h) / 2
  }'
done
echo "bench wait_roundtrip_floor_p50_ms $floor_p50 ms"
echo "bench wait_roundtrip_floor_p99_ms $floor_p99 ms"
stop_dev
# Where the 32-client hold time goes: the same hold round trips against a `tally dev` whose
# journal, views or both live in memory (/dev/shm), so that their device flushes cost nothing.
# Durability is off in those runs: they are ceilings, not configurations. `_noflush` (both in
# memory) is what the path costs in CPU alone on this machine; `_log_noflush` keeps the views'
# durable commits, `_views_noflush` the journal's.
if [[ -n "$shm" ]]; then
  for variant in noflush log_noflush views_noflush; do
    case "$variant" in
      noflush) start_dev "$variant" --data "$shm/$variant" ;;
      log_noflush) start_dev "$variant" --data "$dir/$variant" --journal "$shm/$variant-journal" ;;
      views_noflush) start_dev "$variant" --data "$shm/$variant" --journal "$dir/$variant-journal" ;;
    esac
    out=$("$load" --url "$url" --token "$token" --connections 32 --runs 3 --seconds "$seconds" --label 32 --roundtrip hold)
    printf '%s\n' "$out" | grep '^#' || true
    rate=$(figure hold_place_per_s_32 "$out")
    echo "bench hold_place_per_s_32_$variant $rate holds/s"
    echo "bench hold_place_p50_ms_32_$variant $(figure hold_place_p50_ms_32 "$out") ms"
    awk -v d="$hold_rate" -v r="$rate" -v v="$variant" \
      'BEGIN { printf "bench hold_place_durable_vs_%s_ratio_32 %.3f ratio\n", v, (r > 0 ? d / r : 0) }'
    stop_dev
  done
fi
[[ "${TALLY_BENCH_ROUNDTRIP_ONLY:-0}" == 1 ]] || "$build/api/verify_passes_bench"
