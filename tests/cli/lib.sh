# lib.sh - helpers shared by the sitq CLI tests; source it after
# `set -euo pipefail` with the sitq binary path as $1.
#   SITQ     absolute path of the binary
#   TMP      private temporary directory (removed on exit)
#   DB       a database path inside TMP; with SITQ_TEST_BACKEND=postgres, a
#            URI of a fresh schema of the cluster SITQ_TEST_PG_URI (named by
#            its sitq_schema parameter), so that every test runs on either
#            backend (tests/pg/run_cli.sh)
#   ON_PG    1 when DB is a PostgreSQL URI, else 0
#   PY       the Python the project installs (Debian's; starts fast and has no
#            per-user shims), for the JSON checks
#
# Tests about SQLite files by nature call sqlite_only REASON, which skips
# them (exit 77) on PostgreSQL; pg_skip_part REASON notes a part left out.

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH_TO_SITQ" >&2
    exit 2
fi
SITQ=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sitq-cli-test.XXXXXX")
DB=$TMP/q.db
ON_PG=0
if [ "${SITQ_TEST_BACKEND:-sqlite}" = postgres ]; then
    [ -n "${SITQ_TEST_PG_URI:-}" ] || { echo "SITQ_TEST_PG_URI is not set" >&2; exit 2; }
    ON_PG=1
    # One schema per test: the script's name, its process and a random part.
    pg_schema=$(basename "$0" .sh | tr -c 'a-z0-9_\n' _)_$$_$RANDOM
    case "$SITQ_TEST_PG_URI" in
        *\?*) DB="$SITQ_TEST_PG_URI&sitq_schema=$pg_schema" ;;
        *) DB="$SITQ_TEST_PG_URI?sitq_schema=$pg_schema" ;;
    esac
fi
WORKER_PID=
EXTRA_PGIDS=
DASH_PIDS=

# Remove everything the test started and its temp dir.
cleanup() {
    local rc=$?
    if [ -n "$WORKER_PID" ] && kill -0 "$WORKER_PID" 2>/dev/null; then
        kill -KILL "$WORKER_PID" 2>/dev/null || true
        wait "$WORKER_PID" 2>/dev/null || true
    fi
    for g in $EXTRA_PGIDS; do
        kill -KILL -- "-$g" 2>/dev/null || true
    done
    for p in $DASH_PIDS; do
        kill "$p" 2>/dev/null || true
    done
    if [ $rc -ne 0 ] && [ -f "$TMP/worker.log" ]; then
        echo "--- worker log ---" >&2
        cat "$TMP/worker.log" >&2
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

# sqlite_only REASON: on PostgreSQL, say why the test does not apply and
# skip it (exit 77); on SQLite, nothing.
sqlite_only() {
    if [ "$ON_PG" = 1 ]; then
        echo "SKIP on PostgreSQL: $*"
        exit 77
    fi
}

# pg_skip_part REASON: say that a part of the test is left out on
# PostgreSQL, and why (tests/pg/run_cli.sh shows the line).
pg_skip_part() {
    echo "SKIP on PostgreSQL (part): $*"
}

# can_fill_disk: succeed when a part may mount a small tmpfs to fill (SQLite,
# root, a mount namespace: `unshare -m`); else say why the part is left out
# and fail.
can_fill_disk() {
    if [ "$ON_PG" = 1 ]; then
        pg_skip_part "a full file system under the database is SQLite's"
    elif [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
        echo "skip: a full disk needs root and a mount namespace"
    else
        return 0
    fi
    return 1
}

# fail MESSAGE: print a failure and stop the test.
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    if [ "$1" != "$2" ]; then
        fail "$3: expected '$1', got '$2'"
    fi
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
    case "$1" in
        *"$2"*) ;;
        *) fail "$3: expected to contain '$2', got '$1'" ;;
    esac
}

# jget EXPR: read JSON on stdin, print the Python expression EXPR over it (d).
# Strings print raw, None prints "null", booleans "true"/"false".
jget() {
    "$PY" -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1], {"d": d})
if v is None: print("null")
elif isinstance(v, bool): print("true" if v else "false")
elif isinstance(v, str): sys.stdout.write(v + "\n")
else: print(json.dumps(v) if isinstance(v, (list, dict)) else v)
' "$1"
}

# field ID KEY: a field of task ID from `sitq show --json`.
field() {
    "$SITQ" show "$DB" "$1" --json | jget "d['$2']"
}

# expect_exit CODE CMD...: run CMD, check its exit code; stderr goes to $TMP/err.
expect_exit() {
    local want=$1
    shift
    local rc=0
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        fail "'$*' exited $rc, expected $want (stderr: $(cat "$TMP/err"))"
    fi
}

# start_worker ARGS...: run a worker on $DB in the background and wait until
# it logged that it started (so its signal handlers are installed).
# started_count: how many workers logged their start so far.
started_count() {
    local n
    n=$(grep -c ' started on queue' "$TMP/worker.log" 2>/dev/null) || true
    echo "${n:-0}"
}
start_worker() {
    local before i=0
    before=$(started_count)
    "$SITQ" worker "$DB" "$@" 2>>"$TMP/worker.log" &
    WORKER_PID=$!
    while [ "$(started_count)" = "$before" ]; do
        kill -0 "$WORKER_PID" 2>/dev/null || fail "worker exited at start"
        [ $i -lt 200 ] || fail "worker did not start within 10 s"
        sleep 0.05
        i=$((i + 1))
    done
}

# stop_worker: SIGTERM the worker, wait for it and check it exits 0.
stop_worker() {
    local rc=0
    kill -TERM "$WORKER_PID"
    wait "$WORKER_PID" || rc=$?
    WORKER_PID=
    assert_eq 0 "$rc" "worker exit code after SIGTERM"
}

# wait_status ID STATUS [SECONDS]: poll until task ID has STATUS.
wait_status() {
    local id=$1 want=$2 limit=${3:-10} i=0 st=
    while [ $i -lt $((limit * 20)) ]; do
        st=$(field "$id" status)
        [ "$st" = "$want" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    fail "task $id did not reach status $want within ${limit}s (last: $st)"
}

# start_dash LOG [ARGS...]: start `sitq dashboard "$DB" --listen
# ${DASH_LISTEN:-127.0.0.1:0} ARGS...` in the background, its stderr in LOG,
# and wait (30 s at most) until it prints its address. Sets DASH_PID (also
# added to DASH_PIDS, which cleanup stops) and URL (http://HOST:PORT, no
# trailing slash); fails if the dashboard exits first.
start_dash() {
    local log=$1 i=0
    shift
    : >"$log"
    "$SITQ" dashboard "$DB" --listen "${DASH_LISTEN:-127.0.0.1:0}" "$@" 2>"$log" &
    DASH_PID=$!
    DASH_PIDS="$DASH_PIDS $DASH_PID"
    until grep -q 'at http://' "$log" 2>/dev/null; do
        kill -0 "$DASH_PID" 2>/dev/null || fail "the dashboard exited: $(cat "$log")"
        [ $i -lt 600 ] || fail "the dashboard did not start within 30 s"
        sleep 0.05
        i=$((i + 1))
    done
    URL=$(sed -n 's|.* at \(http://[^ ]*\)/ .*|\1|p' "$log")
    [ -n "$URL" ] || fail "no URL in the dashboard's log: $(cat "$log")"
}

# stop_dash: stop the dashboard of the last start_dash (SIGTERM) and wait
# for it; its exit code is not checked.
stop_dash() {
    kill "$DASH_PID" 2>/dev/null || true
    wait "$DASH_PID" 2>/dev/null || true
}

# wait_log FILE TEXT: poll FILE until it contains TEXT (10 s at most).
wait_log() {
    local i=0
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        [ $i -lt 200 ] || fail "'$2' not logged in $1 within 10 s"
        sleep 0.05
        i=$((i + 1))
    done
}
