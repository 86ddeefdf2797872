#!/usr/bin/env bash
# run_unit.sh - the C unit tests against PostgreSQL: run from with_pg.sh, so
# that SITQ_TEST_PG_URI names a throwaway cluster; each test opens a fresh
# schema of it (tests/unit/helpers.c, SITQ_TEST_BACKEND=postgres).
#
#   run_unit.sh BINDIR TEST...
#
# Runs every TEST (an executable of BINDIR), prints one line per test and
# the output of those that fail; exits 1 when any failed.
set -u
bindir=$1
shift
export SITQ_TEST_BACKEND=postgres
failed=()
for t in "$@"; do
  out=$(mktemp)
  start=$(date +%s)
  "$bindir/$t" >"$out" 2>&1
  rc=$?
  echo "pg: $t exit $rc in $(( $(date +%s) - start )) s: $(grep -E '^\[  (PASSED|FAILED)  \]' "$out" | head -2 | tr '\n' ' ')"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    cat "$out"
  fi
  rm -f "$out"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "pg: failed: ${failed[*]}"
  exit 1
fi
echo "pg: all $# suites passed"
