#!/usr/bin/env bash
# cpu_ab.sh — two pfedrl binaries (say, two commits' builds) timed against each other on the CPU
# engine, runs interleaved A, B, A, B ... (this machine is shared and noisy), medians of
# agent-steps/s. The A/B figures of bench/RESULTS.md come from here.
#   bash bench/cpu_ab.sh A B REPS S K THREADS [d]
# S = 48: the cliff walk (4 types); else the bench grid world of bench/cpu_throughput.py, sqrt(S) on
# a side (16 types, 4 goals, walls 0.2, 16 starts, wind per type). N = 4096, 10^8 agent-steps a run,
# orthonormalize off.
set -euo pipefail
if [ $# -lt 6 ]; then
    sed -n 2,9p "$0" >&2
    exit 2
fi
A=$1 B=$2 REPS=$3 S=$4 K=$5 T=$6 D=${7:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/bench_env.sh"
bench_env "$S"
ROUNDS=$((100000000 / (4096 * K)))
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rate() { # binary -> agent-steps/s of one run
    "$1" run --force "$ROOT/examples/cliffwalk.yaml" "${ENV[@]}" --set agents=4096 --set dim="$D" --set local_steps="$K" \
        --set rounds="$ROUNDS" --set eval_every=1000000000 --set orthonormalize=false --set alpha=0.05 \
        --set beta=0.02 --backend cpu --threads "$T" --out "$TMP/o" --quiet > /dev/null
    python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['agent_steps_per_sec'])" "$TMP/o/summary.json"
    rm -rf "$TMP/o"
}
ra=() rb=()
for _ in $(seq "$REPS"); do
    ra+=("$(rate "$A")")
    rb+=("$(rate "$B")")
done
python3 - "S=$S K=$K threads=$T d=$D" "${ra[*]}" "${rb[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[2].split()]
b = [float(x) for x in sys.argv[3].split()]
ma, mb = statistics.median(a), statistics.median(b)
print('%s: A %.4g  B %.4g  A/B %.3f   (A %s | B %s)' % (sys.argv[1], ma, mb, ma / mb,
      ' '.join('%.3g' % x for x in a), ' '.join('%.3g' % x for x in b)))
PY
