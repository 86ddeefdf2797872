#!/usr/bin/env bash
# sitq installs like a C library. Installs the build (as `make install
# DESTDIR=... PREFIX=...` does) into a staging directory, then, in a
# temporary directory outside the repository:
#   1. builds the README's first C program with `pkg-config --cflags --libs
#      sitq` against libsitq.so and runs it (LD_LIBRARY_PATH), and once more
#      against libsitq.a with `pkg-config --static` (Requires.private and
#      Libs.private must be enough);
#   2. builds it with a CMake project that uses find_package(sitq) and runs
#      it; asks for a version the package does not have and expects a refusal;
#   3. checks libsitq.so: soname, and `nm -D` exports exactly the functions
#      sitq.h declares (no sitq__ or sq_ internals);
#   4. renders sitq(1) and libsitq(3) with `man --warnings`, expecting none;
#   5. checks that every version (header, pkg-config, CMake, file name, man
#      pages, `sitq --version`) is the same;
#   6. uninstalls with the install manifest and expects nothing left.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sitq-install.XXXXXX")

# cmake --install writes BUILD/install_manifest.txt, which `make uninstall`
# reads: keep the one of the developer's own install.
manifest=$build/install_manifest.txt
if [ -f "$manifest" ]; then cp -p "$manifest" "$tmp/manifest.saved"; fi
cleanup() {
  if [ -f "$tmp/manifest.saved" ]; then cp -p "$tmp/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# --- install: DESTDIR + a prefix ---------------------------------------------
stage=$tmp/stage
prefix=/opt/sitq-test
DESTDIR=$stage cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install"; }
cp "$manifest" "$tmp/manifest"
root=$stage$prefix
pc=$(find "$root" -name sitq.pc)
[ -n "$pc" ] || fail "sitq.pc was not installed"
libdir=$(dirname "$(dirname "$pc")")
for f in bin/sitq bin/sitq_bench include/sitq.h include/sitq_version.h share/man/man1/sitq.1 share/man/man3/libsitq.3; do
  [ -f "$root/$f" ] || fail "$f was not installed"
done
for f in libsitq.a libsitq.so libsitq.so.0 cmake/sitq/sitqConfig.cmake cmake/sitq/sitqConfigVersion.cmake; do
  [ -e "$libdir/$f" ] || fail "$libdir/$f was not installed"
done
[ -L "$libdir/libsitq.so" ] && [ -L "$libdir/libsitq.so.0" ] || fail "libsitq.so and libsitq.so.0 should be symbolic links"
if grep -rl "$src" "$libdir/cmake" "$pc"; then fail "installed package files name the source tree"; fi
echo "installed into DESTDIR=$stage, prefix $prefix"

# --- the README's first program ----------------------------------------------
work=$tmp/work
mkdir -p "$work"
awk '/^## A first program in C/ { sect = 1 }
     sect && /^```c$/ { code = 1; next }
     code && /^```$/ { exit }
     code { print }' "$src/README.md" >"$work/first.c"
grep -q 'sitq_worker_start' "$work/first.c" || fail "no C program found in README.md's first-program section"
cd "$work"

# 1. pkg-config, shared library. The .pc file names the final prefix
# (/opt/sitq-test): PKG_CONFIG_SYSROOT_DIR maps it into the staging directory.
export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage
cflags_libs=$(pkg-config --cflags --libs sitq)
echo "pkg-config --cflags --libs sitq: $cflags_libs"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror first.c $cflags_libs -o first_shared
readelf -d first_shared | grep -q 'NEEDED.*\[libsitq\.so\.0\]' || fail "first_shared does not load libsitq.so.0"
out=$(LD_LIBRARY_PATH=$libdir ./first_shared)
[ "$out" = "succeeded: hello" ] || fail "pkg-config build printed '$out'"
echo "pkg-config (shared): $out"

# 1b. pkg-config --static against libsitq.a (-l:libsitq.a picks the archive).
static_libs=$(pkg-config --static --libs sitq)
static_libs=$(echo "$static_libs" | sed -E 's/(^| )-lsitq( |$)/\1-l:libsitq.a\2/')
echo "pkg-config --static --libs sitq: $static_libs"
rm -f tasks.db*
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror first.c $(pkg-config --cflags sitq) $static_libs -o first_static
if readelf -d first_static | grep -q 'NEEDED.*libsitq'; then fail "first_static loads libsitq dynamically"; fi
out=$(./first_static)
[ "$out" = "succeeded: hello" ] || fail "static pkg-config build printed '$out'"
echo "pkg-config (static): $out"

# 2. CMake: find_package(sitq) -> sitq::sitq.
rm -f tasks.db*
cp -r "$src/tests/install/consumer" cmake_project
cp first.c cmake_project/
cmake -S cmake_project -B cmake_build -DCMAKE_PREFIX_PATH="$root" -DSITQ_WANT=0 >"$tmp/cmake.log" ||
  { cat "$tmp/cmake.log"; fail "configuring the find_package(sitq) project"; }
cmake --build cmake_build >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "building the find_package(sitq) project"; }
out=$(LD_LIBRARY_PATH=$libdir ./cmake_build/first)
[ "$out" = "succeeded: hello" ] || fail "find_package build printed '$out'"
echo "find_package(sitq): $out"
cmake_version=$(sed -n 's/^-- sitq package version: //p' "$tmp/cmake.log")
if cmake -S cmake_project -B cmake_build_v99 -DCMAKE_PREFIX_PATH="$root" -DSITQ_WANT=99 >"$tmp/cmake99.log" 2>&1; then
  fail "find_package(sitq 99) succeeded"
fi
grep -q 'sitqConfig.cmake, version: ' "$tmp/cmake99.log" || { cat "$tmp/cmake99.log"; fail "find_package(sitq 99) failed for another reason"; }
echo "find_package(sitq 99): refused (the package has version 0.x)"

# 3. The shared library: soname and exports.
soname=$(readelf -d "$libdir/libsitq.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libsitq.so.0" ] || fail "soname is '$soname'"
nm -D --defined-only "$libdir/libsitq.so" | awk 'NF == 3 { sub(/@.*/, "", $3); print $3 }' | sort -u >exported.txt
if grep -E '^(sitq__|sq_)' exported.txt; then fail "libsitq.so exports internal symbols (above)"; fi
# The functions sitq.h declares, as the compiler reads them (-aux-info
# lists every declaration with its file and line).
echo '#include <sitq.h>' | cc -std=c11 -fsyntax-only -aux-info aux.txt -I"$root/include" -x c -
grep '/sitq\.h:[0-9]*:' aux.txt | grep -v '\*/ static ' |
  sed -E 's/^.*[ *](sitq_[A-Za-z0-9_]+) \(.*$/\1/' | sort -u >declared.txt
[ "$(wc -l <declared.txt)" -ge 40 ] || fail "found only $(wc -l <declared.txt) functions in sitq.h"
if ! diff declared.txt exported.txt >exports.diff; then
  echo "< declared in sitq.h but not exported; > exported but not declared:" >&2
  cat exports.diff >&2
  fail "libsitq.so's exports differ from sitq.h's functions"
fi
echo "libsitq.so: soname $soname, exports the $(wc -l <exported.txt) functions of sitq.h and nothing else"

# 4. Man pages, rendered without a warning.
for page in man1/sitq.1 man3/libsitq.3; do
  MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$root/share/man/$page" >page.txt 2>warnings.txt ||
    { cat warnings.txt; fail "man could not render $page"; }
  if [ -s warnings.txt ]; then cat warnings.txt; fail "man --warnings: $page"; fi
  [ "$(wc -l <page.txt)" -gt 50 ] || fail "$page renders only $(wc -l <page.txt) lines"
done
echo "man pages: sitq(1) and libsitq(3) render without warnings"

# 5. One version everywhere.
version=$(sed -n 's/^#define SITQ_VERSION "\(.*\)"$/\1/p' "$root/include/sitq_version.h")
[ -n "$version" ] || fail "no SITQ_VERSION in sitq_version.h"
[ "$(pkg-config --modversion sitq)" = "$version" ] || fail "pkg-config version $(pkg-config --modversion sitq), header $version"
[ "$cmake_version" = "$version" ] || fail "CMake package version '$cmake_version', header $version"
[ -f "$libdir/libsitq.so.$version" ] || fail "no libsitq.so.$version"
[ "$("$root/bin/sitq" --version)" = "sitq $version" ] || fail "sitq --version: $("$root/bin/sitq" --version)"
for page in man1/sitq.1 man3/libsitq.3; do
  grep -q "^\.TH .*\"sitq $version\"" "$root/share/man/$page" || fail "$page does not say version $version"
done
echo "version $version in the header, sitq.pc, the CMake package, the library's file name, sitq --version and the man pages"

# 6. Uninstall removes every installed file.
DESTDIR=$stage "$src/scripts/uninstall.sh" "$tmp/manifest" >/dev/null
left=$(find "$stage" -type f -o -type l)
[ -z "$left" ] || fail "left after uninstall: $left"
[ ! -d "$libdir/cmake/sitq" ] || fail "uninstall left $libdir/cmake/sitq"
echo "uninstall: nothing left"
echo "PASS"
