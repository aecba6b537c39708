#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test pfedrl (idempotent; installs nothing
# when everything is already there). The CUDA Toolkit is not installed here: when nvcc is present
# the build compiles the CUDA parts, otherwise it builds the CPU engine alone.
set -euo pipefail
pkgs=(cmake make g++ pkg-config libyaml-dev libgtest-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
