#!/usr/bin/env bash
# dashboard_backlog.sh - the dashboard's / and /metrics on a store whose
# queue "backlog" holds N queued tasks (2,000,000 by default), with two
# builds of the sitq command: BEFORE (a build to compare with, e.g. of an
# older commit) and AFTER (build/sitq by default), in the same run
# (bench/README.md, "Dashboard over a backlog").
#
#   BEFORE=/path/to/old/sitq bench/dashboard_backlog.sh [--backend sqlite|postgres|both]
#                                                      [--tasks N] [--requests R]
#
# The store is built by one SQL statement (SQLite: sqlite3; PostgreSQL: psql
# in a throwaway cluster of tests/pg/with_pg.sh). For each build, a
# read-only dashboard is started, one request of each path warms it up,
# then each path is timed R times (5), 1.2 s apart so that no request
# reuses the previous one's counts (the dashboard shares a read for a
# second). Printed: the median and the largest time of each path, seconds.
# Needs curl, sqlite3, psql, /usr/bin/python3.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
AFTER="${AFTER:-$ROOT/build/sitq}"
BEFORE="${BEFORE:-}"
BACKEND=both
N=2000000
R=5
INNER=0
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKEND="${2:-}"; shift ;;
    --tasks) N="${2:-}"; shift ;;
    --requests) R="${2:-}"; shift ;;
    --inner) INNER=1 ;;
    -h|--help) sed -n 2,19p "$0"; exit 0 ;;
    *) echo "dashboard_backlog.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$BEFORE" ] || { echo "dashboard_backlog.sh: set BEFORE to a sitq command to compare with" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sitq-backlog.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# time_paths LABEL SITQ DB: start a dashboard of DB with SITQ, time / and /metrics.
time_paths() {
  local label="$1" sitq="$2" db="$3" pid url
  "$sitq" dashboard "$db" --listen 127.0.0.1:0 2>"$WORK/log" &
  pid=$!
  for _ in $(seq 400); do
    grep -q 'at http://' "$WORK/log" 2>/dev/null && break
    sleep 0.05
  done
  url=$(sed -n 's|.* at \(http://127.0.0.1:[0-9]*\)/ .*|\1|p' "$WORK/log")
  [ -n "$url" ] || { echo "dashboard did not start: $(cat "$WORK/log")" >&2; kill "$pid"; return 1; }
  for path in / /metrics; do
    curl -s -o /dev/null "$url$path"
    sleep 1.2
    : >"$WORK/times"
    for _ in $(seq "$R"); do
      curl -s -o /dev/null -w '%{time_total}\n' "$url$path" >>"$WORK/times"
      sleep 1.2
    done
    /usr/bin/python3 -c '
import statistics, sys
t = [float(x) for x in open(sys.argv[1])]
print(f"{sys.argv[2]:<28} {sys.argv[3]:<9} median {statistics.median(t):.4f} s  max {max(t):.4f} s")
' "$WORK/times" "$label" "$path"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null
}

run_sqlite() {
  local db="$WORK/backlog.db" now
  "$AFTER" enqueue "$db" --queue backlog -- true >/dev/null || return 1
  now=$(date +%s%6N)
  local t0=$SECONDS
  sqlite3 "$db" "PRAGMA synchronous = OFF; BEGIN;
    WITH RECURSIVE s(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM s WHERE i < $N)
    INSERT INTO sitq_tasks(id, queue, function, state, run_at_us, enqueued_at_us)
    SELECT i, 'backlog', 'true', 0, $now - ($N - i), $now - ($N - i) FROM s;
    COMMIT; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null || return 1
  echo "=== SQLite: $N queued tasks (built in $((SECONDS - t0)) s)"
  time_paths "SQLite before" "$BEFORE" "$db"
  time_paths "SQLite after" "$AFTER" "$db"
}

run_postgres() {
  local uri="$SITQ_TEST_PG_URI?sitq_schema=backlog" now
  "$AFTER" enqueue "$uri" --queue backlog -- true >/dev/null || return 1
  now=$(date +%s%6N)
  local t0=$SECONDS
  psql -q "$SITQ_TEST_PG_URI" -v ON_ERROR_STOP=1 -c "SET synchronous_commit = off;
    INSERT INTO backlog.tasks(id, queue, function, state, priority, run_at_us, attempts,
      max_retries, pending_deps, enqueued_at_us)
    SELECT i, 'backlog', 'true', 0, 0, $now - ($N - i), 0, 0, 0, $now - ($N - i)
    FROM generate_series(2, $N) i;
    SELECT setval('backlog.task_ids', $N);" >/dev/null || return 1
  psql -q "$SITQ_TEST_PG_URI" -c "VACUUM (ANALYZE) backlog.tasks;" >/dev/null || return 1
  echo "=== PostgreSQL: $N queued tasks (built in $((SECONDS - t0)) s)"
  time_paths "PostgreSQL before" "$BEFORE" "$uri"
  time_paths "PostgreSQL after" "$AFTER" "$uri"
}

if [ "$INNER" = 1 ]; then
  run_postgres
  exit $?
fi
case "$BACKEND" in
  sqlite) run_sqlite ;;
  postgres) bash "$ROOT/tests/pg/with_pg.sh" bash "$0" --inner --tasks "$N" --requests "$R" ;;
  both)
    run_sqlite
    BEFORE="$BEFORE" bash "$ROOT/tests/pg/with_pg.sh" bash "$0" --inner --tasks "$N" --requests "$R"
    ;;
  *) echo "dashboard_backlog.sh: --backend takes sqlite, postgres or both" >&2; exit 2 ;;
esac
