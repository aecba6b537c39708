#!/usr/bin/env bash
# Installs the Debian packages named that are not installed yet (nothing when all are). A name may
# carry an architecture (libyaml-dev:arm64); a plain name means the machine's own architecture (or
# an architecture-independent package), so an arm64 copy beside it does not count.
#   bash scripts/apt_install.sh PACKAGE...
set -euo pipefail
native="$(dpkg --print-architecture)"
installed() {
  case "$1" in
  *:*) dpkg-query -W -f='${db:Status-Abbrev}\n' "$1" 2>/dev/null | grep -q '^ii' ;;
  *) dpkg-query -W -f='${db:Status-Abbrev} ${Architecture}\n' "$1" 2>/dev/null | grep -Eq "^ii +($native|all)\$" ;;
  esac
}
missing=()
for p in "$@"; do installed "$p" || missing+=("$p"); done
[ ${#missing[@]} -gt 0 ] || exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
