#!/usr/bin/env bash
# Cancelling a running task kills its command's process group; so does a
# worker shutdown whose --stop-timeout passes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pidfile=$TMP/pgid
id=$("$SITQ" enqueue "$DB" -- sh -c 'echo $$ > "$0"; sleep 300' "$pidfile")
start_worker --kill-grace 1
wait_status "$id" running 10
for _ in $(seq 1 100); do [ -s "$pidfile" ] && break; sleep 0.05; done
pgid=$(cat "$pidfile")
EXTRA_PGIDS=$pgid
expect_exit 0 "$SITQ" cancel "$DB" "$id" --json
assert_eq running "$(jget "d['status']" < "$TMP/out")" "cancel of a running task"
expect_exit 5 "$SITQ" wait "$DB" "$id" --timeout 10
assert_eq cancelled "$(field "$id" status)" "status after cancel"
for _ in $(seq 1 40); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.05; done
if kill -0 -- "-$pgid" 2>/dev/null; then fail "process group $pgid survived the cancel"; fi
assert_eq "cancelled while running: process group killed" "$(field "$id" error)" \
    "error of a task cancelled while running (the word once)"
stop_worker
# The worker's log says cancelled, as the status does, not failed.
assert_contains "$(cat "$TMP/worker.log")" "task $id: cancelled: process group killed" \
    "worker log of a cancelled task"
if grep -q "task $id: failed" "$TMP/worker.log"; then fail "worker logged the cancelled task as failed"; fi
assert_contains "$(cat "$TMP/worker.log")" "1 claimed, 0 succeeded, 0 failed, 1 cancelled" \
    "worker summary counts the cancelled attempt apart"

# --stop-timeout: a command still running at shutdown is killed, exit code 1
rm -f "$pidfile"
id=$("$SITQ" enqueue "$DB" -- sh -c 'echo $$ > "$0"; sleep 300' "$pidfile")
start_worker --stop-timeout 0.5 --kill-grace 1
wait_status "$id" running 10
for _ in $(seq 1 100); do [ -s "$pidfile" ] && break; sleep 0.05; done
pgid=$(cat "$pidfile")
EXTRA_PGIDS="$EXTRA_PGIDS $pgid"
t0=$(date +%s)
kill -TERM "$WORKER_PID"
rc=0
wait "$WORKER_PID" || rc=$?
WORKER_PID=
[ $(($(date +%s) - t0)) -le 5 ] || fail "worker took more than 5 s to stop"
assert_eq 1 "$rc" "worker exit code when commands had to be killed"
assert_eq failed "$(field "$id" status)" "task killed at shutdown"
assert_contains "$(field "$id" error)" "shutting down" "error of a task killed at shutdown"
for _ in $(seq 1 40); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.05; done
if kill -0 -- "-$pgid" 2>/dev/null; then fail "process group $pgid survived the shutdown"; fi
echo "ok"
