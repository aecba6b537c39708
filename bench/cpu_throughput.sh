#!/usr/bin/env bash
# The CPU engine against the plain scalar C loop and the NumPy baseline, in one run on this one
# machine (bench/cpu_throughput.py says what is measured): S = 48, 2,500, 40,000 and 10^6; d = 8
# and 32; K = 1 and 10; 1 thread and all; set-up time, peak RSS, memory per agent, and 1 vs all
# threads next to a busy process. Writes the markdown tables to $OUT (default
# bench/results/cpu_throughput.md) for bench/RESULTS.md.
#   bash bench/cpu_throughput.sh [--quick] [--reps R] [--sizes 48,2500,...] [--dims 8,32] [--steps N]
# --sizes 48,2500,40000 takes about 35 minutes on 2 cores, S = 10^6 far longer (the scalar loop
# sums into a dense [S, d] table every round); --quick (S = 48 and 40,000, d = 8, once) about 3.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
[ -x "$BUILD_DIR/pfedrl" ] && [ -x "$BUILD_DIR/pfr_scalar_loop" ] || bash scripts/build.sh > /dev/null
python3 -c "import numpy" 2>/dev/null || python3 -m pip install -q numpy
OUT="${OUT:-bench/results/cpu_throughput.md}"
mkdir -p "$(dirname "$OUT")"
python3 bench/cpu_throughput.py "$BUILD_DIR" "$OUT" "$@"
