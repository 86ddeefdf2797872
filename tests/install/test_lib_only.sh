#!/usr/bin/env bash
# test_lib_only.sh SRC - the library alone builds with a C compiler,
# libsqlite3 and libpq only.
#
# Configures SRC in a temporary build directory with every optional part
# off (the command, the Python binding, the examples, the benchmark, the
# tests), builds and installs it into a staging directory, then checks:
#   1. the configuration looked for none of the optional parts' libraries
#      (jansson, cmocka, zlib, Python): their cache entries are absent;
#   2. the install holds the libraries, the header, sitq.pc, the CMake
#      package and libsitq(3), and no program and no sitq(1).
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
  -DSITQ_BUILD_CLI=OFF -DSITQ_BUILD_PYTHON=OFF -DSITQ_BUILD_EXAMPLES=OFF \
  -DSITQ_BUILD_BENCH=OFF -DSITQ_BUILD_TESTS=OFF >"$tmp/configure.log"
cmake --build "$tmp/build" -j2 >"$tmp/build.log"
DESTDIR="$tmp/stage" cmake --install "$tmp/build" --prefix /usr >"$tmp/install.log"

fail=0
for entry in JANSSON_FOUND CMOCKA_FOUND ZLIB_FOUND Python3_EXECUTABLE; do
  if grep -q "^$entry" "$tmp/build/CMakeCache.txt"; then
    echo "FAIL: the library-only configuration looked for $entry" >&2
    fail=1
  fi
done
root="$tmp/stage/usr"
# lib/ or lib/<multiarch>/, as GNUInstallDirs chose
archive=$(find "$root" -name libsitq.a | head -1)
libdir=${archive%/libsitq.a}
libdir=${libdir#"$root"/}
if [ -z "$archive" ]; then
  echo "FAIL: no libsitq.a installed" >&2
  exit 1
fi
for f in "$libdir/libsitq.a" "$libdir/libsitq.so" "$libdir/pkgconfig/sitq.pc" \
         "$libdir/cmake/sitq/sitqConfig.cmake" include/sitq.h include/sitq_version.h \
         share/man/man3/libsitq.3; do
  if [ ! -e "$root/$f" ]; then
    echo "FAIL: $f is not installed" >&2
    fail=1
  fi
done
for f in bin share/man/man1/sitq.1; do
  if [ -e "$root/$f" ]; then
    echo "FAIL: $f is installed by a library-only build" >&2
    fail=1
  fi
done
if [ "$fail" -ne 0 ]; then
  exit 1
fi
echo "library-only build: configured, built and installed without the optional parts"
