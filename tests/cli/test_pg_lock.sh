#!/usr/bin/env bash
# PostgreSQL: a session that holds a task's row lock (a process stopped in
# the middle of a transaction) makes an enqueue that depends on that task
# wait for the lock; --busy-timeout bounds that wait (the server's
# lock_timeout), as it bounds the wait for SQLite's file lock (test_lock.sh).
# The enqueue fails with SITQ_EBUSY, nothing is written, and it succeeds
# once the lock is gone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$ON_PG" = 1 ] || { echo "SKIP on SQLite: a row lock of PostgreSQL (test_lock.sh covers SQLite)"; exit 77; }
PSQL=(psql -X -q -At "$SITQ_TEST_PG_URI")
HOLDER_PID=
# The holder's session is ended by the server (pg_terminate_backend), not
# only by killing psql: a backend inside pg_sleep does not notice its client
# leave.
end_holder() {
    "${PSQL[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'sitq_lock_holder_$pg_schema'" >/dev/null 2>&1 || true
    if [ -n "$HOLDER_PID" ]; then
        kill -KILL "$HOLDER_PID" 2>/dev/null || true
        wait "$HOLDER_PID" 2>/dev/null || true
        HOLDER_PID=
    fi
}
trap 'rc=$?; end_holder; (exit $rc); cleanup' EXIT

parent=$("$SITQ" enqueue "$DB" -- echo parent)
# hold_lock ID: a session locks task ID's row and sleeps inside its
# transaction; return once it sleeps.
hold_lock() {
    PGAPPNAME=sitq_lock_holder_$pg_schema "${PSQL[@]}" -c "BEGIN" \
        -c "SELECT id FROM $pg_schema.tasks WHERE id = $1 FOR UPDATE" \
        -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
    HOLDER_PID=$!
    local i=0
    until [ "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity
            WHERE application_name = 'sitq_lock_holder_$pg_schema'
            AND query LIKE '%pg_sleep%' AND state = 'active'")" = 1 ]; do
        kill -0 "$HOLDER_PID" 2>/dev/null || fail "the lock holder exited"
        [ $i -lt 400 ] || fail "the lock holder did not take the lock within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
}
hold_lock "$parent"

# The wait ends after --busy-timeout, with the code and the reason.
start=$(date +%s%N)
expect_exit 3 "$SITQ" enqueue "$DB" --busy-timeout 0.5 --after "$parent" -- echo child
took_ms=$((($(date +%s%N) - start) / 1000000))
assert_contains "$(cat "$TMP/err")" "lock timeout of 0.5s" "enqueue names the timeout it gave"
assert_contains "$(cat "$TMP/err")" "SITQ_EBUSY" "enqueue's code"
# Far below the default of 30 s: the option reached the server.
[ "$took_ms" -lt 20000 ] || fail "enqueue waited ${took_ms} ms, not about --busy-timeout's 0.5 s"
assert_eq 1 "$("$SITQ" stats "$DB" --json | jget "d['total']")" "the failed enqueue wrote nothing"

# A usage error stays a usage error; a timeout above the server's hour is
# the hour, not an error.
expect_exit 2 "$SITQ" enqueue "$DB" --busy-timeout -1 -- true
end_holder

# A bulk cancel stopped by a lock on its third task: the two before it stay
# cancelled, and the summary (JSON, exit 3) still says which, and why it
# stopped; the tasks from the third on are untouched.
b=()
for i in 1 2 3 4; do b+=("$("$SITQ" enqueue "$DB" --queue bulk -- echo "$i")"); done
hold_lock "${b[2]}"
expect_exit 3 "$SITQ" cancel "$DB" --status queued --queue bulk --busy-timeout 0.5 --json
assert_eq "2 2 0 [${b[0]}, ${b[1]}] SITQ_EBUSY" "$(jget "' '.join(map(str, [d['matched'], d['changed'],
    d['skipped'], d['ids'], d['error']['code']]))" <"$TMP/out")" "the summary of a bulk cancel stopped by a lock"
assert_contains "$(jget "d['error']['message']" <"$TMP/out")" "lock timeout of 0.5s" "the summary's reason"
assert_contains "$(cat "$TMP/err")" "SITQ_EBUSY" "the error on standard error"
for i in 0 1; do assert_eq cancelled "$(field "${b[$i]}" status)" "bulk task $i"; done
for i in 2 3; do assert_eq queued "$(field "${b[$i]}" status)" "bulk task $i, past the error"; done
end_holder
child=$("$SITQ" enqueue "$DB" --busy-timeout 7200 --after "$parent" -- echo child)
assert_eq waiting "$(field "$child" status)" "the child waits for its parent once the lock is gone"

# A stop is not held by a lock another session keeps (an administrator's
# LOCK TABLE, a process stopped in its transaction) when the worker has no
# outcome to record: after 2 s its statement is cancelled, instead of
# waiting the lock timeout (30 s by default).
# stop_under_lock ID [frozen]: start worker ID, lock the tasks table, stop
# the worker once its poll waits for the table (with "frozen", its server
# process is stopped too, so that neither the statement nor its cancel is
# ever answered); the stop must end within 15 s and exit 0.
FROZEN_PID=
trap 'rc=$?; [ -n "$FROZEN_PID" ] && kill -CONT "$FROZEN_PID" 2>/dev/null; end_holder; (exit $rc); cleanup' EXIT
stop_under_lock() {
    start_worker --worker-id "$1"
    PGAPPNAME=sitq_lock_holder_$pg_schema "${PSQL[@]}" -c "BEGIN" \
        -c "LOCK TABLE $pg_schema.tasks IN ACCESS EXCLUSIVE MODE" \
        -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
    HOLDER_PID=$!
    local i=0 waiting=
    until waiting=$("${PSQL[@]}" -c "SELECT pid FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%$pg_schema%'
            AND application_name <> 'sitq_lock_holder_$pg_schema' LIMIT 1") && [ -n "$waiting" ]; do
        kill -0 "$HOLDER_PID" 2>/dev/null || fail "the lock holder exited"
        [ $i -lt 600 ] || fail "the worker did not wait for the table lock within 30 s"
        sleep 0.05
        i=$((i + 1))
    done
    if [ "${2:-}" = frozen ]; then
        FROZEN_PID=$waiting
        kill -STOP "$FROZEN_PID"
    fi
    local start rc=0
    start=$(date +%s%N)
    kill -TERM "$WORKER_PID"
    wait "$WORKER_PID" || rc=$?
    WORKER_PID=
    took_ms=$((($(date +%s%N) - start) / 1000000))
    if [ -n "$FROZEN_PID" ]; then
        kill -CONT "$FROZEN_PID"
        FROZEN_PID=
    fi
    assert_eq 0 "$rc" "worker $1 stopped while a lock is kept exits 0"
    [ "$took_ms" -lt 15000 ] || fail "the stop of $1 took ${took_ms} ms: it waited for the lock"
    echo "the stop of $1 took ${took_ms} ms"
}
start_worker
# The tasks left above are done first: an outcome waits for the lock (up
# to --stop-timeout), only a cycle with nothing to record is cut short.
wait_status "$child" succeeded 20
stop_worker
stop_under_lock held-w
assert_eq "0" "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query LIKE '%$pg_schema%'")" "no statement left waiting"
end_holder
# Only the poll's statement was cancelled: the last registry row (the
# workers table, which the lock does not cover) was written.
assert_eq '["stopped"]' "$("$SITQ" workers "$DB" --all --json |
    jget "[w['state'] for w in d if w['id'] == 'held-w']")" "the last row of the stopped worker"
# A server process that answers neither the statement nor the cancel: the
# connection is given up 2 s after the cancel.
stop_under_lock frozen-w frozen
end_holder

# Purge against a dependent committed while it ran. A session plays an
# enqueue of a child of `x` (its FOR SHARE lock on x, its rows) and commits
# once the purge has read the table; x must stay (the child may read its
# result), whichever way the purge meets the lock.
# in_session SQL...: run the statements in one transaction of a session
# that holds its locks until a row appears in the table $GO, then commits.
GO=public.go_$pg_schema
in_session() {
    "${PSQL[@]}" -c "SET client_min_messages = warning; DROP TABLE IF EXISTS $GO; CREATE TABLE $GO(x int)"
    local args=() q
    for q in "$@"; do args+=(-c "$q"); done
    PGAPPNAME=sitq_lock_holder_$pg_schema "${PSQL[@]}" -c "BEGIN" "${args[@]}" \
        -c "DO \$\$BEGIN WHILE NOT EXISTS (SELECT 1 FROM $GO) LOOP
            PERFORM pg_sleep(0.05); END LOOP; END\$\$" -c "COMMIT" >"$TMP/session.out" 2>&1 &
    HOLDER_PID=$!
    local i=0
    until [ "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity
            WHERE application_name = 'sitq_lock_holder_$pg_schema'
            AND query LIKE '%pg_sleep%' AND state = 'active'")" = 1 ]; do
        kill -0 "$HOLDER_PID" 2>/dev/null || fail "the session exited: $(cat "$TMP/session.out")"
        [ $i -lt 400 ] || fail "the session did not take its locks within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
}
# purge_past_session: run a purge while the session holds its locks; let the
# session commit once the purge waits for a lock or has ended.
purge_past_session() {
    "$SITQ" purge "$DB" --older-than 0 --json >"$TMP/purge.out" 2>&1 &
    local purge=$! i=0
    while kill -0 "$purge" 2>/dev/null && [ "$("${PSQL[@]}" -c "SELECT count(*)
            FROM pg_stat_activity WHERE wait_event_type = 'Lock'
            AND query LIKE '%$pg_schema%'")" = 0 ]; do
        [ $i -lt 400 ] || fail "the purge neither waited nor ended within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
    "${PSQL[@]}" -c "INSERT INTO $GO VALUES(1)"
    wait "$HOLDER_PID" || fail "the session failed: $(cat "$TMP/session.out")"
    HOLDER_PID=
    wait "$purge" || fail "the purge failed: $(cat "$TMP/purge.out")"
}
x=$("$SITQ" enqueue "$DB" -- echo x)
start_worker
wait_status "$x" succeeded 20
stop_worker
in_session "SELECT id FROM $pg_schema.tasks WHERE id = $x FOR SHARE" \
    "INSERT INTO $pg_schema.tasks(id, queue, function, state, run_at_us, enqueued_at_us)
     VALUES(nextval('$pg_schema.task_ids'), 'default', 'shell', 0, 9000000000000000, 0)" \
    "INSERT INTO $pg_schema.deps(task_id, depends_on) VALUES(currval('$pg_schema.task_ids'), $x)"
purge_past_session
expect_exit 0 "$SITQ" show "$DB" "$x"
assert_contains "$(cat "$TMP/out")" "succeeded" "a task a dependent committed during the purge is kept"

# Purge against a retry of a cancelled dependent (the session plays it: its
# locks on the task and its dependency, the new state): the retried task
# keeps its dependency and its edge.
t=$("$SITQ" enqueue "$DB" --after "$x" --delay 1h -- cat)
expect_exit 0 "$SITQ" cancel "$DB" "$t"
in_session "SELECT id FROM $pg_schema.tasks WHERE id = $t FOR NO KEY UPDATE" \
    "SELECT id FROM $pg_schema.tasks WHERE id = $x FOR SHARE" \
    "UPDATE $pg_schema.tasks SET state = 0, finished_at_us = NULL WHERE id = $t"
purge_past_session
assert_eq "[$x]" "$("$SITQ" show "$DB" "$t" --json | jget "d['depends_on']")" \
    "a task retried during the purge keeps its dependency"
expect_exit 0 "$SITQ" show "$DB" "$x"
echo "ok"
