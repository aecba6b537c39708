#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test pfedrl (idempotent; installs nothing
# when everything is already there). The CUDA Toolkit is not installed here: when nvcc is present
# the build compiles the CUDA parts, otherwise it builds the CPU engine alone.
set -euo pipefail
pkgs=(cmake make g++ pkg-config libyaml-dev libgtest-dev libsuitesparse-dev zlib1g-dev)
# OpenBLAS as the system BLAS (Debian's alternatives): the sparse solver of the ground truth runs its
# dense blocks through BLAS, several times faster than the reference BLAS at 10^6 states
pkgs+=(libopenblas0-pthread)
# Python with pip, for the experiment scripts (a Python already on PATH with pip is used as it is).
python3 -m pip --version >/dev/null 2>&1 || pkgs+=(python3 python3-pip python3-venv)
# a virtual environment for the Python package's tests (Debian's python3 has venv in its own package)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || pkgs+=(python3-venv)
bash "$(dirname "$0")/apt_install.sh" "${pkgs[@]}"
# numpy and matplotlib for scripts/sweep.py and scripts/plot.py (the tests run them at a toy size).
if ! python3 -c "import numpy, matplotlib" >/dev/null 2>&1; then
  echo "setup: installing numpy and matplotlib from PyPI"
  python3 -m pip install -q numpy matplotlib 2>/dev/null ||
    python3 -m pip install -q --break-system-packages numpy matplotlib
fi
