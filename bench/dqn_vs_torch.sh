#!/usr/bin/env bash
# The neural instance's CPU engine against the same agents batched in PyTorch (bench/torch_dqn.py):
# agent-steps/s with learning (one CartPole step and one gradient step a step; 4 -> 64 -> 16, batch
# 16, Adam), N = 1, 256, 4096, both on the same threads, alternated REPS times, medians. PyTorch
# three ways (bench/torch_dqn.py --mode): grouped bmm, the same under torch.compile, torch.func.vmap.
# usage: bench/dqn_vs_torch.sh [PYTHON_WITH_TORCH] [REPS] [THREADS] [MODES] [POINTS]
#   (issue 28: target >= 3x PyTorch; MODES default "bmm compile vmap"; the ratio is to the fastest;
#   POINTS default "1:6:200 256:4:200 4096:2:60", each N:engine rounds:torch steps)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"; REPS="${2:-3}"; T="${3:-2}"; MODES=(${4:-bmm compile vmap}); POINTS="${5:-1:6:200 256:4:200 4096:2:60}"
PFEDRL="${PFEDRL:-build/pfedrl}"
"$PY" -c "import torch" 2>/dev/null || { echo "dqn_vs_torch.sh: $PY has no torch (pip install torch)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'env:\n  kind: cartpole\nalgorithm: pfeddqn_rep\n' > "$tmp/cp.yaml"
engine() { # N rounds: agent_steps_per_sec (the first round and evaluations not counted)
  rm -rf "$tmp/run"
  "$PFEDRL" run "$tmp/cp.yaml" -q --set agents=$1 --set rounds=$2 --set local_steps=100 --set dim=16 \
    --set eval_every=1000000 --set dqn.learn_start=16 --set dqn.eval_episodes=1 --set threads=$T --out "$tmp/run" >/dev/null
  "$PY" -c "import json,sys;print(json.load(open(sys.argv[1]))['agent_steps_per_sec'])" "$tmp/run/summary.json"
}
torch_rate() { "$PY" bench/torch_dqn.py --agents $1 --steps $2 --warmup 20 --threads $T --mode $3 | awk '{print $2}'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
grep -m1 -o 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ' || true
echo "($(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs), $T threads, $(git describe --always --dirty))"
printf '%6s %12s' N engine; printf ' %12s' "${MODES[@]/#/torch_}"; printf ' %7s\n' ratio
for spec in $POINTS; do
  IFS=: read -r n rounds steps <<< "$spec"
  e=(); declare -A t=()
  for r in $(seq "$REPS"); do
    e+=("$(engine $n $rounds)")
    for m in "${MODES[@]}"; do t[$m]+="$(torch_rate $n $steps $m) "; done
  done
  me=$(printf '%s\n' "${e[@]}" | median); best=0; printf '%6d %12.4g' "$n" "$me"
  for m in "${MODES[@]}"; do
    mt=$(printf '%s\n' ${t[$m]} | median); printf ' %12.4g' "$mt"
    best=$(awk -v a="$best" -v b="$mt" 'BEGIN {print (b > a ? b : a)}')
  done
  awk -v a="$me" -v b="$best" 'BEGIN {printf " %7.2f\n", a / b}'
  unset t
done
