#!/usr/bin/env bash
# build-deb.sh SRC OUT - build sitq's Debian binary packages into OUT.
#
# dpkg-buildpackage writes its packages beside the source tree, so the tree
# (its tracked and not-ignored files) is copied into a temporary directory
# and built there with `dpkg-buildpackage -us -uc -b` (debian/); the .deb,
# .changes and .buildinfo files are moved to OUT and lintian runs on them:
# any error fails (exit 1), warnings are printed. `make deb` runs it with
# OUT = dist/deb.
set -euo pipefail
src=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The version is written in CMakeLists.txt; debian/changelog must follow it.
version=$(sed -n 's/^project(sitq VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb_version=$(cd "$src" && dpkg-parsechangelog -S Version)
if [ "${deb_version%%-*}" != "$version" ]; then
  echo "build-deb: debian/changelog is at $deb_version, CMakeLists.txt at $version:" \
       "add a changelog entry (dch -v $version)" >&2
  exit 1
fi

mkdir -p "$tmp/sitq"
(cd "$src" && git ls-files --cached --others --exclude-standard -z | tar --null -cf - -T -) \
  | tar -xf - -C "$tmp/sitq"
if ! (cd "$tmp/sitq" && dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
  tail -40 "$tmp/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed" >&2
  exit 1
fi
mv "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$out"/
if ! (cd "$out" && lintian --fail-on error ./sitq_*.changes >"$tmp/lintian.log" 2>&1); then
  cat "$tmp/lintian.log" >&2
  echo "build-deb: lintian reports errors" >&2
  exit 1
fi
grep -v 'root privileges' "$tmp/lintian.log" || true
echo "build-deb: packages in $out"
