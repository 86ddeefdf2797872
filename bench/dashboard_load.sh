#!/usr/bin/env bash
# dashboard_load.sh - the dashboard, its API and the inspecting commands on a
# store of 10 million tasks, and the workers' throughput while the dashboard
# is read (bench/README.md, "Dashboard at 10M tasks and under load").
#
#   bench/dashboard_load.sh [--quick] [--backend sqlite|postgres|both]
#                           [--requests N] [--load-tasks N] [--rounds R]
#
# For each backend:
# 1. Two stores built in sitq's schema by one SQL statement each
#    (bench/dashboard_fill.sqlite.sql, bench/dashboard_fill.pg.sql): 10,000
#    tasks and 10,000,000 (1,000,000 with --quick), the same mix (most
#    succeeded, failed ones with errors, cancelled ones, a backlog of queued,
#    scheduled and waiting tasks, pipelines with dependencies, 9 functions,
#    3 queues).
# 2. On each store, `sitq dashboard` (read-only) is started and every page
#    and API path is timed N times (50; 15 with --quick), then `sitq
#    queues`, `sitq stats`, `sitq top --once` and `sitq metrics` min(N, 20)
#    times each (bench/dash_timer.py): p50 and p99 at both sizes and their
#    ratio.
# 3. On the large store: a warm-up drain, then R rounds (SQLite 5,
#    PostgreSQL 2; 1 with --quick) of five variants, interleaved: a worker
#    (sitq_bench load_drain: 2 handler threads, no-op tasks) drains
#    --load-tasks tasks (100,000) of the queue "load" with no HTTP load
#    (baseline); with wrk at full speed against the dashboard's pages (2
#    threads, 8 connections), the dashboard pacing requests at its default
#    --max-rate; the same against a dashboard with --max-rate 0 (unpaced);
#    with wrk paced to about 20 pages a second (4 connections, 200 ms apart:
#    a handful of operators' browsers); and with wrk at full speed against
#    an unpaced dashboard both run under `nice -n 19` (what the workers lose
#    to CPU rather than to locks). The pages' own timings (step 2) use an
#    unpaced dashboard. Reported: the
#    workers' tasks/s and its ratio to the baseline of the same round, and
#    wrk's p50/p99 page time.
#
# PostgreSQL runs in a throwaway cluster (tests/pg/with_pg.sh: fsync on,
# 127.0.0.1 only); the stores are schemas of it. SQLite files go to
# bench/work (BENCH_DIR=... to put them elsewhere); KEEP_WORK=1 keeps the
# SQLite stores for the next run (their build takes about two minutes).
# Needs: build/sitq and build/sitq_bench (make build), wrk, sqlite3 and
# psql (Debian: wrk, sqlite3, postgresql-client), /usr/bin/python3.
# Output: bench/results/dashboard_load.md (the tables) and
# bench/results/dashboard_load*.jsonl (every figure).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PY=/usr/bin/python3
BUILD="${BUILD:-$ROOT/build}"
WORK="${BENCH_DIR:-$HERE/work}"
RESULTS="$HERE/results"
SITQ="$BUILD/sitq"
BENCH="$BUILD/sitq_bench"
QUICK=0
BACKEND=both
REQUESTS=""
LOAD_TASKS=""
ROUNDS=""
INNER=0 # set when this script runs itself inside with_pg.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --backend) BACKEND="${2:-}"; shift ;;
    --requests) REQUESTS="${2:-}"; shift ;;
    --load-tasks) LOAD_TASKS="${2:-}"; shift ;;
    --rounds) ROUNDS="${2:-}"; shift ;;
    --inner) INNER=1 ;;
    -h|--help) sed -n 2,40p "$0"; exit 0 ;;
    *) echo "dashboard_load.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$BACKEND" in
  sqlite|postgres|both) ;;
  *) echo "dashboard_load.sh: --backend takes sqlite, postgres or both, got '$BACKEND'" >&2; exit 2 ;;
esac
for v in REQUESTS LOAD_TASKS ROUNDS; do
  val="${!v}"
  if [ -n "$val" ] && ! [[ "$val" =~ ^[1-9][0-9]*$ ]]; then
    echo "dashboard_load.sh: --$(echo "$v" | tr 'A-Z_' 'a-z-') needs a positive integer, got '$val'" >&2
    exit 2
  fi
done
SMALL=10000
ROUNDS_SET="$ROUNDS"
if [ "$QUICK" = 1 ]; then
  BIG=1000000; REQUESTS="${REQUESTS:-15}"; LOAD_TASKS="${LOAD_TASKS:-50000}"; ROUNDS="${ROUNDS:-1}"
else
  BIG=10000000; REQUESTS="${REQUESTS:-50}"; LOAD_TASKS="${LOAD_TASKS:-100000}"; ROUNDS="${ROUNDS:-5}"
fi
# A PostgreSQL drain takes about 30 times as long as a SQLite one: fewer
# rounds keep the run within about 15 minutes.
PG_ROUNDS="${ROUNDS_SET:-$([ "$QUICK" = 1 ] && echo 1 || echo 2)}"
label() { case "$1" in 10000) echo 10k ;; 1000000) echo 1M ;; 10000000) echo 10M ;; *) echo "$1" ;; esac; }

T_JSON="$RESULTS/dashboard_load_times.jsonl"
L_JSON="$RESULTS/dashboard_load_drain.jsonl"
W_JSON="$RESULTS/dashboard_load_wrk.jsonl"
OUT_MD="$RESULTS/dashboard_load.md"
OPTS=(--requests "$REQUESTS" --load-tasks "$LOAD_TASKS")
[ -n "$ROUNDS_SET" ] && OPTS+=(--rounds "$ROUNDS_SET")
[ "$QUICK" = 1 ] && OPTS+=(--quick)

need() { command -v "$1" >/dev/null || { echo "dashboard_load.sh: $1 is missing ($2)" >&2; exit 1; }; }
[ -x "$SITQ" ] && [ -x "$BENCH" ] || { echo "dashboard_load.sh: build sitq first (make build)" >&2; exit 1; }
need wrk "apt-get install wrk"

# ---- helpers ---------------------------------------------------------------------
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# Start `sitq dashboard STORE` (read-only) on a free port under the command
# prefix in $2 (e.g. "nice -n 19"), with the options in $3 (e.g. "--max-rate
# 0"); sets DASH_PID and DASH_URL.
dash_start() {
  local store="$1" prefix="${2:-}" opts="${3:-}" log
  log=$(mktemp "${TMPDIR:-/tmp}/sitq-dash.XXXXXX")
  # shellcheck disable=SC2086
  env -u SITQ_DASHBOARD_TOKEN $prefix "$SITQ" dashboard "$store" --listen 127.0.0.1:0 $opts 2>"$log" &
  DASH_PID=$!
  PIDS+=("$DASH_PID")
  DASH_URL=""
  for _ in $(seq 1 200); do
    DASH_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -1)
    [ -n "$DASH_URL" ] && break
    kill -0 "$DASH_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$DASH_URL" ]; then
    echo "dashboard_load.sh: the dashboard did not start:" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}
dash_stop() { kill -INT "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# Time every path and command on STORE of N tasks.
time_store() {
  local backend="$1" store="$2" n="$3"
  echo "--- $backend, $(label "$n") tasks: pages, API and commands ($REQUESTS requests each)"
  dash_start "$store" "" "--max-rate 0" # what a page costs, not the pacing
  "$PY" "$HERE/dash_timer.py" time --url "$DASH_URL" --sitq "$SITQ" --store "$store" --n "$n" \
    --label "$(label "$n")" --backend "$backend" --json "$T_JSON" --requests "$REQUESTS" --budget-s 10 \
    || echo "dashboard_load.sh: timing the $(label "$n") store failed" >&2
  dash_stop "$DASH_PID"
}

# The load rounds on STORE (its task page DASH_TASK_ID).
load_rounds() {
  local backend="$1" store="$2" n="$3"
  local d_url d_pid u_url u_pid n_url n_pid wpid out
  dash_start "$store"; d_url="$DASH_URL"; d_pid="$DASH_PID"
  dash_start "$store" "" "--max-rate 0"; u_url="$DASH_URL"; u_pid="$DASH_PID"
  dash_start "$store" "nice -n 19" "--max-rate 0"; n_url="$DASH_URL"; n_pid="$DASH_PID"
  export DASH_TASK_ID=$(( (n / 200) * 100 + 95 ))
  # A warm-up drain, reported apart ("warmup"): the first drain of a new
  # queue in a big store runs before PostgreSQL's planner statistics (and
  # autovacuum) have seen that queue, and is slower and erratic.
  "$BENCH" --scenario load_fill --store "$store" --tasks "$LOAD_TASKS" >/dev/null \
    && "$BENCH" --scenario load_drain --store "$store" --tasks "$LOAD_TASKS" \
      --label "$backend:warmup" --run-index 0 --json "$L_JSON" | grep tasks_per_s \
    || { echo "dashboard_load.sh: the warm-up drain failed" >&2; return 1; }
  for r in $(seq 1 "$ROUNDS"); do
    for variant in baseline wrk-full wrk-full-unpaced wrk-paced wrk-full-nice; do
      "$BENCH" --scenario load_fill --store "$store" --tasks "$LOAD_TASKS" >/dev/null \
        || { echo "dashboard_load.sh: load_fill failed" >&2; return 1; }
      out=$(mktemp "${TMPDIR:-/tmp}/sitq-wrk.XXXXXX")
      wpid=""
      case "$variant" in
        wrk-full) DASH_DELAY_MS=0 wrk -t2 -c8 -d600s --timeout 30s -s "$HERE/dash_wrk.lua" "$d_url" >"$out" 2>&1 & wpid=$! ;;
        wrk-full-unpaced) DASH_DELAY_MS=0 wrk -t2 -c8 -d600s --timeout 30s -s "$HERE/dash_wrk.lua" "$u_url" >"$out" 2>&1 & wpid=$! ;;
        wrk-paced) DASH_DELAY_MS=200 wrk -t1 -c4 -d600s --timeout 30s -s "$HERE/dash_wrk.lua" "$d_url" >"$out" 2>&1 & wpid=$! ;;
        wrk-full-nice) DASH_DELAY_MS=0 nice -n 19 wrk -t2 -c8 -d600s --timeout 30s -s "$HERE/dash_wrk.lua" "$n_url" >"$out" 2>&1 & wpid=$! ;;
      esac
      [ -n "$wpid" ] && sleep 0.5 # wrk connected and running before the drain starts
      "$BENCH" --scenario load_drain --store "$store" --tasks "$LOAD_TASKS" \
        --label "$backend:$variant" --run-index "$r" --json "$L_JSON" | grep tasks_per_s
      if [ -n "$wpid" ]; then
        kill -INT "$wpid"; wait "$wpid" 2>/dev/null
        local line
        line=$(grep '^wrk_result' "$out")
        echo "  $variant: $line"
        [ -n "$line" ] && echo "{\"backend\": \"$backend\", \"run\": $r, \"variant\": \"$variant\", $(echo "$line" \
          | sed -E 's/^wrk_result //; s/([a-z0-9_]+)=([0-9.]+)/"\1": \2,/g; s/,$//')}" >>"$W_JSON"
      fi
      rm -f "$out"
    done
  done
  dash_stop "$n_pid"
  dash_stop "$u_pid"
  dash_stop "$d_pid"
}

# ---- SQLite ----------------------------------------------------------------------
sqlite_store() { # N -> path of a store of N tasks (built unless kept)
  local n="$1" path="$WORK/dash-$1.db"
  if [ "${KEEP_WORK:-0}" = 1 ] && [ -f "$path.built" ]; then echo "$path"; return; fi
  rm -f "$path" "$path-wal" "$path-shm" "$path.built"
  # A worker in burst mode creates the schema (and stops: nothing to do).
  "$SITQ" worker "$path" --queue load --burst >/dev/null 2>&1 \
    || { echo "dashboard_load.sh: cannot create $path" >&2; return 1; }
  local t0=$SECONDS
  sed "s/@N@/$n/g; s/@NOW@/$(date +%s%6N)/g" "$HERE/dashboard_fill.sqlite.sql" | sqlite3 "$path" >/dev/null \
    || { echo "dashboard_load.sh: filling $path failed" >&2; return 1; }
  # Written to disk now, so that the kernel's writeback of 2 GB does not
  # compete with the measurements.
  sync "$path"
  echo "  built $(label "$n") store in $((SECONDS - t0)) s ($(du -h "$path" | cut -f1))" >&2
  touch "$path.built"
  echo "$path"
}

run_sqlite() {
  need sqlite3 "apt-get install sqlite3"
  mkdir -p "$WORK"
  echo "=== SQLite"
  local small big
  small=$(sqlite_store "$SMALL") || exit 1
  big=$(sqlite_store "$BIG") || exit 1
  time_store sqlite "$small" "$SMALL"
  time_store sqlite "$big" "$BIG"
  echo "--- sqlite, $(label "$BIG") tasks: workers under HTTP load ($ROUNDS rounds, $LOAD_TASKS tasks each)"
  load_rounds sqlite "$big" "$BIG"
  if [ "${KEEP_WORK:-0}" != 1 ]; then
    rm -f "$WORK"/dash-*.db "$WORK"/dash-*.db-wal "$WORK"/dash-*.db-shm "$WORK"/dash-*.db.built
  fi
}

# ---- PostgreSQL (inside with_pg.sh) ----------------------------------------------
pg_store() { # N -> URI of a schema of N tasks
  local n="$1" schema="dash_$1" uri="$SITQ_TEST_PG_URI?sitq_schema=dash_$1"
  "$SITQ" worker "$uri" --queue load --burst >/dev/null 2>&1 \
    || { echo "dashboard_load.sh: cannot create schema $schema" >&2; return 1; }
  local t0=$SECONDS
  psql -q "$SITQ_TEST_PG_URI" -v n="$n" -v now_us="$(date +%s%6N)" -v schema="$schema" \
    -f "$HERE/dashboard_fill.pg.sql" >/dev/null \
    || { echo "dashboard_load.sh: filling schema $schema failed" >&2; return 1; }
  echo "  built $(label "$n") store in $((SECONDS - t0)) s" >&2
  echo "$uri"
}

run_postgres() {
  need psql "apt-get install postgresql-client"
  echo "=== PostgreSQL ($SITQ_TEST_PG_URI)"
  local small big
  small=$(pg_store "$SMALL") || exit 1
  big=$(pg_store "$BIG") || exit 1
  time_store postgres "$small" "$SMALL"
  time_store postgres "$big" "$BIG"
  ROUNDS="$PG_ROUNDS"
  echo "--- postgres, $(label "$BIG") tasks: workers under HTTP load ($ROUNDS rounds, $LOAD_TASKS tasks each)"
  load_rounds postgres "$big" "$BIG"
}

if [ "$INNER" = 1 ]; then
  run_postgres
  exit $?
fi

mkdir -p "$RESULTS"
: >"$T_JSON"; : >"$L_JSON"; : >"$W_JSON"
T_START=$SECONDS
echo "dashboard_load.sh: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$BACKEND" = sqlite ] || [ "$BACKEND" = both ]; then run_sqlite; fi
if [ "$BACKEND" = postgres ] || [ "$BACKEND" = both ]; then
  bash "$ROOT/tests/pg/with_pg.sh" bash "$0" --inner "${OPTS[@]}" \
    || echo "dashboard_load.sh: the PostgreSQL part failed" >&2
fi
"$PY" "$HERE/dash_timer.py" report --times "$T_JSON" --drain "$L_JSON" --wrk "$W_JSON" \
  --small "$(label "$SMALL")" --big "$(label "$BIG")" --out "$OUT_MD" \
  --header "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average at the end $(cut -d' ' -f1-3 /proc/loadavg), $((SECONDS - T_START)) s; bench/dashboard_load.sh ${OPTS[*]} --backend $BACKEND"
