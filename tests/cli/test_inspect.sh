#!/usr/bin/env bash
# enqueue, then stats/list/show in text and JSON, --help everywhere.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

id=$("$SITQ" enqueue "$DB" --priority 5 --retries 2 --timeout 7 -- sh -c 'echo "a b"' x)
assert_eq 1 "$id" "first task id"

# stats: text and JSON
out=$("$SITQ" stats "$DB" --queue default)
assert_contains "$out" "queue: default" "stats text"
line=$(echo "$out" | grep '^queued')
assert_eq "queued     1" "$line" "stats text queued line"
json=$("$SITQ" stats "$DB" --queue default --json)
assert_eq 1 "$(echo "$json" | wc -l)" "stats --json is one line"
assert_eq 1 "$(echo "$json" | jget "d['queued']")" "stats --json queued"
assert_eq 1 "$(echo "$json" | jget "d['total']")" "stats --json total"
assert_eq 0 "$(echo "$json" | jget "d['running']")" "stats --json running"
expect_exit 1 "$SITQ" stats "$DB" --queue other --json
assert_contains "$(cat "$TMP/err")" "unknown queue 'other' (known queues: default)" "unknown queue"
[ ! -s "$TMP/out" ] || fail "an unknown queue printed counts"
# the store's figures: sizes on both backends, row versions and WAL per task on PostgreSQL
assert_eq true "$(echo "$json" | jget "d['store']['bytes'] > 0")" "stats --json store bytes"
assert_eq true "$(echo "$json" | jget "d['store']['wal_bytes'] >= 0")" "stats --json wal bytes"
assert_contains "$("$SITQ" stats "$DB")" "store:" "stats text store section"
if [ "${SITQ_TEST_BACKEND:-sqlite}" = postgres ]; then
  assert_eq true "$(echo "$json" | jget "d['store']['wal_bytes_per_task'] > 0")" "WAL per task"
  assert_eq true "$(echo "$json" | jget "d['store']['dead_tuples'] >= 0 and d['store']['live_tuples'] >= 0")" "row versions"
  assert_eq true "$(echo "$json" | jget "d['store']['oldest_transaction_s'] >= 0")" "oldest transaction"
else
  assert_eq false "$(echo "$json" | jget "'dead_tuples' in d['store']")" "no row versions on SQLite"
fi

# list: text and JSON
out=$("$SITQ" list "$DB")
assert_contains "$out" "queued" "list text status"
assert_contains "$out" "sh -c 'echo \"a b\"' x" "list text command"
json=$("$SITQ" list "$DB" --json)
assert_eq 1 "$(echo "$json" | jget "len(d)")" "list --json length"
assert_eq 1 "$(echo "$json" | jget "d[0]['id']")" "list --json id"
assert_eq '["sh", "-c", "echo \"a b\"", "x"]' "$(echo "$json" | jget "d[0]['command']")" "list --json command"
assert_eq 0 "$("$SITQ" list "$DB" --status succeeded --json | jget "len(d)")" "list --status succeeded"
assert_eq 1 "$("$SITQ" list "$DB" --status queued --json | jget "len(d)")" "list --status queued"
"$SITQ" enqueue "$DB" -- true >/dev/null
"$SITQ" enqueue "$DB" -- true >/dev/null
assert_eq "[3, 2]" "$("$SITQ" list "$DB" --limit 2 --json | jget "[t['id'] for t in d]")" "list --limit 2 newest first"
assert_eq "[1]" "$("$SITQ" list "$DB" --offset 2 --json | jget "[t['id'] for t in d]")" "list --offset 2"

# show: text and JSON
out=$("$SITQ" show "$DB" 1)
assert_contains "$out" "function:         shell" "show text function"
assert_contains "$out" "command:          sh -c 'echo \"a b\"' x" "show text command"
assert_contains "$out" "status:           queued" "show text status"
assert_contains "$out" "priority:         5" "show text priority"
assert_contains "$out" "max_retries:      2" "show text max_retries"
json=$("$SITQ" show "$DB" 1 --json)
assert_eq queued "$(echo "$json" | jget "d['status']")" "show --json status"
assert_eq shell "$(echo "$json" | jget "d['function']")" "show --json function"
assert_eq 5 "$(echo "$json" | jget "d['priority']")" "show --json priority"
assert_eq 2 "$(echo "$json" | jget "d['max_retries']")" "show --json max_retries"
assert_eq 7.0 "$(echo "$json" | jget "d['timeout_s']")" "show --json timeout_s"
assert_eq 0 "$(echo "$json" | jget "d['attempts']")" "show --json attempts"
assert_eq 19 "$(echo "$json" | jget "d['payload_len']")" "show --json payload_len (argv NUL-terminated)"
assert_eq null "$(echo "$json" | jget "d['finished_at']")" "show --json finished_at"
enq=$(echo "$json" | jget "d['enqueued_at']")
if ! [[ "$enq" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$ ]]; then
    fail "enqueued_at is not ISO-8601 UTC: $enq"
fi
year=$(date -u +%Y)
assert_contains "$enq" "$year-" "enqueued_at year"

# --unique returns the live task's id
u1=$("$SITQ" enqueue "$DB" --unique k1 -- echo one)
u2=$("$SITQ" enqueue "$DB" --unique k1 -- echo two)
assert_eq "$u1" "$u2" "--unique returns the existing id"
assert_eq k1 "$(field "$u1" unique_key)" "unique_key field"
assert_eq "$u1" "$("$SITQ" enqueue "$DB" --unique k1 --json -- echo three | jget "d['id']")" "enqueue --json id"

# --delay makes a task scheduled with its ETA in the future
d=$("$SITQ" enqueue "$DB" --delay 100 -- true)
assert_eq scheduled "$(field "$d" status)" "--delay status"
json=$("$SITQ" show "$DB" "$d" --json)
gap=$(echo "$json" | jget "(d['eta_us'] - d['enqueued_at_us']) // 1000000")
[ "$gap" -ge 99 ] && [ "$gap" -le 101 ] || fail "--delay 100 gave an ETA $gap s after enqueue"

# --help everywhere, exit 0, usage on stdout
for c in enqueue worker queues stats list show wait cancel retry purge; do
    out=$("$SITQ" "$c" --help)
    assert_contains "$out" "usage: sitq $c" "$c --help"
    out=$("$SITQ" help "$c")
    assert_contains "$out" "usage: sitq $c" "help $c"
done
out=$("$SITQ" --help)
assert_contains "$out" "Commands:" "global --help"
# Every command's summary starts in the same column, the longest names too.
assert_eq 1 "$(echo "$out" | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
    on { match($0, /^  [a-z]+ +/); print RLENGTH }' | sort -u | wc -l)" "one summary column"
assert_contains "$out" "  retention  show or set" "retention aligned"
assert_contains "$("$SITQ" --version)" "sitq 0." "--version"
echo "ok"
