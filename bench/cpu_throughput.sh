#!/usr/bin/env bash
# CPU throughput of pfedrl against the NumPy baseline, both measured in this one run on this one
# machine: cliff walking (4 types), d=8, K=10, N=4096, all cores. Prints the machine, both
# figures and their ratio. Usage: bench/cpu_throughput.sh [extra --set options for pfedrl]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
[ -x "$BUILD_DIR/pfedrl" ] || bash scripts/build.sh >/dev/null
PFEDRL="$BUILD_DIR/pfedrl"
python3 -c "import numpy" 2>/dev/null || python3 -m pip install -q numpy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
N=${N:-4096}; D=${D:-8}; K=${K:-10}; ROUNDS=${ROUNDS:-300}; REPS=${REPS:-3}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "date: $(date -u +%Y-%m-%d)"
"$PFEDRL" export examples/cliffwalk.yaml --out "$tmp/env" -q

best=0
for i in $(seq "$REPS"); do
  "$PFEDRL" run examples/cliffwalk.yaml --set agents="$N" --set dim="$D" --set local_steps="$K" \
      --set rounds="$ROUNDS" --set eval_every=100000 --set orthonormalize=false "$@" --out "$tmp/run" -q >/dev/null
  r=$(python3 -c "import json;print(json.load(open('$tmp/run/summary.json'))['agent_steps_per_sec'])")
  best=$(python3 -c "print(max($best, $r))")
done
echo "pfedrl cpu engine: $(printf '%.3g' "$best") agent-steps/s (best of $REPS; N=$N d=$D K=$K rounds=$ROUNDS, pfedtd_rep, $(nproc) threads)"
np_line=$(python3 bench/numpy_baseline.py "$tmp/env" --agents "$N" --dim "$D" --local-steps "$K" --rounds 20)
echo "$np_line"
np=$(echo "$np_line" | awk '{print $2}')
echo "ratio: $(python3 -c "print(f'{$best/$np:.1f}')")x"
