#!/usr/bin/env bash
# core_purity_test ENGINE_DIR
# The fold core is pure (STYLE.md "functional core"): its sources may include only the standard
# library and the generated schema code. Fails, naming file and line, if any core source
#   - includes librdkafka, LMDB, Boost, curl, OpenSSL, <chrono>, <random>, <ctime>, <thread>,
#     <fstream>, <iostream> or <cstdio>;
#   - calls time(, rand( or clock (clock(), std::chrono clocks, clock_gettime, …).
# Core sources: the .cpp files of `add_library(tally_core …)` in ENGINE_DIR/CMakeLists.txt (or, if
# that cannot be read, every *.cpp except the JSON codec event_json.*, tests *_test.cpp and
# benches *_bench.cpp), and every ENGINE_DIR/*.h except the headers of the JSON codec outside the
# core (event_json.h and the headers of the other sources of `add_library(tally_codec …)`).
set -euo pipefail

if [[ $# -ne 1 || ! -d "$1" ]]; then
  echo "usage: $0 ENGINE_DIR" >&2
  exit 2
fi
engine_dir=$1

shopt -s nullglob
sources=()
# The .cpp files listed in add_library(tally_core ...), up to its closing parenthesis.
library_sources=$(sed -n '/add_library(tally_core/,/)/p' "$engine_dir/CMakeLists.txt" 2>/dev/null |
                  tr -s ' \t()' '\n' | grep -E '^[A-Za-z0-9_./-]+\.cpp$' || true)
if [[ -n "$library_sources" ]]; then
  while IFS= read -r name; do
    if [[ ! -f "$engine_dir/$name" ]]; then
      echo "core_purity_test: tally_core lists $name but $engine_dir/$name does not exist" >&2
      exit 2
    fi
    sources+=("$engine_dir/$name")
  done <<<"$library_sources"
else
  for file in "$engine_dir"/*.cpp; do
    case "$(basename "$file")" in
      event_json.*|*_test.cpp|*_bench.cpp) continue ;;
    esac
    sources+=("$file")
  done
fi
codec_sources=$(sed -n '/add_library(tally_codec/,/)/p' "$engine_dir/CMakeLists.txt" 2>/dev/null |
                tr -s ' \t()' '\n' | grep -E '^[A-Za-z0-9_./-]+\.cpp$' || true)
for file in "$engine_dir"/*.h; do
  name=$(basename "$file")
  case "$name" in
    event_json.*) continue ;;
  esac
  if grep -qxF "${name%.h}.cpp" <<<"$codec_sources"; then continue; fi
  sources+=("$file")
done
if [[ ${#sources[@]} -eq 0 ]]; then
  echo "core_purity_test: no core sources found in $engine_dir" >&2
  exit 2
fi

# Forbidden includes: any header under these libraries, or these standard headers.
include_pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]('
include_pattern+='librdkafka/|rdkafka|lmdb|boost/|curl/|openssl/'
include_pattern+='|chrono>|random>|ctime>|time\.h>|thread>|fstream>|iostream>|cstdio>|stdio\.h>'
include_pattern+=')'
# Forbidden calls: time( rand( srand( clock( and the clocks (steady_clock, system_clock, clock_gettime…).
# Comments are stripped first so a comment saying "no clock" does not trip the check.
call_pattern='(^|[^A-Za-z0-9_.>])(s?rand|time|clock)[[:space:]]*\(|\b(steady|system|high_resolution|utc|tai|gps|file)_clock\b|\bclock_gettime\b|\bgettimeofday\b'

found=0
for file in "${sources[@]}"; do
  if hits=$(grep -nE "$include_pattern" "$file"); then
    while IFS= read -r hit; do
      echo "core_purity_test: forbidden include in $file:$hit"
    done <<<"$hits"
    found=1
  fi
  # Strip // comments and /* */ comments on one line, keep line numbers.
  if hits=$(sed -E 's#//.*$##; s#/\*.*\*/##g' "$file" | grep -nE "$call_pattern"); then
    while IFS= read -r hit; do
      echo "core_purity_test: forbidden call in $file:$hit"
    done <<<"$hits"
    found=1
  fi
done

if [[ $found -ne 0 ]]; then
  echo "core_purity_test: FAILED: the fold core must not touch clocks, randomness, I/O or outside libraries"
  exit 1
fi
echo "core_purity_test: ${#sources[@]} core sources clean"
