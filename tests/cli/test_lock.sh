#!/usr/bin/env bash
# A process stopped (SIGSTOP) while it holds the write lock: stats, list and
# show still answer at once; enqueue fails after --busy-timeout with a
# message saying another process holds the write lock; a worker started then
# keeps retrying (its open and its cycles) and runs the task once the lock is
# free.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
sqlite_only "a stopped process holding SQLite's file write lock (PostgreSQL has no file lock)"
HOLDER_PID=
trap 'rc=$?; [ -z "$HOLDER_PID" ] || kill -KILL "$HOLDER_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT

# hold_lock FILE [LINGER]: start a process that takes FILE's write lock
# (BEGIN IMMEDIATE) and stops itself; return once it is stopped. Continued,
# it keeps the lock LINGER seconds more (0 by default), then ends.
hold_lock() {
    /usr/bin/python3 -c '
import os, signal, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
os.kill(os.getpid(), signal.SIGSTOP)
time.sleep(float(sys.argv[2]))
' "$1" "${2:-0}" &
    HOLDER_PID=$!
    local i=0
    while [ "$(cut -d' ' -f3 "/proc/$HOLDER_PID/stat" 2>/dev/null)" != T ]; do
        kill -0 "$HOLDER_PID" 2>/dev/null || fail "the lock holder exited"
        [ $i -lt 400 ] || fail "the lock holder did not stop within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
}
# release_lock: continue the holder; it ends, which releases the lock.
release_lock() {
    kill -CONT "$HOLDER_PID"
    wait "$HOLDER_PID" || fail "the lock holder failed"
    HOLDER_PID=
}
# wait_log TEXT: poll the worker log until it contains TEXT (20 s at most).
wait_log() {
    local i=0
    until grep -qF "$1" "$TMP/worker.log" 2>/dev/null; do
        kill -0 "$WORKER_PID" 2>/dev/null || fail "worker exited while waiting for '$1'"
        [ $i -lt 400 ] || fail "worker did not log '$1' within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
}

id=$("$SITQ" enqueue "$DB" -- echo done)
hold_lock "$DB"

# Inspection does not need the write lock.
assert_contains "$("$SITQ" stats "$DB" --queue default)" "queued     1" "stats while the lock is held"
assert_contains "$("$SITQ" list "$DB")" "echo done" "list while the lock is held"
assert_eq queued "$(field "$id" status)" "show while the lock is held"

# A writer waits for --busy-timeout, then says who is in the way.
expect_exit 3 "$SITQ" enqueue "$DB" --busy-timeout 0.3 -- true
assert_contains "$(cat "$TMP/err")" "$DB is locked" "enqueue names the file"
assert_contains "$(cat "$TMP/err")" "holds the write lock" "enqueue explains the lock"
assert_contains "$(cat "$TMP/err")" "SITQ_EBUSY" "enqueue's code"

# So do cancel, retry and purge, a bulk run with its summary (exit 3).
expect_exit 3 "$SITQ" cancel "$DB" "$id" --busy-timeout 0.3
assert_contains "$(cat "$TMP/err")" "SITQ_EBUSY" "cancel's code"
expect_exit 3 "$SITQ" purge "$DB" --older-than 0 --busy-timeout 0.3 --json
assert_contains "$(cat "$TMP/err")" "SITQ_EBUSY" "purge's code"
expect_exit 3 "$SITQ" cancel "$DB" --status queued --busy-timeout 0.3 --json
assert_eq "0 0 [] SITQ_EBUSY" "$(jget "' '.join(map(str, [d['matched'], d['changed'], d['ids'],
    d['error']['code']]))" <"$TMP/out")" "the summary of a bulk cancel stopped by the lock"
expect_exit 3 "$SITQ" cancel "$DB" --status queued --busy-timeout 0.3
assert_eq "cancel: 0 matched, 0 cancelled, 0 skipped before an error stopped it" "$(cat "$TMP/out")" \
    "the text summary of a bulk cancel stopped by the lock"
assert_contains "$(cat "$TMP/err")" "$DB is locked" "the bulk cancel's reason"
expect_exit 2 "$SITQ" retry "$DB" "$id" --busy-timeout soon

# A worker started now opens, retries its cycles, and runs the task later.
start_worker --busy-timeout 0.2
wait_log "retrying"
assert_eq queued "$(field "$id" status)" "nothing ran while the lock was held"
release_lock
wait_status "$id" succeeded 20
stop_worker

# A stop is not held by a wait for the lock when the worker has no outcome
# to record: its claim and its last registry row give up after 2 s (each
# would otherwise wait the whole busy timeout, 30 s by default).
hold_lock "$DB"
start_worker --worker-id held-w
start=$(date +%s%N)
kill -TERM "$WORKER_PID"
rc=0
wait "$WORKER_PID" || rc=$?
WORKER_PID=
took_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq 0 "$rc" "a worker stopped while the lock is held exits 0"
[ "$took_ms" -lt 15000 ] || fail "the stop took ${took_ms} ms: it waited for the lock"
release_lock
states() { "$SITQ" workers "$DB" --all --json | jget "[w['state'] for w in d if w['id'] == '$1']"; }
assert_eq "[]" "$(states held-w)" "no last row while the lock was kept"

# ...but a lock held for a moment, as another worker's transaction holds it,
# does not lose the last registry row: the stop waits for it. The holder,
# continued, keeps the lock 0.5 s more, while the worker stops.
hold_lock "$DB" 0.5
start_worker --worker-id brief-w
kill -CONT "$HOLDER_PID"
kill -TERM "$WORKER_PID"
rc=0
wait "$WORKER_PID" || rc=$?
WORKER_PID=
wait "$HOLDER_PID" || fail "the lock holder failed"
HOLDER_PID=
assert_eq 0 "$rc" "a worker stopped while the lock is held briefly exits 0"
assert_eq '["stopped"]' "$(states brief-w)" "its last row, written once the lock was free"

# A new file whose creator stalls before sitq made its tables: the worker's
# open itself has to wait; it says so and retries until the lock is free.
NEW=$TMP/new.db
: >"$NEW"
hold_lock "$NEW"
"$SITQ" worker "$NEW" --busy-timeout 0.2 2>>"$TMP/worker.log" &
WORKER_PID=$!
wait_log "$NEW is locked by another process; retrying the open"
release_lock
wait_log "started on queue"
DB=$NEW
id=$("$SITQ" enqueue "$NEW" -- echo late)
wait_status "$id" succeeded 20
stop_worker
echo "ok"
