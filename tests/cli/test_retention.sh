#!/usr/bin/env bash
# retention: show and set a queue's retention, --keep on enqueue, and what
# `sitq stats --queue` shows of it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

a=$("$SITQ" enqueue "$DB" --keep 2h -- echo kept)
b=$("$SITQ" enqueue "$DB" --keep forever -- true)
expect_exit 2 "$SITQ" enqueue "$DB" --keep -3 -- true
assert_contains "$(cat "$TMP/err")" "--keep" "a bad --keep names the option"
expect_exit 2 "$SITQ" enqueue "$DB" --keep soon -- true

# the defaults, then a retention of the queue's own
expect_exit 0 "$SITQ" retention "$DB" --json
assert_eq "604800.0 2592000.0 True" \
    "$(jget "d['succeeded_s'], d['failed_s'], d['default']" <"$TMP/out" | tr -d '(),')" "defaults"
expect_exit 0 "$SITQ" retention "$DB" --succeeded 12h --failed 2d --json
assert_eq "43200.0 172800.0 False" \
    "$(jget "d['succeeded_s'], d['failed_s'], d['default']" <"$TMP/out" | tr -d '(),')" "set"
expect_exit 0 "$SITQ" retention "$DB" --failed 3d
assert_contains "$(cat "$TMP/out")" "12h" "--failed alone keeps --succeeded"
assert_contains "$(cat "$TMP/out")" "3d" "--failed alone"
expect_exit 0 "$SITQ" retention "$DB" --forever --succeeded 1d
assert_contains "$(cat "$TMP/out")" "forever" "--forever with --succeeded: failed forever"
# A --queue that holds no task and has no setting is a typo unless
# --new-queue; once it has a retention it is known.
expect_exit 1 "$SITQ" retention "$DB" --queue other --forever --json
assert_contains "$(cat "$TMP/err")" "unknown queue 'other' (known queues: default)" "typo refused"
assert_contains "$(cat "$TMP/err")" "--new-queue" "the refusal names the flag"
expect_exit 1 "$SITQ" retention "$DB" --queue other
expect_exit 0 "$SITQ" retention "$DB" --queue other --json --new-queue
assert_eq true "$(jget "d['default']" <"$TMP/out")" "a refused typo stored nothing"
expect_exit 0 "$SITQ" retention "$DB" --queue other --forever --json --new-queue
assert_eq "forever forever" "$(jget "d['succeeded_s'], d['failed_s']" <"$TMP/out" | tr -d "(),'")" \
    "another queue, forever"
# "forever" is a retention wherever one is parsed, as for --keep
expect_exit 0 "$SITQ" retention "$DB" --queue third --succeeded forever --failed 2d --json --new-queue
assert_eq "forever 172800.0" "$(jget "d['succeeded_s'], d['failed_s']" <"$TMP/out" | tr -d "(),'")" \
    "--succeeded forever"
expect_exit 0 "$SITQ" retention "$DB" --queue third --failed forever
assert_contains "$(cat "$TMP/out")" "failed/cancelled       forever" "--failed forever"
assert_contains "$(cat "$TMP/out")" "succeeded              forever" "--failed alone keeps --succeeded"
expect_exit 2 "$SITQ" retention "$DB" --queue third --succeeded never
assert_contains "$(cat "$TMP/err")" "invalid value 'never' for --succeeded" "a bad word"
expect_exit 2 "$SITQ" retention "$DB" --default --failed forever
expect_exit 0 "$SITQ" retention "$DB" --default
assert_contains "$(cat "$TMP/out")" "(defaults)" "--default forgets it"
expect_exit 2 "$SITQ" retention "$DB" --default --forever
expect_exit 2 "$SITQ" retention "$DB" --succeeded 0
expect_exit 2 "$SITQ" retention "$DB" --succeeded
expect_exit 2 "$SITQ" retention
expect_exit 0 "$SITQ" retention --help
assert_contains "$(cat "$TMP/out")" "--succeeded DUR" "help"

# what retention holds back
start_worker
expect_exit 0 "$SITQ" wait "$DB" "$a" --timeout 10
expect_exit 0 "$SITQ" wait "$DB" "$b" --timeout 10
stop_worker
expect_exit 0 "$SITQ" stats "$DB" --queue default --json
assert_eq "2 $a" "$(jget "d['retention']['finished_kept'], d['retention']['oldest_id']" <"$TMP/out" | tr -d '(),')" \
    "stats shows the finished tasks kept and the oldest"
expect_exit 0 "$SITQ" stats "$DB" --queue default
assert_contains "$(cat "$TMP/out")" "finished tasks kept    2" "stats text"
echo "test_retention: ok"
