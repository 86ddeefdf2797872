#!/usr/bin/env bash
# A worker whose lease was lost while its command ran (it was frozen, and
# another worker recovered the task) logs that the outcome was dropped, not
# "succeeded" or "failed", and counts it as lost in its final summary.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

B_PID=
stop_b() {
    if [ -n "$B_PID" ]; then
        kill -KILL "$B_PID" 2>/dev/null || true
        wait "$B_PID" 2>/dev/null || true
        B_PID=
    fi
}
trap 'rc=$?; stop_b; [ -z "$WORKER_PID" ] || kill -CONT "$WORKER_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT

mkfifo "$TMP/fifo"
id=$("$SITQ" enqueue "$DB" -- cat "$TMP/fifo")
start_worker --lease 1
wait_status "$id" running
kill -STOP "$WORKER_PID"
# A second worker recovers the task once the frozen worker's lease lapses.
"$SITQ" worker "$DB" --lease 1 2>"$TMP/b.log" &
B_PID=$!
wait_status "$id" failed 20
assert_contains "$(field "$id" error)" "lost" "error of the recovered task"
stop_b
kill -CONT "$WORKER_PID"
# The thawed worker's heartbeat learns that its lease is gone and stops the
# command (which would wait for the fifo forever); the failure it reports
# must not be recorded.
wait_log "$TMP/worker.log" "task $id: "
log=$(cat "$TMP/worker.log")
assert_contains "$log" "task $id: " "worker log"
assert_contains "$log" "but the outcome was dropped: the lease was lost" "worker log"
if grep "task $id: succeeded\|task $id: failed" "$TMP/worker.log" | grep -qv dropped; then
    fail "the dropped outcome was logged as recorded"
fi
stop_worker
assert_contains "$(cat "$TMP/worker.log")" "released, 1 lost" "final summary"
assert_eq failed "$(field "$id" status)" "status after the late completion"
echo "ok"
