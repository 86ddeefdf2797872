#!/usr/bin/env bash
# A shell task with 2,000 dependencies: its command starts (SITQ_DEP_i
# variables for the first 1,000 only; 3 for each of thousands passed the
# kernel's limit on arguments plus environment, and the command could not
# start: "Argument list too long"), and $SITQ_DEPS_DIR/index lists every one.
# The worker runs with a stack limit of 768 KB, which makes that limit
# 192 KB instead of the usual 2 MB (reached at about 15,000 dependencies).
# Usage: test_shell_deps_many.sh SITQ SHELL_FANIN
set -euo pipefail
. "$(dirname "$0")/lib.sh"
FANIN=$2
N=2000
script='echo "count=$SITQ_DEP_COUNT"
echo "first=$(cat "$SITQ_DEP_1") $SITQ_DEP_1_STATUS"
echo "v1000=$(cat "$SITQ_DEP_1000")"
echo "v1001=${SITQ_DEP_1001:-unset}"
echo "index=$(wc -l <"$SITQ_DEPS_DIR/index")"
echo "last=$(sed -n 2000p "$SITQ_DEPS_DIR/index" | cut -f1,3) $(cat "$SITQ_DEPS_DIR/2000")"'
id=$("$FANIN" "$DB" "$N" "$script")
(ulimit -s 768 && exec "$SITQ" worker "$DB" --concurrency 4 --burst --quiet) 2>>"$TMP/worker.log" ||
    fail "the worker failed"
assert_eq succeeded "$(field "$id" status)" "the task with $N dependencies ran"
out=$("$SITQ" show "$DB" "$id" --value)
assert_eq "count=$N
first=1 succeeded
v1000=1000
v1001=unset
index=$N
last=2000	succeeded 2000" "$out" "its variables and files"
echo "ok"
