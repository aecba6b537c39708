#!/usr/bin/env bash
# Build the libFuzzer harnesses of tests/fuzz/ (the .npy reader, the YAML loader, pfr_config_set)
# with clang under AddressSanitizer and UndefinedBehaviorSanitizer, and run each for SECONDS
# (default 10) on a copy of its seed corpus (tests/fuzz/corpus/). A crash, a sanitizer report or a
# broken invariant fails with the fuzzer's log. Without clang it says so and does nothing.
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
if ! command -v clang > /dev/null 2>&1; then
  echo "fuzz: clang not found; the fuzz smoke run is skipped"
  exit 0
fi
B="${FUZZ_BUILD_DIR:-build-fuzz}"
log=$(mktemp)
CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DPFR_FUZZ=ON > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build "$B" -j "$(nproc)" > "$log" 2>&1 || { tail -40 "$log"; exit 1; }
rm -f "$log"
for h in npy yaml config_set; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"$h"/* "$work"/
  if ! "$B/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 "$work" > "$B/fuzz_$h.log" 2>&1; then
    echo "fuzz_$h FAILED:"; tail -60 "$B/fuzz_$h.log"; rm -rf "$work"; exit 1
  fi
  echo "fuzz_$h: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$B/fuzz_$h.log" | tail -1)s, no crash (seed corpus of $(ls tests/fuzz/corpus/$h | wc -l))"
  rm -rf "$work"
done
