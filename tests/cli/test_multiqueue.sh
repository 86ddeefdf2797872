#!/usr/bin/env bash
# `sitq worker` on several queues (--queue repeated, --queue-order) and in
# burst mode (--burst, --burst-eta-bound): the order tasks run in, the exit
# once the queues are drained, and the usage errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ORDER=$TMP/order
# enq QUEUE NAME: a task of QUEUE that appends NAME to $ORDER.
enq() {
    "$SITQ" enqueue "$DB" --queue "$1" -- sh -c "echo $2 >> '$ORDER'" >/dev/null
}
# ran: the names in the order their tasks ran, on one line.
ran() { tr '\n' ' ' < "$ORDER" | sed 's/ $//'; }

# Priority order: the first queue is drained before the second, whatever
# the tasks' age; --burst exits 0 once both are empty.
enq low l1; enq low l2; enq low l3
enq high h1; enq high h2
expect_exit 0 "$SITQ" worker "$DB" --queue high --queue low --burst
assert_eq "h1 h2 l1 l2 l3" "$(ran)" "priority order"
assert_contains "$(cat "$TMP/err")" "queues 'high', 'low' in priority order" "start log"
assert_contains "$(cat "$TMP/err")" "queues drained (--burst): stopping" "drain log"
assert_contains "$(cat "$TMP/err")" "5 succeeded" "final counts"

# Round-robin: the queues take turns while both have tasks.
: > "$ORDER"
enq b b1; enq b b2; enq b b3
enq a a1; enq a a2
expect_exit 0 "$SITQ" worker "$DB" -q a -q b --queue-order round-robin --burst --quiet
assert_eq "a1 b1 a2 b2 b3" "$(ran)" "round-robin order"
assert_eq "" "$(cat "$TMP/err")" "--quiet burst logs nothing"

# Burst with nothing to do exits at once; a task scheduled past the bound
# does not hold the worker, one within it does and runs.
: > "$ORDER"
far=$("$SITQ" enqueue "$DB" --queue later --delay 3600 -- sh -c "echo far >> '$ORDER'")
expect_exit 0 "$SITQ" worker "$DB" --queue later --burst
assert_eq scheduled "$("$SITQ" show "$DB" "$far" --queue later --json | jget "d['status']")" "far task left"
near=$("$SITQ" enqueue "$DB" --queue later --delay 0.3 -- sh -c "echo near >> '$ORDER'")
expect_exit 0 "$SITQ" worker "$DB" --queue later --burst --burst-eta-bound 30
assert_eq succeeded "$("$SITQ" show "$DB" "$near" --queue later --json | jget "d['status']")" "near task ran"
assert_eq "near" "$(ran)" "only the near task ran"

# Usage errors name the option.
expect_exit 2 "$SITQ" worker "$DB" --queue-order fastest
assert_contains "$(cat "$TMP/err")" "--queue-order must be priority or round-robin" "bad order"
expect_exit 2 "$SITQ" worker "$DB" -q a --queue b -q a
assert_contains "$(cat "$TMP/err")" "--queue 'a' is given twice" "repeated queue"
expect_exit 2 "$SITQ" worker "$DB" --burst --burst-eta-bound -1
assert_contains "$(cat "$TMP/err")" "--burst-eta-bound" "negative bound"
expect_exit 2 "$SITQ" worker "$DB" --burst-eta-bound soon
assert_contains "$(cat "$TMP/err")" "--burst-eta-bound" "bound not a number"
expect_exit 0 "$SITQ" worker --help
assert_contains "$(cat "$TMP/out")" "--queue-order ORDER" "help lists --queue-order"
assert_contains "$(cat "$TMP/out")" "--burst-eta-bound S" "help lists --burst-eta-bound"
echo "ok"
