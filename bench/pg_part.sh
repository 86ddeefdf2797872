#!/usr/bin/env bash
# bench/pg_part.sh - the PostgreSQL part of the benchmark (bench/run.sh runs it
# once per round as part "pg"), against one throwaway durable cluster that it
# starts itself through tests/pg/with_pg.sh (fsync on, synchronous_commit on,
# 127.0.0.1 only) and that is removed when it ends:
#
#   bench/pg_part.sh --json FILE [--run R] [--tasks N] [--quick] [--soak-s S]
#                    [--soak-rate R] [--soak-naptime S] [--no-peers] [--build DIR]
#
# In this order, on that one cluster:
#  1. sitq_bench --scenario pg: raw one-row commits (1 and 16 connections),
#     then --scenario pg_limits (the claim's cost with limits on and off),
#     1,000-row insert transactions (a narrow table, and one of sitq's tasks
#     shape), sitq's end-to-end drain (LISTEN and poll_only), enqueue_batch
#     of 100k, 16 producer threads;
#  2. the raw claim-and-complete cycle of bench/pg_raw_cycle.sql with pgbench
#     (2 clients, batch 200, 700 transactions each over 300k queued rows),
#     then the same 280,000 tasks with 1, 4 and 16 clients;
#  3. sitq through Python: bench/python_bench.py --pg (enqueue_batch, then a
#     worker with 2 threads);
#  4. the peers, each in its own database: graphile-worker 0.17.3 batched
#     (localQueue.size 500, completeJobBatchDelay 0) and with its defaults,
#     pg-boss 10.4.2 fetch-and-complete loops (1 and 100 jobs per fetch);
#     installed with `npm ci` in bench/peers/* when missing;
#  5. sitq_bench --scenario pg_latency,pg_procs: enqueue in another process
#     to start (LISTEN and poll_only), 1, 4 and 16 worker processes;
#  6. with --soak-s S: sitq_bench --scenario pg_soak, S seconds at 80% load
#     (or at --soak-rate R tasks/s, the same load for every build compared),
#     after the server's autovacuum_naptime is set to --soak-naptime (default
#     1 s; the rows before run with the server's default, 60 s): autovacuum is
#     what removes the ready index's entries of claimed tasks, and at tens of
#     thousands of tasks a second a minute of them makes every claim walk
#     millions (docs/architecture.md, "Server settings").
# Every figure is appended to FILE (JSON lines), each row with its
# commits_per_task. Slow variants (graphile-worker's defaults, pg-boss one
# job per fetch) run N/4 tasks, so that a round stays short.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ -z "${SITQ_TEST_PG_URI:-}" ]; then
  exec "$root/tests/pg/with_pg.sh" "$0" "$@"
fi
JSON="" RUN=1 TASKS=20000 QUICK="" SOAK=0 SOAK_RATE=0 NAPTIME=1 PEERS=1 BUILD="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON="$2"; shift ;;
    --run) RUN="$2"; shift ;;
    --tasks) TASKS="$2"; shift ;;
    --quick) QUICK=--quick ;;
    --soak-s) SOAK="$2"; shift ;;
    --soak-rate) SOAK_RATE="$2"; shift ;;
    --soak-naptime) NAPTIME="$2"; shift ;;
    --no-peers) PEERS=0 ;;
    --build) BUILD="$2"; shift ;;
    *) echo "pg_part.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$JSON" ] || { echo "pg_part.sh: --json FILE is needed" >&2; exit 2; }
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
BENCH="${SITQ_BENCH:-$BUILD/sitq_bench}"
export SITQ_BENCH_PG_URI="$SITQ_TEST_PG_URI"
uri=$SITQ_TEST_PG_URI
base=${uri%/*}
rc=0
fail() { echo "pg_part.sh: $*" >&2; rc=1; }
emit() { # system scenario variant metric value unit
  printf '{"system":"%s","scenario":"%s","variant":"%s","metric":"%s","value":%s,"unit":"%s","run":%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$RUN" | tee -a "$JSON"
}
psql_db() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$base/$1" "${@:2}"; }
# Transactions committed so far in database $1, read from template1 once no
# client session is left in it (a session flushes its counts as it ends).
xacts() {
  local i
  for i in $(seq 400); do
    [ "$(psql_db template1 -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND backend_type = 'client backend'")" = 0 ] && break
    sleep 0.025
  done
  sleep 0.02
  psql_db template1 -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$1'"
}
per_task() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.6g", (b - a) / n}'; }

# ---- 1. sitq through the C API, with the raw ceilings ----------------------------
"$BENCH" --scenario pg --tasks "$TASKS" --run-index "$RUN" --json "$JSON" $QUICK || fail "sitq_bench --scenario pg failed"
# The claim's cost with limits off, on another queue and on (ratios to off).
"$BENCH" --scenario pg_limits --tasks "$TASKS" --run-index "$RUN" --json "$JSON" $QUICK || fail "sitq_bench --scenario pg_limits failed"

# ---- 2. the raw claim-and-complete cycle (pgbench) ---------------------------------
# raw_cycle CLIENTS: 280,000 tasks (1,400 transactions of 200, shared among the
# clients) over 300k queued rows in a fresh table, one client per thread.
raw_cycle() {
  local c=$1 per=$((1400 / $1)) tps
  psql_db postgres -c "DROP TABLE IF EXISTS jobs" -c "CREATE TABLE jobs (id bigint PRIMARY KEY,
    queue text NOT NULL, state smallint NOT NULL, priority int NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0, worker int,
    lease_token bigint, lease_until timestamptz, result bytea) WITH (fillfactor = 80)" \
    -c "CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 0" \
    -c "CREATE INDEX jobs_running ON jobs (queue, id) WHERE state = 3" \
    -c "INSERT INTO jobs (id, queue, state) SELECT g, 'default', 0 FROM generate_series(1, 300000) g" \
    -c "VACUUM ANALYZE jobs" || { fail "raw cycle: setup failed"; return; }
  # A fixed count of transactions, not a fixed time: every one claims a full
  # batch. Run for 8 s, a server faster than 37,500 tasks/s ran out of rows
  # and counted its empty transactions as 200 tasks each.
  tps=$("$PGBIN/pgbench" -n -f "$here/pg_raw_cycle.sql" -c "$c" -j "$c" -t "$per" -D batch=200 "$uri" 2>/dev/null |
    awk '/^tps = / {print $3; exit}')
  if [ -n "$tps" ]; then
    emit raw-pg pg_raw "cycle_batch200_${c}clients" tasks_per_s "$(awk -v t="$tps" 'BEGIN {printf "%.0f", t * 200}')" tasks/s
    emit raw-pg pg_raw "cycle_batch200_${c}clients" commits_per_task 0.005 commits
  else
    fail "pgbench failed ($c clients)"
  fi
  psql_db postgres -c "DROP TABLE jobs"
}
# 2 clients: the bar of sitq's end-to-end (one worker, 2 handler threads).
# 1, 4 and 16: how the SQL itself scales with claimers, beside sitq's 1, 4
# and 16 worker processes (part 5).
for clients in 2 1 4 16; do raw_cycle "$clients"; done

# ---- 3. sitq through Python ------------------------------------------------------
/usr/bin/python3 "$here/python_bench.py" --pg "$uri" --tasks "$TASKS" --run "$RUN" --json "$JSON" \
  --build "$BUILD" || fail "python_bench.py --pg failed"

# ---- 4. the peers ----------------------------------------------------------------
install_peer() { # dir module
  (cd "$here/peers/$1" && node -e "require('$2')" >/dev/null 2>&1) && return 0
  echo "pg_part.sh: installing $1 (npm ci)" >&2
  (cd "$here/peers/$1" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null 2>&1) || return 1
}
peer() { # dir db n label drain-args...
  local dir=$1 db=$2 n=$3 label=$4 x0 first_label enq_variant
  shift 4
  case "$dir" in
    graphile-worker) first_label=batched enq_variant=addJobs ;;
    *) first_label=fetch_batch100 enq_variant=insert ;;
  esac
  psql_db postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || { fail "$dir: createdb"; return; }
  x0=$(xacts "$db")
  # The enqueue is reported once, from the full-size variant; its commits
  # include the peer's schema installation.
  local out=/dev/null x1
  [ "$label" = "$first_label" ] && out=$JSON
  DATABASE_URL="$base/$db" node "$here/peers/$dir/bench.js" enqueue --tasks "$n" --run "$RUN" --json "$out" >/dev/null \
    || { fail "$dir $label: enqueue failed"; return; }
  x1=$(xacts "$db")
  [ "$out" = "$JSON" ] && emit "$dir" pg_enqueue "$enq_variant" commits_per_task "$(per_task "$x0" "$x1" "$n")" commits
  x0=$x1
  DATABASE_URL="$base/$db" node "$here/peers/$dir/bench.js" drain --tasks "$n" --run "$RUN" --json "$JSON" "$@" \
    || { fail "$dir $label: drain failed"; return; }
  emit "$dir" pg_e2e "$label" commits_per_task "$(per_task "$x0" "$(xacts "$db")" "$n")" commits
  psql_db postgres -c "DROP DATABASE $db"
}
slow=$(( TASKS / 4 ))
if [ "$PEERS" = 1 ] && command -v node >/dev/null; then
  if install_peer graphile-worker graphile-worker; then
    peer graphile-worker bench_graphile "$TASKS" batched --batched
    peer graphile-worker bench_graphile "$slow" defaults
  else
    fail "graphile-worker peer not available (npm ci in bench/peers/graphile-worker failed)"
  fi
  if install_peer pg-boss pg-boss; then
    peer pg-boss bench_pgboss "$TASKS" fetch_batch100 --batch 100
    peer pg-boss bench_pgboss "$slow" fetch_1
  else
    fail "pg-boss peer not available (npm ci in bench/peers/pg-boss failed)"
  fi
fi

# ---- 5. latency across processes, worker processes; 6. the soak -------------------
"$BENCH" --scenario pg_latency,pg_procs --tasks "$TASKS" --run-index "$RUN" --json "$JSON" $QUICK \
  || fail "sitq_bench --scenario pg_latency,pg_procs failed"
if [ "$SOAK" -gt 0 ]; then
  psql_db postgres -c "ALTER SYSTEM SET autovacuum_naptime = '${NAPTIME}s'" -c "SELECT pg_reload_conf()" >/dev/null \
    || fail "setting autovacuum_naptime for the soak failed"
  emit sitq-c pg_soak 80pct autovacuum_naptime_s "$(psql_db postgres -c "SELECT setting FROM pg_settings WHERE name = 'autovacuum_naptime'")" s
  rate_arg=()
  [ "$SOAK_RATE" != 0 ] && rate_arg=(--soak-rate "$SOAK_RATE")
  "$BENCH" --scenario pg_soak --soak-s "$SOAK" "${rate_arg[@]}" --tasks "$TASKS" --run-index "$RUN" --json "$JSON" $QUICK \
    || fail "sitq_bench --scenario pg_soak failed"
fi
exit "$rc"
