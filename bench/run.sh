#!/usr/bin/env bash
# bench/run.sh - sitq's benchmark; `make bench` runs it.
#
#   bench/run.sh [--quick] [--runs R] [--tasks N] [--only LIST] [--no-peers]
#
# Environment (same meaning as the options): RUNS (3), TASKS (20000),
# QUICK (0/1), ONLY (comma list of parts: raw,enqueue,e2e,plainjob,celery,
# python,pipeline,pg,latency,claim_depth,limits,memory,wal), SITQ_FLIGHTS_3M (the
# 3-million-row flights CSV for the pipeline part; without it the bundled
# 200,000 rows replicated 15 times), PG_SOAK_S (seconds of the PostgreSQL
# soak at 80% load, run in round 1 only: default 600, 30 with --quick), BUILD (build dir, default ./build),
# BENCH_DIR (scratch databases, default bench/work: keep it on the disk you
# want to measure), PROFILE=1 (also run bench/profile.sh and put its
# perf profile into the closing note), KEEP_WORK=1 (keep the scratch databases, e.g. the 10M
# queue, between invocations).
#
# Runs R rounds; each round runs every part once, in this order, so that the
# machine's drift over the session hits every system alike:
#   raw SQLite, sitq enqueue, sitq end-to-end, plainjob, Celery,
#   sitq Python, the Python pipeline job (bench/python_pipeline_bench.py:
#   multiprocessing.Pool, ProcessPoolExecutor, Dask, Celery and sitq on the
#   same pandas job; a 10,000-parent fan-in), PostgreSQL (bench/pg_part.sh: its own throwaway cluster, raw
#   ceilings, sitq C and Python, graphile-worker and pg-boss), latency, claim
#   depth, memory, WAL.
# Every figure lands in bench/results/results.jsonl; bench/report.py then
# writes bench/results/results.md (medians, spreads, ratios, targets) and
# bench/results/throughput.png. The peers are installed here when missing:
# Debian's redis-server, python3-celery, python3-redis, python3-matplotlib,
# python3-dask, python3-distributed (apt-get) and plainjob + better-sqlite3 (npm ci in bench/peers/plainjob);
# bench/pg_part.sh installs graphile-worker and pg-boss (npm ci in
# bench/peers/graphile-worker and bench/peers/pg-boss).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PY=/usr/bin/python3
RUNS="${RUNS:-3}"
TASKS="${TASKS:-20000}"
QUICK="${QUICK:-0}"
BUILD="${BUILD:-$ROOT/build}"
WORK="${BENCH_DIR:-$HERE/work}"
ONLY="${ONLY:-all}"
PEERS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS="$2"; shift ;;
    --tasks) TASKS="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    --no-peers) PEERS=0 ;;
    -h|--help) sed -n 2,31p "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
RESULTS="$HERE/results"
JSONL="$RESULTS/results.jsonl"
NOTES="$RESULTS/notes.txt"
mkdir -p "$RESULTS" "$WORK"
# Fresh scratch databases (the deep queues of claim_depth are rebuilt: a
# schema change would make old ones meaningless). KEEP_WORK=1 keeps them.
[ "${KEEP_WORK:-0}" = 1 ] || rm -f "$WORK"/*.db "$WORK"/*.db-wal "$WORK"/*.db-shm "$WORK"/*.queued
: > "$JSONL"
rm -f "$RESULTS/profile.md"
: > "$NOTES"
note() { echo "run.sh: $*" >&2; echo "$*" >> "$NOTES"; }
want() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }
T_START=$(date +%s)

# ---- the C benchmark program ------------------------------------------------
BENCH="$BUILD/sitq_bench"
if [ ! -x "$BENCH" ]; then
  # Not wired into CMake (add_subdirectory(bench)): build it against libsitq.a
  # (every time, so that it never lags behind the library).
  [ -f "$BUILD/src/libsitq.a" ] || { echo "run.sh: build sitq first (make build)" >&2; exit 1; }
  mkdir -p "$BUILD/bench-standalone"
  BENCH="$BUILD/bench-standalone/sitq_bench"
  cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I "$ROOT/include" -I "$BUILD/include" -I "$HERE" \
    "$HERE"/main.c "$HERE"/common.c "$HERE"/raw_sqlite.c "$HERE"/enqueue.c "$HERE"/e2e.c \
    "$HERE"/latency.c "$HERE"/claim_depth.c "$HERE"/limits.c "$HERE"/memory.c "$HERE"/wal.c "$HERE"/dash_load.c "$HERE"/sitq_bench.c \
    "$HERE"/pg_common.c "$HERE"/pg.c "$HERE"/pg_latency.c "$HERE"/pg_procs.c "$HERE"/pg_soak.c \
    $(pkg-config --cflags libpq) "$BUILD/src/libsitq.a" $(pkg-config --libs sqlite3 libpq) -lpthread -lm -o "$BENCH" || exit 1
fi
QUICK_OPT=""
[ "$QUICK" = 1 ] && QUICK_OPT="--quick"
PG_SOAK_S="${PG_SOAK_S:-$([ "$QUICK" = 1 ] && echo 30 || echo 600)}"

# ---- peers: install when missing ----------------------------------------------
CELERY_OK=0
PLAINJOB_OK=0
if [ "$PEERS" = 1 ] && { want celery || want plainjob || want pipeline; }; then
  missing=""
  for p in redis-server python3-celery python3-redis python3-matplotlib python3-dask python3-distributed; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "run.sh: installing$missing (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } >/dev/null 2>&1 \
      || note "apt-get install$missing failed"
  fi
  if command -v redis-server >/dev/null && "$PY" -c "import celery, redis" 2>/dev/null; then
    CELERY_OK=1
  else
    note "Celery peer not available (redis-server or python3-celery missing)"
  fi
  pj="$HERE/peers/plainjob"
  loads() { (cd "$pj" && node -e "new (require('better-sqlite3'))(':memory:').close(); import('plainjob')" >/dev/null 2>&1); }
  if command -v node >/dev/null; then
    if ! loads; then
      echo "run.sh: installing plainjob and better-sqlite3 (npm ci)"
      (cd "$pj" && npm ci --no-audit --no-fund >/dev/null 2>&1) || note "npm ci in bench/peers/plainjob failed"
    fi
    if ! loads; then
      echo "run.sh: compiling better-sqlite3 against /usr/include/node"
      (cd "$pj" && npm rebuild better-sqlite3 --nodedir=/usr >/dev/null 2>&1) || true
    fi
    if loads; then PLAINJOB_OK=1; else note "plainjob peer not available (better-sqlite3 does not load)"; fi
  else
    note "plainjob peer not available (no node)"
  fi
else
  "$PY" -c "import matplotlib" 2>/dev/null || { apt-get install -y -qq python3-matplotlib >/dev/null 2>&1 || true; }
fi

# ---- the runs ------------------------------------------------------------------
c_part() { # scenario
  want "$1" || return 0
  "$BENCH" --scenario "$1" --tasks "$TASKS" --run-index "$r" --dir "$WORK" --json "$JSONL" $QUICK_OPT \
    || note "run $r: sitq_bench --scenario $1 failed"
}
for r in $(seq 1 "$RUNS"); do
  echo "=== run $r of $RUNS ($(( $(date +%s) - T_START )) s so far)"
  c_part raw
  c_part enqueue
  c_part e2e
  if want plainjob && [ "$PLAINJOB_OK" = 1 ]; then
    node "$HERE/peers/plainjob/bench.mjs" --tasks "$TASKS" --workers 2 --dir "$WORK" --run "$r" --json "$JSONL" \
      || note "run $r: plainjob failed"
  fi
  if want celery && [ "$CELERY_OK" = 1 ]; then
    "$PY" "$HERE/peers/celery/bench.py" --tasks "$TASKS" --workers 2 --dir "$WORK" --run "$r" --json "$JSONL" \
      || note "run $r: celery failed"
  fi
  if want python; then
    "$PY" "$HERE/python_bench.py" --tasks "$TASKS" --dir "$WORK" --run "$r" --json "$JSONL" --build "$BUILD" \
      || note "run $r: python_bench.py failed"
  fi
  if want pipeline; then
    pl_rows=0
    [ "$QUICK" = 1 ] && pl_rows=1000000
    pl_only="pool,ppe,dask,sitq-executor,sitq-result_of,fanin"
    [ "$PEERS" = 1 ] && [ "$CELERY_OK" = 1 ] && pl_only="pool,ppe,dask,celery,sitq-executor,sitq-result_of,fanin"
    [ "$PEERS" = 1 ] || pl_only="pool,ppe,sitq-executor,sitq-result_of,fanin"
    "$PY" "$HERE/python_pipeline_bench.py" --dir "$WORK" --run "$r" --json "$JSONL" --build "$BUILD" \
      --rows "$pl_rows" --only "$pl_only" || note "run $r: python_pipeline_bench.py failed"
  fi
  if want pg; then
    soak=0
    [ "$r" = 1 ] && soak="$PG_SOAK_S"
    pg_peers=""
    [ "$PEERS" = 1 ] || pg_peers="--no-peers"
    SITQ_BENCH="$BENCH" "$HERE/pg_part.sh" --json "$JSONL" --run "$r" --tasks "$TASKS" --soak-s "$soak" \
      --build "$BUILD" $QUICK_OPT $pg_peers || note "run $r: bench/pg_part.sh failed (its messages are in the run's output)"
  fi
  c_part latency
  c_part claim_depth
  c_part limits
  c_part memory
  c_part wal
done
ELAPSED=$(( $(date +%s) - T_START ))
[ "${KEEP_WORK:-0}" = 1 ] || rm -f "$WORK"/*.db "$WORK"/*.db-wal "$WORK"/*.db-shm "$WORK"/*.queued

# ---- report --------------------------------------------------------------------
{
  echo "{"
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\","
  echo "  \"git\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || echo '+changes')\","
  echo "  \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//;s/"//g')\","
  echo "  \"cores\": $(nproc),"
  echo "  \"kernel\": \"$(uname -r)\","
  echo "  \"fs\": \"$(df -T "$WORK" | awk 'NR==2 {print $2}')\","
  echo "  \"sqlite\": \"$(pkg-config --modversion sqlite3)\","
  echo "  \"node\": \"$(node --version 2>/dev/null || echo none)\","
  echo "  \"celery\": \"$("$PY" -c 'import celery; print(celery.__version__)' 2>/dev/null || echo none)\","
  echo "  \"redis\": \"$(redis-server --version 2>/dev/null | awk '{print $3}' | sed 's/v=//')\","
  echo "  \"plainjob\": \"$(node -p "require('$HERE/peers/plainjob/node_modules/plainjob/package.json').version" 2>/dev/null || echo none)\","
  echo "  \"graphile_worker\": \"$(node -p "require('$HERE/peers/graphile-worker/node_modules/graphile-worker/package.json').version" 2>/dev/null || echo none)\","
  echo "  \"pg_boss\": \"$(node -p "require('$HERE/peers/pg-boss/node_modules/pg-boss/package.json').version" 2>/dev/null || echo none)\","
  echo "  \"postgres\": \"$("$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/postgres" --version 2>/dev/null | awk '{print $3}')\","
  echo "  \"pg_soak_s\": $PG_SOAK_S,"
  echo "  \"better_sqlite3\": \"$(node -p "require('$HERE/peers/plainjob/node_modules/better-sqlite3/package.json').version" 2>/dev/null || echo none)\","
  echo "  \"runs\": $RUNS, \"tasks\": $TASKS, \"quick\": $QUICK, \"elapsed_s\": $ELAPSED"
  echo "}"
} > "$RESULTS/meta.json"
if [ "${PROFILE:-0}" = 1 ]; then
  BUILD="$BUILD" BENCH_DIR="$WORK" "$HERE/profile.sh" 200000 normal || note "profile.sh failed"
fi
"$PY" "$HERE/report.py" --results "$RESULTS" || exit 1
echo "run.sh: done in ${ELAPSED} s: $RESULTS/results.md, $RESULTS/throughput.png"
