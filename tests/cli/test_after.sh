#!/usr/bin/env bash
# --after ID: a task runs only after its dependency succeeded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=$TMP/order
a=$("$SITQ" enqueue "$DB" -- sh -c 'sleep 0.5; echo A >> "$0"' "$log")
b=$("$SITQ" enqueue "$DB" --after "$a" -- sh -c 'echo B >> "$0"' "$log")
c=$("$SITQ" enqueue "$DB" --after "$a" --after "$b" -- sh -c 'echo C >> "$0"' "$log")
assert_eq waiting "$(field "$b" status)" "dependent task status before the run"
assert_eq "[$a, $b]" "$(field "$c" depends_on)" "depends_on field"
assert_contains "$("$SITQ" show "$DB" "$c")" "depends_on:       $a $b" "show text depends_on"

start_worker --concurrency 3
expect_exit 0 "$SITQ" wait "$DB" "$c" --timeout 15
stop_worker
assert_eq "A B C" "$(tr '\n' ' ' < "$log" | sed 's/ $//')" "execution order"

# a dependency on an unknown task is an operational error
expect_exit 1 "$SITQ" enqueue "$DB" --after 999 -- true
[ -s "$TMP/err" ] || fail "no message for an unknown --after id"
echo "ok"
