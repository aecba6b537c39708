#!/usr/bin/env bash
# cpu_kernels.sh — the CPU engine's kernels (cpu_kernel = avx512, avx2, per_agent, scalar) against the
# plain C loop (bench/scalar_loop.c) on one machine, runs interleaved loop, kernel 1, kernel 2, ...
# and repeated (this machine is shared and noisy), medians of agent-steps/s and each one's ratio to
# the loop's. Kernels this CPU lacks are left out, saying so. The figures of issue "Every CPU"
# (bench/RESULTS.md) come from here.
#   bash bench/cpu_kernels.sh REPS S K THREADS [d] [BUILD_DIR]
# S = 48: the cliff walk (4 types); else the bench grid world of bench/cpu_ab.sh, sqrt(S) on a side.
# N = 4096, 10^8 agent-steps a pfedrl run (the loop: a fifth of that), orthonormalize off. Prints the
# CPU's vector flags first: a CPU figure means nothing without them. CPU_KERNELS="a b": only those.
set -euo pipefail
if [ $# -lt 4 ]; then
    sed -n 2,10p "$0" >&2
    exit 2
fi
REPS=$1 S=$2 K=$3 T=$4 D=${5:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${6:-$ROOT/build}
for b in pfedrl pfr_scalar_loop; do
    [ -x "$BUILD/$b" ] || { echo "cpu_kernels.sh: $BUILD/$b not built (BUILD_TARGETS=\"pfedrl_cli pfr_scalar_loop\" bash scripts/build.sh)" >&2; exit 2; }
done
source "$ROOT/bench/bench_env.sh"
bench_env "$S"
COMMON=(--set agents=4096 --set dim="$D" --set local_steps="$K" --set orthonormalize=false --set alpha=0.05 --set beta=0.02)
ROUNDS=$((100000000 / (4096 * K)))
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|fma|asimd|sve)$' | tr '\n' ' ')"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
KERNELS=()
for k in ${CPU_KERNELS:-avx512 avx2 portable per_agent scalar}; do # what this CPU can run (one round asks the library)
    if "$BUILD/pfedrl" run --force "$ROOT/examples/cliffwalk.yaml" --set rounds=1 --set agents=64 --set cpu_kernel=$k \
        --backend cpu --out "$TMP/probe" --quiet > /dev/null 2> "$TMP/probe.err"; then
        KERNELS+=("$k")
    else
        echo "left out: $(tail -1 "$TMP/probe.err")"
    fi
    rm -rf "$TMP/probe"
done
rate() { # kernel (or "loop") -> agent-steps/s of one run
    if [ "$1" = loop ]; then
        "$BUILD/pfr_scalar_loop" "$ROOT/examples/cliffwalk.yaml" "${ENV[@]}" "${COMMON[@]}" --rounds $((ROUNDS / 5)) \
            --threads "$T" | awk '{print $2}'
        return
    fi
    "$BUILD/pfedrl" run --force "$ROOT/examples/cliffwalk.yaml" "${ENV[@]}" "${COMMON[@]}" --set rounds="$ROUNDS" \
        --set eval_every=1000000000 --set cpu_kernel="$1" --backend cpu --threads "$T" --out "$TMP/o" --quiet > /dev/null
    python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['agent_steps_per_sec'])" "$TMP/o/summary.json"
    rm -rf "$TMP/o"
}
ARMS=(loop "${KERNELS[@]}")
for _ in $(seq "$REPS"); do
    for a in "${ARMS[@]}"; do
        echo "$a $(rate "$a")" >> "$TMP/rates"
    done
done
python3 - "S=$S K=$K threads=$T d=$D reps=$REPS" "$TMP/rates" "${ARMS[@]}" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[2]):
    arm, r = line.split()
    rates.setdefault(arm, []).append(float(r))
loop = statistics.median(rates['loop'])
print(sys.argv[1])
for arm in sys.argv[3:]:
    m = statistics.median(rates[arm])
    print('  %-10s %10.4g agent-steps/s  %5.2fx the loop   (%s)' % (arm, m, m / loop, ' '.join('%.3g' % x for x in rates[arm])))
PY
