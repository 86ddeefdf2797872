#!/usr/bin/env bash
# SIGTERM lets the running task finish, then the worker exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The running command waits for a line on a fifo, sent only once the worker
# has begun to stop, so that it is surely running at SIGTERM.
mkfifo "$TMP/go"
id=$("$SITQ" enqueue "$DB" -- sh -c 'read x < "$1"; echo done' sh "$TMP/go")
later=$("$SITQ" enqueue "$DB" --priority -1 -- echo later)
start_worker
wait_status "$id" running 10
t0=$(date +%s%N)
kill -TERM "$WORKER_PID"
wait_log "$TMP/worker.log" "stopping"
timeout 10 sh -c 'echo go >"$1"' sh "$TMP/go" || fail "the running command was gone at SIGTERM"
rc=0
wait "$WORKER_PID" || rc=$?
WORKER_PID=
t1=$(date +%s%N)
assert_eq 0 "$rc" "worker exit code after SIGTERM"
assert_eq succeeded "$(field "$id" status)" "task running at SIGTERM"
assert_eq done "$("$SITQ" show "$DB" "$id" --value)" "its result"
assert_eq queued "$(field "$later" status)" "task not started before SIGTERM stays queued"
[ $(( (t1 - t0) / 1000000 )) -lt 10000 ] || fail "worker took too long to stop"
assert_contains "$(cat "$TMP/worker.log")" "stopping" "worker log says stopping"

# SIGINT works the same way
start_worker
kill -INT "$WORKER_PID"
rc=0
wait "$WORKER_PID" || rc=$?
WORKER_PID=
assert_eq 0 "$rc" "worker exit code after SIGINT"

# --max-tasks: the worker stops by itself after that many attempts
one=$("$SITQ" enqueue "$DB" -- echo one)
rc=0
timeout 15 "$SITQ" worker "$DB" --max-tasks 1 --quiet || rc=$?
assert_eq 0 "$rc" "worker --max-tasks 1 exit code"
assert_eq succeeded "$(field "$one" status)" "task run by the --max-tasks worker"
echo "ok"
