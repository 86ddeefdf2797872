#!/usr/bin/env bash
# Bulk retry and cancel (--status with --function, --since, --until,
# --queue, --dry-run) under the single-task rules, in pages; list filters
# and "showing N of M".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# default: a fails, b depends on a (fails with it), s succeeds;
# mail: m fails. Then q1, q2 stay queued in mail.
a=$("$SITQ" enqueue "$DB" -- false)
b=$("$SITQ" enqueue "$DB" --after "$a" -- true)
s=$("$SITQ" enqueue "$DB" -- true)
m=$("$SITQ" enqueue "$DB" --queue mail -- sh -c 'exit 4')
"$SITQ" worker "$DB" --max-tasks 2 --quiet
"$SITQ" worker "$DB" --queue mail --max-tasks 1 --quiet
assert_eq failed "$(field "$b" status)" "b failed with its dependency"
q1=$("$SITQ" enqueue "$DB" --queue mail -- true)
q2=$("$SITQ" enqueue "$DB" --queue mail -- true)

# list filters
ids() { jget "[t['id'] for t in d]"; }
assert_eq "[$m, $b, $a]" "$("$SITQ" list "$DB" --status failed --json | ids)" "failed, every queue"
assert_eq "[$m]" "$("$SITQ" list "$DB" --status failed --queue mail --json | ids)" "failed in mail"
assert_eq "[]" "$("$SITQ" list "$DB" --function py:other --json | ids)" "--function nothing"
assert_eq 6 "$("$SITQ" list "$DB" --function shell --json | jget "len(d)")" "--function shell"
assert_eq 6 "$("$SITQ" list "$DB" --since 1h --json | jget "len(d)")" "--since 1h"
assert_eq "[]" "$("$SITQ" list "$DB" --since 2100-01-01 --json | ids)" "--since a future date"
assert_eq "[]" "$("$SITQ" list "$DB" --until 1h --json | ids)" "--until an hour ago"
assert_eq 6 "$("$SITQ" list "$DB" --until 2100-01-01T00:00:00Z --json | jget "len(d)")" "--until later"
expect_exit 0 "$SITQ" list "$DB" --limit 2
assert_eq "showing 2 of 6 (use --limit, --offset or filters)" "$(tail -n 1 "$TMP/out")" "showing N of M"
expect_exit 0 "$SITQ" list "$DB" --status failed --limit 2
assert_eq "showing 2 of 3 (use --limit, --offset or filters)" "$(tail -n 1 "$TMP/out")" \
    "showing N of M, filtered"
expect_exit 0 "$SITQ" list "$DB" --limit 6
if grep -q showing "$TMP/out"; then fail "a complete list said 'showing'"; fi
check_usage() { expect_exit 2 "$@"; assert_contains "$(cat "$TMP/err")" "$msg" "$*"; }
msg="invalid value 'yesterday' for --since: expected a duration"
check_usage "$SITQ" list "$DB" --since yesterday
msg="invalid value '2026-13-01' for --until: expected a duration before now (30m, 1h, 7d) or a UTC date"
check_usage "$SITQ" list "$DB" --until 2026-13-01

# dry run: prints what would change and changes nothing
expect_exit 0 "$SITQ" retry "$DB" --status failed --dry-run
assert_eq "task $a (default, shell): would retry" "$(sed -n 1p "$TMP/out")" "dry run line 1"
assert_eq "task $m (mail, shell): would retry" "$(sed -n 3p "$TMP/out")" "dry run line 3"
assert_eq "dry run: 3 tasks would be retried; nothing was changed" "$(sed -n 4p "$TMP/out")" "dry run summary"
for t in "$a" "$b" "$m"; do assert_eq failed "$(field "$t" status)" "the dry run left $t alone"; done
json=$("$SITQ" retry "$DB" --status failed --queue mail --dry-run --json)
assert_eq "true [$m] 0" "$(echo "$json" | jget "' '.join(map(str, [str(d['dry_run']).lower(), d['ids'], d['changed']]))")" \
    "dry run JSON"

# filters that match nothing change nothing
expect_exit 0 "$SITQ" retry "$DB" --status failed --function py:other
assert_eq "retry: 0 matched, 0 retried, 0 skipped" "$(cat "$TMP/out")" "--function matches nothing"
expect_exit 0 "$SITQ" retry "$DB" --status failed --since 2100-01-01
assert_eq "retry: 0 matched, 0 retried, 0 skipped" "$(cat "$TMP/out")" "--since matches nothing"

# retry, oldest first: a is retried and requeues b with it, so b (still
# listed as failed in the page) is skipped by the single-task rules
expect_exit 0 "$SITQ" retry "$DB" --status failed --queue default --since 1h
assert_eq "task $a (default, shell): requeued" "$(sed -n 1p "$TMP/out")" "retry line a"
assert_contains "$(sed -n 2p "$TMP/out")" "task $b (default, shell): task $b is waiting; only failed or cancelled tasks can be retried" "retry line b"
assert_eq "retry: 2 matched, 1 retried, 1 skipped" "$(sed -n 3p "$TMP/out")" "retry summary"
assert_eq queued "$(field "$a" status)" "a requeued"
assert_eq waiting "$(field "$b" status)" "b waits for a again"
assert_eq failed "$(field "$m" status)" "--queue default left mail alone"

# bulk cancel of the queued tasks of mail, as JSON
json=$("$SITQ" cancel "$DB" --status queued --queue mail --json)
assert_eq "2 2 0 [$q1, $q2]" "$(echo "$json" | jget "' '.join(map(str, [d['matched'], d['changed'], d['skipped'], d['ids']]))")" \
    "bulk cancel JSON"
assert_eq cancelled "$(field "$q2" status)" "q2 cancelled"
assert_eq queued "$(field "$a" status)" "the queued task of default is left alone"

# the rules of a single cancel apply: a succeeded task cannot be cancelled
expect_exit 0 "$SITQ" cancel "$DB" --status succeeded
assert_contains "$(sed -n 1p "$TMP/out")" "task $s (default, shell):" "cancel of a succeeded task"
assert_eq "cancel: 1 matched, 0 cancelled, 1 skipped" "$(sed -n 2p "$TMP/out")" "nothing cancelled"
assert_eq succeeded "$(field "$s" status)" "the succeeded task is unchanged"

# usage errors
msg="a task ID and --status, --function, --since, --until or --dry-run cannot be used together"
check_usage "$SITQ" retry "$DB" "$a" --status failed
check_usage "$SITQ" cancel "$DB" "$a" --dry-run
msg="expected a task ID, or --status S (not 'any') to retry every task in status S"
check_usage "$SITQ" retry "$DB"
check_usage "$SITQ" retry "$DB" --status any
check_usage "$SITQ" retry "$DB" --function shell
msg="unknown queue 'nope'"
expect_exit 1 "$SITQ" retry "$DB" --status failed --queue nope
assert_contains "$(cat "$TMP/err")" "$msg" "bulk on an unknown queue"

# more tasks than one page (500): every one is cancelled, once
# (enqueued in one batch through the Python binding: 502 processes would
# take minutes on a loaded machine). Sanitizer builds have no binding: the
# plain build runs this part.
if [ ! -d "$(dirname "$SITQ")/python/sitq" ]; then
  echo "part skipped: more than one page (this build has no Python binding)"
else
  PYTHONPATH="$(dirname "$SITQ")/python" "$PY" - "$DB" <<'PY'
import sys
import sitq
db = sys.argv[1]
backend = sitq.PostgresBackend(db) if db.startswith("postgres") else sitq.SQLiteBackend(db)
queue = sitq.TaskQueue(backend, name="big")
queue.enqueue_batch([sitq.Task(print, args=[i], delay=3600) for i in range(502)])
PY
  expect_exit 0 "$SITQ" cancel "$DB" --status scheduled --queue big --function shell
  assert_eq "cancel: 0 matched, 0 cancelled, 0 skipped" "$(tail -n 1 "$TMP/out")" "not shell tasks"
  expect_exit 0 "$SITQ" cancel "$DB" --status scheduled --queue big --function py:builtins.print
  assert_eq "cancel: 502 matched, 502 cancelled, 0 skipped" "$(tail -n 1 "$TMP/out")" "two pages"
  assert_eq 502 "$("$SITQ" stats "$DB" --queue big --json | jget "d['cancelled']")" "all cancelled"
fi
echo "ok"
