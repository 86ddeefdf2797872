#!/usr/bin/env bash
# test_lost_commit.sh SITQ - a worker whose COMMIT answers are lost (run
# inside with_pg.sh): it reaches PostgreSQL through commit_cut_proxy.py,
# which lets some COMMITs reach the server and then cuts the connection
# before their answer. The worker reconnects and sends the outcomes of such
# a commit again; finding their tasks no longer running, it must say that
# the lost commit most likely recorded them, not that its lease was lost
# (it was not: the lease is 60 s). Every task runs exactly once.
export SITQ_TEST_BACKEND=postgres
. "$(dirname "$0")/../cli/lib.sh"
N=120
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid $PY "$(dirname "$0")/commit_cut_proxy.py" "$PORT" "$SITQ_TEST_PG_PORT" 0.2 7 >"$TMP/proxy.log" 2>&1 &
EXTRA_PGIDS="$EXTRA_PGIDS $!"
wait_log "$TMP/proxy.log" listening
VIA="postgresql://postgres@127.0.0.1:$PORT/postgres?sitq_schema=$pg_schema"
for i in $(seq "$N"); do echo "$i"; done >"$TMP/ids"
expect_exit 0 "$SITQ" enqueue "$DB" -- true # creates the schema on a direct connection
while read -r i; do
    "$SITQ" enqueue "$DB" -- sh -c "echo $i >>'$TMP/ran'" >/dev/null || fail "enqueue $i"
done <"$TMP/ids"
"$SITQ" worker "$VIA" --concurrency 4 --lease 60 2>>"$TMP/worker.log" &
WORKER_PID=$!
for _ in $(seq 1200); do # 60 s at most
    [ "$("$SITQ" stats "$DB" --json | jget "d['queues'][0]['succeeded']")" = $((N + 1)) ] && break
    sleep 0.05
done
stop_worker
assert_eq $((N + 1)) "$("$SITQ" stats "$DB" --json | jget "d['queues'][0]['succeeded']")" "every task succeeded"
assert_eq "$N" "$(wc -l <"$TMP/ran")" "every task ran once"
assert_eq "$N" "$(sort -u "$TMP/ran" | wc -l)" "no task ran twice"
cuts=$(grep -c '^cut' "$TMP/proxy.log") || true
[ "${cuts:-0}" -ge 1 ] || fail "no COMMIT answer was lost: the test tested nothing"
resent=$(grep -c 'most likely recorded it' "$TMP/worker.log") || true
[ "${resent:-0}" -ge 1 ] || fail "no outcome was sent again after a lost COMMIT answer ($cuts cuts)"
assert_eq 0 "$(grep -c 'the lease was lost (the task was' "$TMP/worker.log")" "no lease said lost"
echo "test_lost_commit: $N tasks, $cuts COMMIT answers lost, $resent outcomes sent again: ok"
