#!/usr/bin/env bash
# Run clang-tidy (.clang-tidy at the root) over every C source of the
# project's compile database, JOBS files at a time; exit 1 on any warning
# (WarningsAsErrors). Usage: scripts/tidy.sh BUILD_DIR [JOBS]
#
# Each source is checked once, even when several targets compile it (the
# unit tests' helpers.c is compiled into every test), by a clang-tidy of its
# own: clang-tidy 14 given several files reports va_list false positives.
set -euo pipefail
BUILD=${1:?usage: tidy.sh BUILD_DIR [JOBS]}
JOBS=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DB="$BUILD/compile_commands.json"
[ -f "$DB" ] || { echo "tidy: $DB missing (configure with cmake first)" >&2; exit 2; }
TIDY=$(command -v clang-tidy-14 || command -v clang-tidy)
t0=$(date +%s)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
/usr/bin/python3 -c '
import json, sys
root = sys.argv[2] + "/"
files = sorted({e["file"] for e in json.load(open(sys.argv[1])) if e["file"].startswith(root)})
print("\n".join(files))' "$DB" "$ROOT" |
  xargs -P "$JOBS" -n 1 "$TIDY" -p "$BUILD" --quiet >"$out" 2>&1 && rc=0 || rc=$?
if [ "$rc" -ne 0 ] || grep -q 'warning:\|error:' "$out"; then
  grep -v '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated\.$' "$out" >&2 || true
  echo "tidy: failed (clang-tidy found the problems above)" >&2
  exit 1
fi
echo "tidy: clean ($(( $(date +%s) - t0 )) s)"
