#!/usr/bin/env bash
# pg_bench.sh - the PostgreSQL benchmark in one run against a throwaway
# durable cluster (tests/pg/with_pg.sh: fsync on, synchronous_commit on):
#
#   bench/pg_bench.sh [TASKS]        # default 10000 end-to-end tasks
#
# 1. sitq_bench --scenario pg: raw one-row commits (one connection, and 16
#    at once) and 1,000-row insert transactions through libpq, then sitq's
#    end-to-end drain (enqueue_batch
#    of TASKS, 2 handler threads), enqueue_batch of 100k and 16 producer
#    threads one task per call;
# 2. the raw claim-and-complete cycle of bench/pg_raw_cycle.sql with pgbench
#    (2 clients, batch 200, over 300k queued rows): the SQL ceiling of a
#    queue on this server;
# 3. the ratios of sitq's figures to those ceilings.
# Figures also go to bench/results/pg.jsonl (one JSON object per line).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ -z "${SITQ_TEST_PG_URI:-}" ]; then
  exec "$root/tests/pg/with_pg.sh" "$0" "$@"
fi
TASKS=${1:-10000}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
uri=$SITQ_TEST_PG_URI
out=$(mktemp)
trap 'rm -f "$out"' EXIT
mkdir -p "$here/results"
json="$here/results/pg.jsonl"
: >"$json"

SITQ_BENCH_PG_URI=$uri "$root/build/sitq_bench" --scenario pg --tasks "$TASKS" --json "$json" | tee "$out"

psql() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$uri" "$@"; }
psql -c "DROP TABLE IF EXISTS jobs" -c "CREATE TABLE jobs (id bigint PRIMARY KEY,
  queue text NOT NULL, state smallint NOT NULL, priority int NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0, worker int,
  lease_token bigint, lease_until timestamptz, result bytea) WITH (fillfactor = 80)" \
  -c "CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 0" \
  -c "CREATE INDEX jobs_running ON jobs (queue, id) WHERE state = 3" \
  -c "INSERT INTO jobs (id, queue, state) SELECT g, 'default', 0 FROM generate_series(1, 300000) g" \
  -c "VACUUM ANALYZE jobs"
tps=$("$PGBIN/pgbench" -n -f "$here/pg_raw_cycle.sql" -c 2 -j 2 -T 8 -D batch=200 "$uri" 2>/dev/null |
  awk '/^tps = / {print $3; exit}')
raw_cycle=$(awk -v t="$tps" 'BEGIN {printf "%.0f", t * 200}')
echo "raw-pg pg_raw cycle_batch200_2clients tasks_per_s $raw_cycle tasks/s"
printf '{"system":"raw-pg","scenario":"pg_raw","variant":"cycle_batch200_2clients","metric":"tasks_per_s","value":%s,"unit":"tasks/s","run":1}\n' "$raw_cycle" >>"$json"
psql -c "DROP TABLE jobs"

fig() { awk -v s="$1" -v v="$2" '$2 == s && $3 == v && $4 ~ /_per_s$/ {print $5; exit}' "$out"; }
e2e=$(fig pg_e2e durable)
batch=$(fig pg_enqueue batch_10000)
prod=$(fig pg_enqueue 16_threads)
one=$(fig pg_raw one_row_commit)
one16=$(fig pg_raw one_row_commit_16_conns)
rows=$(fig pg_raw 1000_row_txn)
echo
echo "ratios (same run):"
awk -v a="$e2e" -v b="$raw_cycle" 'BEGIN {printf "  e2e drain / raw claim-and-complete cycle: %.0f / %.0f = %.2f\n", a, b, a / b}'
awk -v a="$batch" -v b="$rows" 'BEGIN {printf "  enqueue_batch / raw 1,000-row inserts:    %.0f / %.0f = %.2f\n", a, b, a / b}'
awk -v a="$prod" -v b="$one" 'BEGIN {printf "  16 producers / raw one-row commits (1 conn): %.0f / %.0f = %.2f\n", a, b, a / b}'
awk -v a="$prod" -v b="$one16" 'BEGIN {printf "  16 producers / raw one-row commits (16 conns): %.0f / %.0f = %.2f\n", a, b, a / b}'
