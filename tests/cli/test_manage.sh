#!/usr/bin/env bash
# cancel a queued task, retry a failed one, purge finished tasks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flag=$TMP/flag
q=$("$SITQ" enqueue "$DB" -- echo never)
expect_exit 0 "$SITQ" cancel "$DB" "$q"
assert_contains "$(cat "$TMP/out")" "cancelled" "cancel output"
assert_eq cancelled "$(field "$q" status)" "cancelled status"
expect_exit 1 "$SITQ" cancel "$DB" "$q"
assert_contains "$(cat "$TMP/err")" "SITQ_ESTATE" "cancel of a finished task"

f=$("$SITQ" enqueue "$DB" -- sh -c 'test -f "$0" && echo fixed' "$flag")
start_worker
expect_exit 5 "$SITQ" wait "$DB" "$f" --timeout 10
assert_eq failed "$(field "$f" status)" "first run fails"
# a task that runs until the gate file exists: surely unfinished at the retry
s=$("$SITQ" enqueue "$DB" -- sh -c 'until [ -f "$0" ]; do sleep 0.05; done' "$TMP/gate")
wait_status "$s" running 10
expect_exit 1 "$SITQ" retry "$DB" "$s"
assert_contains "$(cat "$TMP/err")" "SITQ_ESTATE" "retry of an unfinished task"
touch "$TMP/gate"
expect_exit 0 "$SITQ" wait "$DB" "$s" --timeout 10
touch "$flag"
json=$("$SITQ" retry "$DB" "$f" --json)
assert_eq "$f" "$(echo "$json" | jget "d['id']")" "retry --json id"
expect_exit 0 "$SITQ" wait "$DB" "$f" --timeout 10
assert_eq "fixed" "$("$SITQ" show "$DB" "$f" --value)" "retried task result"
assert_eq 1 "$(field "$f" attempts)" "attempts reset by retry"

# a cancelled task can be retried too
expect_exit 0 "$SITQ" retry "$DB" "$q"
expect_exit 0 "$SITQ" wait "$DB" "$q" --timeout 10
stop_worker

# purge: nothing is a day old; --older-than 0 removes every finished task
total=$("$SITQ" stats "$DB" --json | jget "d['total']")
expect_exit 0 "$SITQ" purge "$DB"
assert_eq "purged 0 tasks" "$(cat "$TMP/out")" "default purge keeps recent tasks"
queued=$("$SITQ" enqueue "$DB" -- true)
n=$("$SITQ" purge "$DB" --older-than 0 --json | jget "d['purged']")
assert_eq "$total" "$n" "purge --older-than 0 count"
assert_eq 1 "$("$SITQ" stats "$DB" --json | jget "d['total']")" "only the queued task is left"
expect_exit 1 "$SITQ" show "$DB" "$f"
assert_contains "$(cat "$TMP/err")" "SITQ_ENOTFOUND" "purged task is gone"
assert_eq queued "$(field "$queued" status)" "unfinished task survives purge"
echo "ok"
