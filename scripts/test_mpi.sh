#!/usr/bin/env bash
# Runs over MPI ranks, checked against one process (docs/DESIGN.md §13): installs OpenMPI where it is
# missing (Debian's libopenmpi-dev and openmpi-bin), builds the command with -DPFR_MPI=ON into
# ${MPI_BUILD_DIR:-build-mpi} (CPU engine only: the CUDA engine does not run over ranks yet), and runs
# tests/mpi/check.sh through ctest (`mpirun -np 1, 2, 3` against one process, resume with another
# number of ranks, a failing rank, bad starts; and, given a build without MPI in build/, that one
# under mpirun). About a minute and a half on two cores. .ci/run calls it after the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/apt_install.sh libopenmpi-dev openmpi-bin
b="${MPI_BUILD_DIR:-build-mpi}"
cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DPFR_MPI=ON -DPFR_CUDA=OFF -DPFR_BUILD_TESTS=OFF > /dev/null
cmake --build "$b" -j "$(nproc)" --target pfedrl_cli
if [ -x build/pfedrl ]; then # the one-process build beside it: also checked under mpirun (it must refuse)
  bash tests/mpi/check.sh "$b/pfedrl" build/pfedrl
else
  ctest --test-dir "$b" --output-on-failure -L mpi
fi
