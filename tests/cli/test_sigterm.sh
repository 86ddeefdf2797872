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
# ... and never starts more than that, however many tasks wait and however
# many slots it has (it used to run what it claimed before it noticed)
for i in $(seq 1 30); do "$SITQ" enqueue "$DB" --queue cap -- true >/dev/null; done
rc=0
timeout 30 "$SITQ" worker "$DB" --queue cap --max-tasks 2 --concurrency 4 --quiet || rc=$?
assert_eq 0 "$rc" "worker --max-tasks 2 --concurrency 4 exit code"
assert_eq 2 "$("$SITQ" stats "$DB" --queue cap --json | jget "d['succeeded']")" \
    "tasks run under --max-tasks 2"
assert_eq 28 "$("$SITQ" stats "$DB" --queue cap --json | jget "d['queued']")" \
    "tasks left queued under --max-tasks 2"
# --stop-timeout 0 with nothing running: nothing is killed, a clean stop
start_worker --queue idle --stop-timeout 0
kill -TERM "$WORKER_PID"
rc=0
wait "$WORKER_PID" || rc=$?
WORKER_PID=
assert_eq 0 "$rc" "worker exit code after SIGTERM with --stop-timeout 0 and nothing running"

# A second signal cuts the wait short: the running command is killed, its
# attempt recorded as failed, and the worker exits 1 long before
# --stop-timeout.
slow=$("$SITQ" enqueue "$DB" -- sleep 300)
: >"$TMP/worker.log"
start_worker --stop-timeout 600 --kill-grace 1
wait_status "$slow" running 10
kill -TERM "$WORKER_PID"
wait_log "$TMP/worker.log" "stopping"
kill -INT "$WORKER_PID"
timeout 60 tail --pid="$WORKER_PID" -f /dev/null || fail "the second signal did not stop the worker"
rc=0
wait "$WORKER_PID" || rc=$?
WORKER_PID=
assert_eq 1 "$rc" "worker exit code after a second signal"
assert_contains "$(cat "$TMP/worker.log")" "second signal: " "the log names the second signal"
assert_eq failed "$(field "$slow" status)" "the killed command's attempt is recorded"
assert_contains "$(field "$slow" error)" "worker shutting down" "its error"

# A store that fails while the worker stops (a full disk under SQLite) does
# not hold it: the outcome it cannot record is left to the task's lease,
# and the worker exits 1 once --stop-timeout and a short margin have
# passed. It waited forever before, deaf to further signals.
if can_fill_disk; then
    mkdir -p "$TMP/full"
    mkfifo "$TMP/go2"
    rc=0
    unshare -m sh -c 'mount -t tmpfs -o size=4m tmpfs "$1" || exit 9
        id=$("$2" enqueue "$1/q.db" -- sh -c "read x <\"\$1\"; echo done" sh "$3")
        "$2" worker "$1/q.db" --stop-timeout 1 --kill-grace 1 2>"$1/../full.log" &
        w=$!
        i=0
        until "$2" show "$1/q.db" "$id" --json | grep -q "\"status\": \"running\""; do
            [ $i -lt 200 ] || exit 8
            sleep 0.05; i=$((i + 1))
        done
        head -c 8M /dev/zero >"$1/fill" 2>/dev/null
        echo go >"$3"
        i=0
        until grep -q "full" "$1/../full.log"; do
            [ $i -lt 200 ] || exit 7
            sleep 0.05; i=$((i + 1))
        done
        kill -TERM $w
        timeout 30 tail --pid=$w -f /dev/null || { kill -KILL $w; exit 6; }
        wait $w
        echo "worker exit $?"
        rm "$1/fill"
        "$2" show "$1/q.db" "$id" --json' \
        sh "$TMP/full" "$SITQ" "$TMP/go2" >"$TMP/full.out" 2>&1 || rc=$?
    [ "$rc" -ne 9 ] || fail "cannot mount a tmpfs"
    [ "$rc" -ne 8 ] || fail "the task did not start on the small file system"
    [ "$rc" -ne 7 ] || fail "the worker logged no store error on the full disk"
    [ "$rc" -ne 6 ] || fail "the worker did not stop on a failing store: $(cat "$TMP/full.log")"
    out=$(cat "$TMP/full.out")
    log=$(cat "$TMP/full.log")
    assert_contains "$out" "worker exit 1" "exit code of a stop on a failing store"
    assert_contains "$log" "stop timeout (1 s): the database is failing" "the log says why"
    assert_contains "$log" "database or disk is full" "the log names the store's error"
    assert_contains "$log" "1 lost" "the unrecorded outcome counts as lost"
    assert_contains "$out" '"status": "running"' "the task waits for its lease to lapse"
fi
echo "ok"
