#!/usr/bin/env bash
# `sitq metrics`: exact values after known work (successes, failures, a
# retry, a queue name that needs escaping, a stopped worker), the text
# passes `promtool check metrics`, and the usage errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# metric NAME{LABELS}: the value of one sample of $TMP/m.txt.
metric() {
    local v
    v=$(K="$1 " awk 'index($0, ENVIRON["K"]) == 1 {print $NF; exit}' "$TMP/m.txt")
    [ -n "$v" ] || fail "no sample $1 in the metrics"
    echo "$v"
}

# An empty store: the families are there, no queue.
"$SITQ" enqueue "$DB" --queue 'q"\x' -- true >/dev/null
expect_exit 0 "$SITQ" metrics "$DB"
cp "$TMP/out" "$TMP/m.txt"
assert_eq 1 "$(metric 'sitq_tasks{queue="q\"\\x",status="queued"}')" "escaped queue label"
assert_eq 1 "$(metric 'sitq_queues')" "queues"

# Known work: 3 successes, 2 failures (one of them retried once), one task
# scheduled for later; a burst worker runs them and stops cleanly.
for _ in 1 2 3; do "$SITQ" enqueue "$DB" -- true >/dev/null; done
"$SITQ" enqueue "$DB" -- false >/dev/null
"$SITQ" enqueue "$DB" --retries 1 --backoff 0.01 -- false >/dev/null
"$SITQ" enqueue "$DB" --delay 1h -- true >/dev/null
"$SITQ" worker "$DB" --burst --burst-eta-bound 5 --worker-id met-w --quiet
expect_exit 0 "$SITQ" metrics "$DB"
cp "$TMP/out" "$TMP/m.txt"
assert_eq 3 "$(metric 'sitq_tasks{queue="default",status="succeeded"}')" "succeeded"
assert_eq 2 "$(metric 'sitq_tasks{queue="default",status="failed"}')" "failed"
assert_eq 1 "$(metric 'sitq_tasks{queue="default",status="scheduled"}')" "scheduled"
assert_eq 0 "$(metric 'sitq_tasks{queue="default",status="queued"}')" "queued"
assert_eq 0 "$(metric 'sitq_queue_oldest_ready_age_seconds{queue="default"}')" "no ready task"
assert_eq 1 "$(metric 'sitq_workers{state="stopped"}')" "stopped workers"
assert_eq 0 "$(metric 'sitq_workers{state="running"}')" "running workers"
assert_eq 3 "$(metric 'sitq_worker_attempts_total{worker="met-w",outcome="succeeded"}')" "attempts ok"
assert_eq 3 "$(metric 'sitq_worker_attempts_total{worker="met-w",outcome="failed"}')" "attempts failed"
assert_eq 0 "$(metric 'sitq_worker_attempts_total{worker="met-w",outcome="lost"}')" "attempts lost"
# The store's counters: 6 enqueued; 3 successes, 2 final failures, 1 retry.
assert_eq 6 "$(metric 'sitq_tasks_enqueued_total{queue="default"}')" "enqueued total"
assert_eq 3 "$(metric 'sitq_task_attempts_total{queue="default",outcome="succeeded"}')" "store ok"
assert_eq 2 "$(metric 'sitq_task_attempts_total{queue="default",outcome="failed"}')" "store failed"
assert_eq 1 "$(metric 'sitq_task_attempts_total{queue="default",outcome="retried"}')" "store retried"
assert_eq 0 "$(metric 'sitq_task_attempts_total{queue="default",outcome="lost"}')" "store lost"
assert_eq 0 "$(metric 'sitq_tasks_cancelled_total{queue="default"}')" "store cancelled"
assert_eq 1 "$(metric 'sitq_tasks_enqueued_total{queue="q\"\\x"}')" "escaped counter label"
# A purge deletes the finished tasks: the gauge drops, the counters stay.
"$SITQ" purge "$DB" --older-than 0 >/dev/null
"$SITQ" cancel "$DB" "$("$SITQ" list "$DB" --status scheduled --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" >/dev/null
"$SITQ" metrics "$DB" >"$TMP/m2.txt"
cp "$TMP/m.txt" "$TMP/m1.txt"
cp "$TMP/m2.txt" "$TMP/m.txt"
assert_eq 0 "$(metric 'sitq_tasks{queue="default",status="succeeded"}')" "succeeded after purge"
assert_eq 3 "$(metric 'sitq_task_attempts_total{queue="default",outcome="succeeded"}')" "ok after purge"
assert_eq 2 "$(metric 'sitq_task_attempts_total{queue="default",outcome="failed"}')" "failed after purge"
assert_eq 1 "$(metric 'sitq_tasks_cancelled_total{queue="default"}')" "cancelled"
cp "$TMP/m1.txt" "$TMP/m.txt"
if [ "$ON_PG" = 1 ]; then
    assert_eq 'sitq_store_info{backend="postgres"} 1' "$(grep '^sitq_store_info' "$TMP/m.txt")" "backend"
    metric sitq_store_dead_tuples >/dev/null
    metric sitq_store_oldest_transaction_age_seconds >/dev/null
else
    assert_eq 'sitq_store_info{backend="sqlite"} 1' "$(grep '^sitq_store_info' "$TMP/m.txt")" "backend"
    assert_eq "$(stat -c %s "$DB")" "$(metric sitq_store_bytes)" "database size"
    metric sitq_store_wal_bytes >/dev/null
fi

# A ready task ages (its age is at least the time since it was enqueued).
"$SITQ" enqueue "$DB" --queue aged -- true >/dev/null
sleep 0.2
"$SITQ" metrics "$DB" >"$TMP/m.txt"
age=$(metric 'sitq_queue_oldest_ready_age_seconds{queue="aged"}')
assert_eq 1 "$("$PY" -c "print(int($age >= 0.2 and $age < 600))")" "age of the oldest ready task ($age)"

# HELP and TYPE before every family; promtool agrees.
assert_eq "$(grep -c '^# TYPE' "$TMP/m.txt")" "$(grep -c '^# HELP' "$TMP/m.txt")" "HELP per TYPE"
if command -v promtool >/dev/null; then
    promtool check metrics <"$TMP/m.txt" || fail "promtool check metrics"
else
    echo "promtool not installed (Debian package prometheus): its check is skipped" >&2
fi

# Usage errors.
expect_exit 2 "$SITQ" metrics "$DB" --json
expect_exit 2 "$SITQ" metrics "$DB" --queue default
expect_exit 2 "$SITQ" metrics
[ "$ON_PG" = 1 ] || expect_exit 3 "$SITQ" metrics "$TMP/missing.db"
echo "ok"
