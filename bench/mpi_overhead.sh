#!/usr/bin/env bash
# bench/mpi_overhead.sh MPI_PFEDRL — what the exchange over MPI ranks costs a round on this machine
# (docs/DESIGN.md §13): the same run as one process with 2 threads and as 2 ranks of 1 thread each
# (mpirun, the same two cores), interleaved, three times each, medians of agent-steps/s (round time:
# evaluations out, the exchange in; rank 0's clock, which waits for the other rank in every
# collective). Points: the cliff walk (S = 48: every row in every block's parts) and the bench grid
# world at 200 x 200 (S = 40,000: sparse parts), N = 16,384, K = 10, d = 8, pfedtd_rep, no
# orthonormalization. Prints a markdown table for bench/RESULTS.md.
set -euo pipefail
P=${1:?usage: bench/mpi_overhead.sh MPI_PFEDRL (a build with -DPFR_MPI=ON)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
cd "$(dirname "$0")/.."
W=$(mktemp -d /tmp/pfedrl_mpi_bench_XXXXXX)
trap 'rm -rf "$W"' EXIT
P=$(readlink -f "$P")
P1=$(dirname "$P")/pfedrl
[ -x "$P1" ] || P1=$P
BASE=(--set agents=16384 --set local_steps=10 --set dim=8 --set eval_every=1000000 --set orthonormalize=false -q)
"$P" bench --show-config grid_1e4 > "$W/grid.yaml"
rate() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['agent_steps_per_sec'])" "$1/summary.json"; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(mpirun --version | head -1)"
echo "command: bash bench/mpi_overhead.sh $1"
echo
echo "| point | one process, 2 threads | 2 ranks x 1 thread | ranks / process |"
echo "|---|---:|---:|---:|"
for point in cliff grid200; do
  if [ $point = cliff ]; then cfg=(run examples/cliffwalk.yaml --set rounds=400); else
    cfg=(run "$W/grid.yaml" --set env.width=200 --set env.height=200 --set rounds=60); fi
  one=(); two=()
  for rep in 1 2 3; do
    rm -rf "$W/o" "$W/t"
    "$P" "${cfg[@]}" "${BASE[@]}" --set threads=2 -o "$W/o" > /dev/null
    one+=("$(rate "$W/o")")
    mpirun --oversubscribe -np 2 "$P" "${cfg[@]}" "${BASE[@]}" --set threads=1 -o "$W/t" > /dev/null
    two+=("$(rate "$W/t")")
  done
  python3 - "$point" "${one[*]}" "${two[*]}" <<'PY'
import statistics, sys
a = statistics.median(map(float, sys.argv[2].split())); b = statistics.median(map(float, sys.argv[3].split()))
print(f"| {sys.argv[1]} | {a:.4g} | {b:.4g} | {b / a:.3f} |")
PY
done
