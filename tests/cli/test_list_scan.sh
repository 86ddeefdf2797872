#!/usr/bin/env bash
# `sitq list --scan-limit N`: a filter no index serves (a function, a
# worker, a time range, succeeded, a queue without a status) examines at
# most N ids below the start (--before); a page that the window ends before
# it is full says where to go on, as a last line of the table (on standard
# error with --json and --jsonl, whose output stays tasks), so that
# following it reaches every task. Filters an index serves (a status alone,
# merged queue by queue; a queue and a status) are never cut and keep
# "showing N of M". Bad --scan-limit and --before values are usage errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# One task of the queue "rare" (failed), 24 of "default" after it, then one
# of "other" (failed): the newest.
rare=$("$SITQ" enqueue "$DB" --queue rare -- false)
for _ in $(seq 1 24); do last=$("$SITQ" enqueue "$DB" -- true); done
late=$("$SITQ" enqueue "$DB" --queue other -- false)
"$SITQ" worker "$DB" --queue rare --burst --quiet 2>/dev/null
"$SITQ" worker "$DB" --queue other --burst --quiet 2>/dev/null
"$SITQ" worker "$DB" --burst --quiet 2>/dev/null
assert_eq "$((rare + 24)) $((rare + 25))" "$last $late" "ids follow each other"

msg="--scan-limit"
expect_exit 2 "$SITQ" list "$DB" --scan-limit 0
assert_contains "$(cat "$TMP/err")" "--scan-limit" "a zero scan limit"
expect_exit 2 "$SITQ" list "$DB" --scan-limit ten
assert_contains "$(cat "$TMP/err")" "--scan-limit" "a scan limit that is not a number"
expect_exit 2 "$SITQ" list "$DB" --before 0
assert_contains "$(cat "$TMP/err")" "--before" "a zero --before"
expect_exit 2 "$SITQ" list "$DB" --before x1
assert_contains "$(cat "$TMP/err")" "--before" "a --before that is not an id"

# ids: the ids of a JSON array's tasks (each object must be a task); lids:
# those of JSON lines; cut_of N TOP FLOOR NEXT SCAN: the line a JSON list
# writes on stderr when its window ends first.
ids() { jget "[t['id'] for t in d]"; }
lids() { "$PY" -c 'import json, sys; print(" ".join(str(t["id"]) for t in map(json.loads, sys.stdin)))'; }
cut_of() {
    echo "sitq list: showing $1: examined ids $3..$2 (--scan-limit $5); older tasks may match: go on with --before $4"
}

# The queue alone: windows of 10 ids from the newest down, until the rare task.
"$SITQ" list "$DB" --queue rare --scan-limit 10 --jsonl >"$TMP/l" 2>"$TMP/e"
assert_eq 0 "$(wc -l <"$TMP/l")" "rare: no task in the newest 10 ids"
assert_eq "$(cut_of 0 "$late" $((late - 9)) $((late - 9)) 10)" "$(cat "$TMP/e")" \
    "rare: cut at the window, said on stderr"
"$SITQ" list "$DB" --queue rare --scan-limit 10 --before $((late - 9)) --json >"$TMP/j" 2>"$TMP/e"
assert_eq "[]" "$(ids <"$TMP/j")" "rare: the next 10, --json"
assert_eq "$(cut_of 0 $((late - 10)) $((late - 19)) $((late - 19)) 10)" "$(cat "$TMP/e")" \
    "rare: --json's window, said on stderr"
"$SITQ" list "$DB" --queue rare --scan-limit 10 --before $((late - 19)) --jsonl >"$TMP/l" 2>"$TMP/e"
assert_eq "[$rare]" "$(jget "[d['id']]" <"$TMP/l")" "rare: the window reaches the first id"
assert_eq 1 "$(wc -l <"$TMP/l")" "rare: one line"
assert_eq "" "$(cat "$TMP/e")" "rare: not cut at the first id"

# The text table says what it examined and where to go on.
expect_exit 0 "$SITQ" list "$DB" --queue rare --scan-limit 10
assert_eq "showing 0: examined ids $((late - 9))..$late (--scan-limit 10); older tasks may match: go on with --before $((late - 9))" \
    "$(tail -n 1 "$TMP/out")" "rare: the last line"

# A function filter (shell tasks are "shell"; none is "py:none") and
# succeeded are windowed too; a window that ends before the page is full
# shows what it found.
want=$(seq "$last" -1 $((last - 8)) | tr '\n' ',' | sed 's/,$//; s/,/, /g')
assert_eq "[$want]" "$("$SITQ" list "$DB" --status succeeded --scan-limit 10 --json | ids)" \
    "succeeded: a cut page"
assert_eq "[$want]" "$("$SITQ" list "$DB" --function shell --queue default --scan-limit 10 --json | ids)" \
    "function: a cut page"
"$SITQ" list "$DB" --function py:none --scan-limit 10 --jsonl >"$TMP/l" 2>"$TMP/e"
assert_eq "$(cut_of 0 "$late" $((late - 9)) $((late - 9)) 10)" "$(cat "$TMP/e")" "function: cut"
# Following next_before from page to page reaches every task of the rare queue.
before=0 pages=0 found=
while :; do
    args=(--queue rare --scan-limit 7 --jsonl)
    [ "$before" = 0 ] || args+=(--before "$before")
    "$SITQ" list "$DB" "${args[@]}" >"$TMP/l" 2>"$TMP/e"
    found="$found$(lids <"$TMP/l")"
    pages=$((pages + 1))
    [ "$pages" -lt 10 ] || fail "more pages than windows"
    [ -s "$TMP/e" ] || break
    before=$(sed -n 's/.* go on with --before \([0-9]*\)$/\1/p' "$TMP/e")
done
assert_eq "$rare 4" "$found $pages" "paging by next_before: 26 ids in windows of 7"

# A page that fills inside the window is a plain page, which says where the
# next one starts.
expect_exit 0 "$SITQ" list "$DB" --status succeeded --scan-limit 10 --limit 3
assert_eq "showing 3; more follow: go on with --before $((last - 2))" "$(tail -n 1 "$TMP/out")" \
    "succeeded: a full page"
assert_eq 3 "$("$SITQ" list "$DB" --status succeeded --scan-limit 10 --limit 3 --jsonl 2>"$TMP/e" | wc -l)" \
    "a full page: three tasks"
assert_eq "" "$(cat "$TMP/e")" "a full page: not cut"

# A status alone is merged queue by queue on its index and never cut, and
# keeps its count; so does a queue with a status.
assert_eq "[$late, $rare]" "$("$SITQ" list "$DB" --status failed --scan-limit 1 --json | ids)" \
    "failed: every queue, unbounded"
assert_eq "[$rare]" "$("$SITQ" list "$DB" --status failed --scan-limit 1 --before "$late" --json | ids)" \
    "failed: --before"
assert_eq "[$rare]" "$("$SITQ" list "$DB" --status failed --scan-limit 1 --offset 1 --json | ids)" \
    "failed: --offset after the merge"
expect_exit 0 "$SITQ" list "$DB" --status failed --limit 1 --scan-limit 1
assert_eq "showing 1 of 2 (use --limit, --offset or filters)" "$(tail -n 1 "$TMP/out")" \
    "failed: showing N of M"
assert_eq "[$rare]" "$("$SITQ" list "$DB" --queue rare --status failed --scan-limit 1 --json | ids)" \
    "queue and status: no window"
# Without --scan-limit (100,000 ids) this small store is never cut.
assert_eq "[$rare]" "$("$SITQ" list "$DB" --queue rare --json | ids)" "the default window"
echo PASS
