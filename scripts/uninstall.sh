#!/usr/bin/env bash
# Remove what an install of sitq put in place (`make uninstall`): every file
# listed in the install manifest that `cmake --install` wrote (one path a
# line, without DESTDIR: give the install's DESTDIR again), then sitq's own
# CMake package directory when it is left empty. Directories shared with
# other software (bin, lib, include, man) are never removed.
# Usage: [DESTDIR=DIR] scripts/uninstall.sh [MANIFEST]
#        (MANIFEST defaults to build/install_manifest.txt)
set -euo pipefail

manifest=${1:-build/install_manifest.txt}
if [ ! -f "$manifest" ]; then
  echo "uninstall: $manifest not found: nothing was installed from this build (make install writes it)" >&2
  exit 1
fi
removed=0
# The manifest's last line has no newline.
while IFS= read -r path || [ -n "$path" ]; do
  [ -n "$path" ] || continue
  path=${DESTDIR:-}$path
  if [ -e "$path" ] || [ -L "$path" ]; then
    rm -f -- "$path"
    removed=$((removed + 1))
  fi
  case "$path" in
    */cmake/sitq/*) rmdir -- "$(dirname -- "$path")" 2>/dev/null || true ;;
  esac
done < "$manifest"
echo "uninstall: removed $removed files listed in $manifest${DESTDIR:+ under $DESTDIR}"
