#!/usr/bin/env bash
# `sitq workers` (the registry of workers) and `sitq list --worker`: a
# running worker with its counts and the task it runs, a clean stop marked
# stopped, a worker killed with SIGKILL shown dead after its lease, and the
# usage errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# poll_workers EXPR WANT WHAT: poll `sitq workers --all --json` until the
# Python expression EXPR over it (d) prints WANT (10 s at most).
poll_workers() {
    local i=0 got=
    while [ $i -lt 200 ]; do
        got=$("$SITQ" workers "$DB" --all --json | jget "$1" 2>/dev/null) || got=
        [ "$got" = "$2" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    fail "$3: expected '$2', got '$got'"
}

# No worker yet: the header only (a store written before the registry, or
# a new one, has none).
"$SITQ" enqueue "$DB" -- true >/dev/null
expect_exit 0 "$SITQ" workers "$DB"
assert_eq 1 "$(wc -l <"$TMP/out")" "workers of a store without workers"
assert_eq "[]" "$("$SITQ" workers "$DB" --json)" "workers --json without workers"

# A running worker: two successes and a failure, then a task that runs
# until the test creates $TMP/go.
"$SITQ" enqueue "$DB" -- true >/dev/null
"$SITQ" enqueue "$DB" -- false >/dev/null
block=$("$SITQ" enqueue "$DB" -- sh -c "while [ ! -e '$TMP/go' ]; do sleep 0.05; done")
start_worker --worker-id cli-w --concurrency 1
wait_status "$block" running
poll_workers "[w['running'] for w in d]" "[[$block]]" "the running task shows"
poll_workers "[(w['succeeded'], w['failed']) for w in d]" "[[2, 1]]" "counts"
"$SITQ" workers "$DB" --json >"$TMP/w.json"
assert_eq cli-w "$(jget "d[0]['id']" <"$TMP/w.json")" "id"
assert_eq running "$(jget "d[0]['state']" <"$TMP/w.json")" "state"
assert_eq "$WORKER_PID" "$(jget "d[0]['pid']" <"$TMP/w.json")" "pid"
assert_eq "$(hostname)" "$(jget "d[0]['host']" <"$TMP/w.json")" "host"
assert_eq '["default"]' "$(jget "d[0]['queues']" <"$TMP/w.json")" "queues"
assert_eq '["shell"]' "$(jget "d[0]['functions']" <"$TMP/w.json")" "functions"
assert_eq 1 "$(jget "d[0]['concurrency']" <"$TMP/w.json")" "concurrency"
assert_eq null "$(jget "d[0]['stopped_at']" <"$TMP/w.json")" "stopped_at"
assert_eq true "$(jget "d[0]['heartbeat_at'] >= d[0]['started_at']" <"$TMP/w.json")" "heartbeat"
expect_exit 0 "$SITQ" workers "$DB"
assert_eq "cli-w running" "$(sed -n 2p "$TMP/out" | tr -s ' ' | cut -d' ' -f1-2)" "text row"
assert_eq "running: $block" "$(sed -n 3p "$TMP/out" | tr -s ' ' | sed 's/^ //')" "text running"
"$SITQ" workers "$DB" --jsonl >"$TMP/w.jsonl"
assert_eq 1 "$(wc -l <"$TMP/w.jsonl")" "workers --jsonl lines"
expect_exit 0 "$SITQ" workers "$DB" --queue default
assert_eq 3 "$(wc -l <"$TMP/out")" "workers --queue default"

# The list filter by worker: the tasks it ran and runs.
touch "$TMP/go"
wait_status "$block" succeeded
assert_eq 4 "$("$SITQ" list "$DB" --worker cli-w --json | jget "len(d)")" "list --worker"
assert_eq 0 "$("$SITQ" list "$DB" --worker nobody --json | jget "len(d)")" "list --worker nobody"
assert_eq "[$block]" "$("$SITQ" list "$DB" --worker cli-w --function shell --limit 1 --json |
    jget "[t['id'] for t in d]")" "list --worker with --limit"

# A clean stop: stopped with its final counts, left out unless --all.
stop_worker
expect_exit 0 "$SITQ" workers "$DB"
assert_eq 1 "$(wc -l <"$TMP/out")" "a stopped worker is not listed by default"
"$SITQ" workers "$DB" --all --json >"$TMP/w.json"
assert_eq stopped "$(jget "d[0]['state']" <"$TMP/w.json")" "stopped state"
assert_eq "[3, 1]" "$(jget "[d[0]['succeeded'], d[0]['failed']]" <"$TMP/w.json")" "final counts"
assert_eq true "$(jget "d[0]['stopped_at'] is not None" <"$TMP/w.json")" "stopped_at"

# A worker killed with SIGKILL: dead once its lease (0.5 s) has passed.
start_worker --worker-id cli-k --lease 0.5
poll_workers "[w['state'] for w in d if w['id'] == 'cli-k']" '["running"]' "killed worker first"
kill -KILL "$WORKER_PID"
wait "$WORKER_PID" 2>/dev/null || true
WORKER_PID=
poll_workers "[w['state'] for w in d if w['id'] == 'cli-k']" '["dead"]' "killed worker dead"
expect_exit 0 "$SITQ" workers "$DB"
assert_eq "cli-k dead" "$(sed -n 2p "$TMP/out" | tr -s ' ' | cut -d' ' -f1-2)" "dead is listed"

# Usage errors.
expect_exit 2 "$SITQ" workers
expect_exit 2 "$SITQ" workers "$DB" --json --jsonl
expect_exit 2 "$SITQ" workers "$DB" --bogus
expect_exit 2 "$SITQ" workers "$DB" --worker x
expect_exit 2 "$SITQ" list "$DB" --worker ""
expect_exit 2 "$SITQ" list "$DB" --all
expect_exit 1 "$SITQ" workers "$DB" --queue nosuch
assert_contains "$(cat "$TMP/err")" "nosuch" "unknown queue named"
expect_exit 0 "$SITQ" workers --help
assert_contains "$(cat "$TMP/out")" "usage: sitq workers DB" "help"
echo "test_workers: ok"
