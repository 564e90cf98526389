#!/usr/bin/env bash
# run_fuzz.sh TARGET CORPUS SECONDS ARTIFACT_DIR: runs a libFuzzer target for SECONDS on a scratch
# copy of CORPUS (the committed corpus never grows). A crash leaves its input in ARTIFACT_DIR and
# fails. The last lines are libFuzzer's final stats (stat::number_of_executed_units, ...).
set -euo pipefail
target="$1" corpus="$2" seconds="$3" artifacts="$4"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp -r "$corpus"/. "$scratch"/
mkdir -p "$artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$scratch"
