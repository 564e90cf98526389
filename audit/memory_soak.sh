#!/usr/bin/env bash
# The memory soak (ctest label soak, not in the default run): replays a long many-orgs journal
# (10,000 orgs x 5 members, >= 20M events) once and prints the projector's anonymous memory when
# the committed records hold 5M, 10M and 20M distinct idempotency keys, and the ratio of the last
# to the first. Fails if that ratio is above TALLY_SOAK_MAX_RATIO (issue 19: memory must not grow
# with the life of the ledger; flat within 2x).
# Usage: memory_soak.sh <replay_bench binary>
# Environment (all optional):
#   TALLY_SOAK_EVENTS       events to generate (default 22000000: about 21M distinct keys)
#   TALLY_SOAK_CURVE_KEYS   distinct keys to sample at (default 5000000,10000000,20000000)
#   TALLY_SOAK_MAX_RATIO    the most the memory may grow from the first to the last (default 2)
#   TALLY_SOAK_DIR          where the journal and the views go (default /tmp)
#   TALLY_SOAK_KEEP_JOURNAL 1: keep the journal for the next run (it takes ~360 bytes an event)
# Disk: about 1,100 bytes an event (journal and views, today); checked before anything is made.
set -euo pipefail
bench=${1:?usage: memory_soak.sh <replay_bench binary>}
events=${TALLY_SOAK_EVENTS:-22000000}
curve=${TALLY_SOAK_CURVE_KEYS:-5000000,10000000,20000000}
max_ratio=${TALLY_SOAK_MAX_RATIO:-2}
dir=${TALLY_SOAK_DIR:-/tmp}
journal="$dir/tally-soak-journal-many-orgs-$events"
views="$dir/tally-soak-views-$$"
bytes_per_event=1100

if [ ! -e "$journal/bench-complete" ]; then
  free_bytes=$(( $(df --output=avail -k "$dir" | tail -1) * 1024 ))
  need_bytes=$(( events * bytes_per_event ))
  if [ "$free_bytes" -lt "$need_bytes" ]; then
    echo "memory_soak: $dir has $((free_bytes >> 30)) GiB free; $events events need about $((need_bytes >> 30)) GiB" \
         "(TALLY_SOAK_DIR elsewhere, or fewer TALLY_SOAK_EVENTS with smaller TALLY_SOAK_CURVE_KEYS)" >&2
    exit 1
  fi
fi
cleanup() {
  rm -rf "$views"
  if [ "${TALLY_SOAK_KEEP_JOURNAL:-0}" != 1 ]; then rm -rf "$journal"; fi
}
trap cleanup EXIT
echo "memory_soak: $events events, keys $curve, max ratio $max_ratio, journal $journal"
"$bench" --workload many-orgs --events "$events" --journal "$journal" --into "$views" --runs 1 \
  --curve-keys "$curve" --max-ratio "$max_ratio"
