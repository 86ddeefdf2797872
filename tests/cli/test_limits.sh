#!/usr/bin/env bash
# `sitq pause` / `sitq resume` (a worker claims nothing from a paused queue
# and claims again after resume) and `sitq limit` (set, list, remove, the
# usage errors).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A paused queue is skipped: the worker serves the other queue meanwhile.
p=$("$SITQ" enqueue "$DB" --queue p -- echo from-p)
expect_exit 0 "$SITQ" pause "$DB" --queue p
assert_eq "queue p paused" "$(cat "$TMP/out")" "pause output"
assert_eq true "$("$SITQ" pause "$DB" --queue p --json | jget "d['paused']")" "pause twice"
o=$("$SITQ" enqueue "$DB" --queue o -- echo from-o)
start_worker --queue p --queue o
expect_exit 0 "$SITQ" wait "$DB" "$o" --timeout 10
assert_eq queued "$(field "$p" status)" "paused queue's task stays queued"
expect_exit 0 "$SITQ" limit "$DB" --queue p
assert_eq "queue p: paused" "$(cat "$TMP/out")" "limit lists the pause"
assert_contains "$("$SITQ" queues "$DB")" "p (paused)" "queues marks the paused queue"
assert_eq "o:False p:True" "$("$SITQ" queues "$DB" --json | jget "' '.join(q['queue'] + ':' + str(q['paused']) for q in d)")" \
    "queues --json: paused"
expect_exit 0 "$SITQ" resume "$DB" --queue p
expect_exit 0 "$SITQ" wait "$DB" "$p" --timeout 10
assert_eq "from-p" "$("$SITQ" show "$DB" "$p" --value)" "resumed queue's task ran"
stop_worker

# Limits: set, list (text and JSON), replace, remove.
expect_exit 0 "$SITQ" limit "$DB" --function shell --concurrency 2 --rate 100/m
assert_eq "function shell: limit set" "$(cat "$TMP/out")" "limit set output"
expect_exit 0 "$SITQ" limit "$DB" --concurrency 8
expect_exit 0 "$SITQ" limit "$DB"
assert_eq "queue default: concurrency 8
function shell: concurrency 2 rate 100/m" "$(cat "$TMP/out")" "limit list"
json=$("$SITQ" limit "$DB" --json)
assert_eq "None 8 shell 2 100/m" \
    "$(echo "$json" | jget "' '.join(str(x) for l in d for x in (l['function'], l['concurrency'])) + ' ' + d[1]['rate']")" \
    "limit list --json"
expect_exit 0 "$SITQ" limit "$DB" -f shell --rate 5/30s
expect_exit 0 "$SITQ" limit "$DB"
assert_contains "$(cat "$TMP/out")" "function shell: rate 5/30s" "a set replaces the limit"
# An empty rate is refused: it read as no rate and removed the limit.
expect_exit 2 "$SITQ" limit "$DB" -f shell --rate ''
assert_contains "$(cat "$TMP/err")" "--rate must be COUNT/INTERVAL such as 100/m, got ''" "empty rate"
expect_exit 0 "$SITQ" limit "$DB"
assert_contains "$(cat "$TMP/out")" "function shell: rate 5/30s" "an empty rate keeps the limit"
expect_exit 0 "$SITQ" limit "$DB" -f shell --remove
expect_exit 0 "$SITQ" limit "$DB" --remove
expect_exit 0 "$SITQ" limit "$DB"
assert_eq "queue default: no pause, no limits" "$(cat "$TMP/out")" "all removed"
# Removing a limit that does not exist is an error (exit 1), and changes
# nothing: a pause stays.
expect_exit 1 "$SITQ" limit "$DB" -f shell --remove
assert_contains "$(cat "$TMP/err")" "function shell has no limit to remove" "remove unknown function"
assert_eq "" "$(cat "$TMP/out")" "no 'limit removed' for an unknown limit"
expect_exit 0 "$SITQ" pause "$DB"
expect_exit 1 "$SITQ" limit "$DB" --remove --json
assert_contains "$(cat "$TMP/err")" "queue default has no limit to remove" "remove unknown queue limit"
expect_exit 0 "$SITQ" limit "$DB"
assert_eq "queue default: paused" "$(cat "$TMP/out")" "a failed remove keeps the pause"
expect_exit 0 "$SITQ" resume "$DB"

# Bad input: usage errors (exit 2) with clear messages.
expect_exit 2 "$SITQ" limit "$DB" --concurrency 0
assert_contains "$(cat "$TMP/err")" "--concurrency must be a whole number 1..1000000000" "zero"
expect_exit 2 "$SITQ" limit "$DB" --concurrency -3
expect_exit 2 "$SITQ" limit "$DB" --rate 10/w
assert_contains "$(cat "$TMP/err")" "bad rate '10/w'" "bad rate unit"
expect_exit 2 "$SITQ" limit "$DB" --rate 0/s
expect_exit 2 "$SITQ" limit "$DB" --remove --concurrency 2
expect_exit 2 "$SITQ" pause "$DB" --function f
expect_exit 0 "$SITQ" limit "$DB"
assert_eq "queue default: no pause, no limits" "$(cat "$TMP/out")" "nothing stored by errors"

# A --queue that holds no task and has no setting is a typo: refused (exit
# 1, nothing stored) with the known queues, unless --new-queue.
for args in "pause" "resume" "limit --concurrency 2" "limit"; do
    # shellcheck disable=SC2086
    expect_exit 1 "$SITQ" $args "$DB" --queue typo
    assert_contains "$(cat "$TMP/err")" "unknown queue 'typo' (known queues: o, p)" "$args: typo"
    assert_contains "$(cat "$TMP/err")" "--new-queue" "$args: names the flag"
    assert_eq "" "$(cat "$TMP/out")" "$args: typo prints nothing"
done
assert_eq "o p" "$("$SITQ" queues "$DB" --json | jget "' '.join(q['queue'] for q in d)")" \
    "a refused typo creates no queue"
expect_exit 0 "$SITQ" pause "$DB" --queue fresh --new-queue
assert_eq "queue fresh paused" "$(cat "$TMP/out")" "--new-queue pauses a queue without tasks"
# Now the queue has a setting of its own: known without the flag.
expect_exit 0 "$SITQ" limit "$DB" --queue fresh --concurrency 3
expect_exit 0 "$SITQ" limit "$DB" --queue fresh
assert_eq "queue fresh: paused concurrency 3" "$(cat "$TMP/out")" "a known new queue"
expect_exit 0 "$SITQ" limit "$DB" --queue other --new-queue --rate 5/s
assert_eq "queue other: limit set" "$(cat "$TMP/out")" "--new-queue limits a queue without tasks"
expect_exit 0 "$SITQ" resume "$DB" --queue p
assert_eq "queue p resumed" "$(cat "$TMP/out")" "a queue with tasks needs no flag"
# A queue name's control bytes are spelt out on every line, also on the
# line of a queue with no setting.
expect_exit 0 "$SITQ" limit "$DB" --queue $'c\x01d' --new-queue
assert_eq 'queue c\x01d: no pause, no limits' "$(cat "$TMP/out")" "no settings: name escaped"
echo "ok"
