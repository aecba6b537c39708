#!/usr/bin/env bash
# Installs a built tree into a temporary prefix and uses it as an outside project would:
# examples/api_example.c compiled with pkg-config and with find_package(pfedrl), both run; the
# library's SONAME and its exported symbols (the public header's functions, nothing else); the
# installed command runs. Usage: scripts/check_install.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:?usage: check_install.sh BUILD_DIR}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pfedrl_install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fail() { echo "check_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
lib=$(ls "$prefix"/lib*/libpfedrl.so.*.*.* 2>/dev/null | head -1)
[ -n "$lib" ] || fail "no versioned libpfedrl.so.X.Y.Z under $prefix/lib"
libdir=$(dirname "$lib")
version=$(sed -n 's/^#define PFR_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/pfedrl/pfedrl.h | paste -sd.)
major=${version%%.*}
minor=${version#*.}; minor=${minor%%.*}
so=$major; [ "$major" = 0 ] && so="$major.$minor" # the SONAME's version: 0.x keeps the minor (CMakeLists.txt)
[ "$(basename "$lib")" = "libpfedrl.so.$version" ] || fail "$(basename "$lib") is not libpfedrl.so.$version"
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libpfedrl.so.$so" ] || fail "SONAME '$soname', expected libpfedrl.so.$so"
[ -L "$libdir/libpfedrl.so.$so" ] && [ -L "$libdir/libpfedrl.so" ] || fail "missing libpfedrl.so links in $libdir"
[ -f "$prefix/include/pfedrl/pfedrl.h" ] || fail "header not installed"
[ -x "$prefix/bin/pfedrl" ] || fail "command not installed"
[ -f "$libdir/pkgconfig/pfedrl.pc" ] || fail "pfedrl.pc not installed"
[ -f "$libdir/cmake/pfedrl/pfedrlConfig.cmake" ] && [ -f "$libdir/cmake/pfedrl/pfedrlConfigVersion.cmake" ] ||
  fail "pfedrlConfig.cmake / pfedrlConfigVersion.cmake not installed"

# exported: exactly the functions the public header declares; every defined dynamic symbol counts
# (functions, data, weak ones such as GCC's target_clones resolvers, OpenMP's critical sections)
grep -oE '\bpfr_[a-z0-9_]+\(' include/pfedrl/pfedrl.h | tr -d '(' | sort -u > "$tmp/declared"
nm -D --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort -u > "$tmp/exported"
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
[ -z "$extra" ] || fail "exported but not in pfedrl.h: $(echo $extra)"
missing=$(comm -23 "$tmp/declared" "$tmp/exported" | grep -vE '^pfr_(progress|setup_progress)_fn$' || true)
[ -z "$missing" ] || fail "declared in pfedrl.h but not exported: $(echo $missing)"

# 1. pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion pfedrl)" = "$version" ] || fail "pkg-config says $(pkg-config --modversion pfedrl), not $version"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror examples/api_example.c -o "$tmp/ex_pc" $(pkg-config --cflags --libs pfedrl) \
  -Wl,-rpath,"$(pkg-config --variable=libdir pfedrl)"
"$tmp/ex_pc" > "$tmp/ex_pc.out" || fail "api_example (pkg-config) failed"
# 2. CMake find_package
cmake -S tests/install -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DPFR_EXAMPLE="$PWD/examples/api_example.c" \
  -DCMAKE_BUILD_TYPE=Release > "$tmp/consumer.log" || { cat "$tmp/consumer.log"; fail "find_package(pfedrl) failed"; }
cmake --build "$tmp/consumer" > "$tmp/consumer_build.log" || { cat "$tmp/consumer_build.log"; fail "consumer build failed"; }
"$tmp/consumer/api_example" > "$tmp/ex_cmake.out" || fail "api_example (CMake) failed"
# the same program, the same library: the same output, and it ran the rounds it asked for
cmp -s "$tmp/ex_pc.out" "$tmp/ex_cmake.out" || fail "the two builds of api_example printed different results"
grep -q '^round   50 ' "$tmp/ex_pc.out" || fail "api_example did not reach round 50: $(cat "$tmp/ex_pc.out")"
# (outputs captured first: with pipefail, `ldd | grep -q` fails whenever grep exits before ldd has
# written everything and ldd dies of SIGPIPE -- seen once in the suite)
libs=$(ldd "$tmp/consumer/api_example")
grep -q "libpfedrl.so.$so => $libdir" <<< "$libs" || fail "api_example did not load $libdir's library: $libs"
# 3. the installed command
ver_out=$("$prefix/bin/pfedrl" --version)
grep -q "$version" <<< "$ver_out" || fail "installed pfedrl --version does not say $version: $ver_out"
"$prefix/bin/pfedrl" run examples/cliffwalk.yaml -q -s agents=64 -s rounds=5 -o "$tmp/run" > /dev/null ||
  fail "installed pfedrl run failed"
[ -s "$tmp/run/summary.json" ] || fail "installed pfedrl run wrote no summary.json"
echo "check_install: OK (libpfedrl.so.$version, SONAME $soname, $(wc -l < "$tmp/exported") exported functions," \
     "api_example built with pkg-config and with find_package)"
