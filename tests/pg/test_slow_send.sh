#!/usr/bin/env bash
# test_slow_send.sh SITQ - a worker whose link to PostgreSQL is slow (run
# inside with_pg.sh): it reaches the server through link_proxy.py at
# 5 MB/s, and a task's 100 MB result takes 20 s to send, inside the write
# transaction of the worker's cycle. The server counts that time as idle in
# the transaction, whose timeout is 10 s: the result must still be stored,
# at the first try, not have the connection cut in every cycle.
export SITQ_TEST_BACKEND=postgres
. "$(dirname "$0")/../cli/lib.sh"
SIZE=100000000
setsid $PY "$(dirname "$0")/link_proxy.py" "$SITQ_TEST_PG_PORT" --up-rate 5000000 >"$TMP/proxy.port" 2>&1 &
EXTRA_PGIDS="$EXTRA_PGIDS $!"
for _ in $(seq 200); do [ -s "$TMP/proxy.port" ] && break; sleep 0.05; done
PORT=$(head -1 "$TMP/proxy.port")
[ -n "$PORT" ] || fail "the proxy did not start"
VIA="postgresql://postgres@127.0.0.1:$PORT/postgres?sitq_schema=$pg_schema"
expect_exit 0 "$SITQ" enqueue "$DB" -- head -c "$SIZE" /dev/zero
"$SITQ" worker "$VIA" --max-result "$SIZE" --lease 300 2>>"$TMP/worker.log" &
WORKER_PID=$!
until [ "$("$SITQ" stats "$DB" --json | jget "d['queues'][0]['succeeded']")" = 1 ]; do
    [ "$SECONDS" -lt 90 ] || break # the send takes 20 s
    sleep 0.2
done
stop_worker
assert_eq 1 "$("$SITQ" stats "$DB" --json | jget "d['queues'][0]['succeeded']")" "the task succeeded"
assert_eq "$SIZE" "$("$SITQ" wait "$DB" 1 --value | wc -c)" "the whole result was stored"
assert_eq 0 "$(grep -c 'database error' "$TMP/worker.log")" "no cycle failed"
echo "test_slow_send: a $SIZE-byte result stored through a 5 MB/s link: ok"
