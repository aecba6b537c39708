#!/usr/bin/env bash
# Fetch, on this machine, the Debian packages the build needs that a bare GPU machine lacks and
# cannot download (libyaml, GoogleTest, SuiteSparse's UMFPACK with the LAPACK and BLAS it runs on,
# zlib's headers), into DEST (default .device-deps/, git-ignored). A device
# call then carries that folder and bench/gpu_check.sh unpacks it under /tmp/pfr-deps:
#   bash scripts/device_deps.sh
#   device run, carry [".device-deps"]: OUT=$OUT bash bench/gpu_check.sh validate   (then: bench)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.device-deps}"
mkdir -p "$dest"
cd "$dest"
# apt-get download writes into the current folder; as root it warns that _apt cannot write here
# UMFPACK's run-time closure (libumfpack5 -> AMD, CHOLMOD -> CAMD, CCOLAMD, COLAMD, METIS,
# SuiteSparse_config, LAPACK, BLAS -> gfortran); libsuitesparse-dev for the headers and link names.
pkgs=(libyaml-0-2 libyaml-dev libgtest-dev
      libsuitesparse-dev libsuitesparseconfig5 libumfpack5 libamd2 libcholmod3 libcamd2 libccolamd2 libcolamd2
      libmetis5 liblapack3 liblapack-dev libblas3 libblas-dev libgfortran5 libquadmath0 zlib1g-dev)
apt-get download "${pkgs[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -l ./*.deb
