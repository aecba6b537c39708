#!/usr/bin/env bash
# tests/mpi/check.sh PFEDRL [NON_MPI_PFEDRL] — runs over MPI ranks (docs/DESIGN.md §13) against one
# process, with OpenMPI's mpirun (ctest runs it in a build with -DPFR_MPI=ON; scripts/test_mpi.sh):
#   - `mpirun -np 1, 2, 3` give the files of one process, byte for byte (phi.npy, theta.npy,
#     metrics_by_type.csv; metrics.csv without its clock columns) and the same sums in double, every
#     row of every round (PFEDRL_TEST_SUMS_DIGEST), for every algorithm, a grid world,
#     participation, the federation's mechanisms (availability, stragglers, stale Phi, clipping with
#     noise), control (SARSA, Q-learning) and orthonormalization;
#   - a run checkpointed over 2 ranks and resumed over 3 equals the straight run;
#   - a failing rank stops every rank with its message, exit 1, and nothing written;
#   - bad starts exit 2 with a clear message: more ranks than agent blocks, a rank of another build,
#     a command that does not run over ranks, and (given NON_MPI_PFEDRL) a build without MPI.
set -uo pipefail
P=${1:?usage: check.sh PFEDRL [NON_MPI_PFEDRL]}
NOMPI=${2:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# one thread a rank (ranks share this machine's cores), the same for the one process
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
MPIRUN=(mpirun --oversubscribe)
W=$(mktemp -d /tmp/pfedrl_mpi_XXXXXX)
trap 'rm -rf "$W"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

cat > "$W/c.yaml" <<'EOF'
env:
  kind: cliffwalk
  types: 4
  slip_max: 0.3
  wind_max: 0.2
agents: 1037
dim: 8
local_steps: 10
alpha: 0.2
beta: 0.1
rounds: 16
eval_every: 5
orthonormalize: true
participation: 0.8
threads: 1
EOF

# same NAME NP -- args: one process and NP ranks, the same files
same() {
  local name=$1 np=$2; shift 2
  local one="$W/$name-1" many="$W/$name-$np"
  [ -d "$one" ] || PFEDRL_TEST_SUMS_DIGEST=1 "$P" run --force "$W/c.yaml" "$@" -o "$one" -q --theta > "$one.log" 2>&1 ||
    { fail "$name: the one-process run failed: $(tail -1 "$one.log")"; return; }
  if ! "${MPIRUN[@]}" -np "$np" -x PFEDRL_TEST_SUMS_DIGEST=1 "$P" run --force "$W/c.yaml" "$@" -o "$many" -q --theta \
       > "$many.log" 2>&1; then
    fail "$name over $np ranks failed: $(grep -m1 pfedrl "$many.log")"; return
  fi
  # the sums themselves, every round, bit for bit (a float Phi hides their last bit almost always)
  local d1 dn
  d1=$(grep -o 'sums digest [0-9a-f]*' "$one.log"); dn=$(grep -o 'sums digest [0-9a-f]*' "$many.log")
  [ -n "$d1" ] && [ "$d1" = "$dn" ] || { fail "$name over $np ranks: $dn, one process: $d1"; return; }
  for f in phi.npy theta.npy metrics_by_type.csv; do
    cmp -s "$one/$f" "$many/$f" || { fail "$name over $np ranks: $f differs from one process"; return; }
  done
  # metrics.csv without wall_s and agent_steps_per_sec (fields 9 and 10): clocks
  cmp -s <(cut -d, -f1-8,11- "$one/metrics.csv") <(cut -d, -f1-8,11- "$many/metrics.csv") ||
    { fail "$name over $np ranks: metrics.csv differs"; return; }
  echo "ok: $name over $np ranks: the same bits as one process"
}

FED=(-s federation.p_drop=0.2 -s federation.p_return=0.4 -s federation.stragglers=0.3 -s federation.max_delay=3
     -s federation.stale_decay=0.8 -s federation.clip=0.05 -s federation.noise_multiplier=0.5)
GRID=(-s env.kind=gridworld -s env.width=30 -s env.height=30 -s env.types=3 -s agents=1500 -s alpha=0.05 -s beta=0.02)
for np in 1 2 3; do
  same cliff $np
  same grid $np "${GRID[@]}"
  same federation $np "${FED[@]}"
done
for np in 2 3; do
  same fedavg $np -s algorithm=fedavg_rep
  same fedtd $np -s algorithm=fedtd
  same local_rep $np -s algorithm=local_rep
  same local_td $np -s algorithm=local_td
  same sarsa $np -s control.kind=sarsa -s control.epsilon=0.3
  same qlearning $np -s control.kind=qlearning -s control.epsilon=0.3 -s algorithm=fedavg_rep
  same grid_fed $np "${GRID[@]}" "${FED[@]}"
done

# checkpointed over 2 ranks (every 4 rounds, 10 rounds: an evaluation round, so no extra row), resumed over 3:
# the straight run's files
R="$W/resumed"
if "${MPIRUN[@]}" -np 2 "$P" run --force "$W/c.yaml" "${FED[@]}" -s rounds=10 -s checkpoint_every=4 -o "$R" -q --theta \
     > "$R.log" 2>&1 &&
   "${MPIRUN[@]}" -np 3 "$P" resume "$R" --rounds 16 -q --theta >> "$R.log" 2>&1; then
  same_files=1
  for f in phi.npy theta.npy metrics_by_type.csv; do cmp -s "$R/$f" "$W/federation-1/$f" || same_files=0; done
  [ $same_files = 1 ] && echo "ok: 2 ranks, then resumed over 3: the straight run's bits" ||
    fail "2 ranks resumed over 3 differ from the straight run"
else
  fail "checkpoint over 2 ranks and resume over 3: $(grep -m1 pfedrl "$R.log")"
fi

# a failing rank: all stop, its message, exit 1, nothing written
F="$W/failing"
"${MPIRUN[@]}" -np 3 -x PFEDRL_TEST_FAIL_RANK=1@5 "$P" run --force "$W/c.yaml" -o "$F" -q > "$F.log" 2>&1
rc=$?
[ $rc = 1 ] || fail "a failing rank: exit $rc, expected 1"
grep -q "run failed: rank 1 of 3: out of memory (PFEDRL_TEST_FAIL_RANK" "$F.log" || fail "a failing rank: no message naming rank 1"
[ ! -e "$F" ] || fail "a failing rank: $F was left behind"
[ $rc = 1 ] && [ ! -e "$F" ] && echo "ok: a failing rank stops every rank, names itself, writes nothing"

# bad starts: exit 2 and what is allowed
bad() { # bad NAME EXPECTED-TEXT mpirun-args...
  local name=$1 text=$2; shift 2
  "${MPIRUN[@]}" "$@" > "$W/bad.log" 2>&1
  local rc=$?
  if [ $rc = 2 ] && grep -qF "$text" "$W/bad.log"; then echo "ok: $name: exit 2, '$text'"
  else fail "$name: exit $rc, output: $(grep -m1 pfedrl "$W/bad.log")"; fi
}
bad "more ranks than agent blocks" "fewer than the 3 MPI ranks; allowed: at least one block a rank" \
  -np 3 "$P" run --force "$W/c.yaml" -s agents=300 -o "$W/b1" -q
bad "a rank of another build" "the MPI ranks run different builds of pfedrl" \
  -np 1 "$P" run --force "$W/c.yaml" -o "$W/b2" -q : -np 1 -x PFEDRL_TEST_OTHER_BUILD=other "$P" run --force "$W/c.yaml" -o "$W/b2" -q
bad "a command that does not run over ranks" "allowed over ranks: run and resume" -np 2 "$P" info
[ -n "$NOMPI" ] && bad "a build without MPI" "this pfedrl was built without MPI" -np 2 "$NOMPI" run "$W/c.yaml" -o "$W/b3" -q
for d in b1 b2 b3; do [ ! -e "$W/$d" ] || fail "a bad start left $W/$d behind"; done

echo "mpi checks: $FAILS failed"
[ $FAILS = 0 ]
