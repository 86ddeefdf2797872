#!/usr/bin/env bash
# `sitq dashboard --scan-limit N`: a task list whose filter no index serves
# (a queue without a status, succeeded) examines at most N ids below the
# page's start; a page that the window ends before it is full
# is marked cut and continues below the window (next_before, the "continue"
# link), so that following the pages still reaches every task; a start above
# the newest id examines from the newest down. A filter an
# index serves (a queue and a status; a status alone, read queue by queue
# and merged) and a store smaller than the window are not cut. A bad --scan-limit is a usage error.
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
assert_eq failed "$(field "$rare" status)" "the rare task"
assert_eq failed "$(field "$late" status)" "the late task"
assert_eq "$((rare + 24)) $((rare + 25))" "$last $late" "ids follow each other"

expect_exit 2 "$SITQ" dashboard "$DB" --scan-limit 0
assert_contains "$(cat "$TMP/err")" "--scan-limit" "a zero scan limit"
expect_exit 2 "$SITQ" dashboard "$DB" --scan-limit ten
assert_contains "$(cat "$TMP/err")" "--scan-limit" "a scan limit that is not a number"

log=$TMP/dash.log
start_dash "$log" --scan-limit 10

# api PATH: "IDS NEXT_BEFORE CUT" of /api/tasks?PATH.
api() {
    curl -sf "$URL/api/tasks?$1" |
        jget "'%s %s %s' % ([t['id'] for t in d['tasks']], d['next_before'], d['cut'])"
}

# The queue alone: windows of 10 ids from the newest down, until the rare task.
assert_eq "[] $((late - 9)) True" "$(api "queue=rare")" "rare: the newest 10 ids"
assert_eq "[] $((late - 19)) True" "$(api "queue=rare&before=$((late - 9))")" "rare: the next 10"
assert_eq "[$rare] None False" "$(api "queue=rare&before=$((late - 19))")" \
    "rare: the window reaches the first id"

# A window that ends before the page is full shows what it found, cut.
want=$(seq "$last" -1 $((last - 8)) | tr '\n' ',' | sed 's/,$//; s/,/, /g')
assert_eq "[$want] $((late - 9)) True" "$(api "queue=default&limit=20")" "default: a cut page"
# A page that fills inside the window is a plain page.
assert_eq "[$last, $((last - 1)), $((last - 2))] $((last - 2)) False" \
    "$(api "queue=default&limit=3")" "default: a full page"

# A status without a queue is read queue by queue on its index and merged,
# newest first, never cut; with a queue, that queue's index alone.
assert_eq "[$late, $rare] None False" "$(api "status=failed")" "failed: every queue"
assert_eq "[$late] $late False" "$(api "status=failed&limit=1")" "failed: page 1 of 1 task"
assert_eq "[$rare] None False" "$(api "status=failed&limit=1&before=$late")" "failed: page 2"
assert_eq "[$rare] None False" "$(api "queue=rare&status=failed")" "queue and status: no window"
# succeeded has no index: windowed, like a queue alone.
assert_eq "[$want] $((late - 9)) True" "$(api "status=succeeded&limit=20")" "succeeded: windowed"

# A start above the newest id (a hand-made or stale link) examines the ids
# from the newest down, as a first page does: not an endless chain of empty
# windows above the store.
assert_eq "[] $((late - 9)) True" "$(api "queue=rare&before=9223372036854775807")" \
    "rare: a start past the newest id"
assert_eq "[] $((late - 9)) True" "$(api "queue=rare&before=$((late + 1000))")" \
    "rare: a start 1000 past the newest id"
assert_eq "[$late] $((late - 9)) True" "$(api "queue=other&before=$((late + 1))")" \
    "other: the start just past the newest id keeps it"

# The HTML page says where it stopped and links to the rest.
curl -sf -o "$TMP/body" "$URL/tasks?queue=rare"
grep -qF "<a id=\"continue\" href=\"/tasks?limit=50&amp;queue=rare&amp;before=$((late - 9))\">" \
    "$TMP/body" || fail "no continue link: $(grep -o '<nav.*' "$TMP/body")"
grep -qF "examined ids $((late - 9))..$late." "$TMP/body" || fail "the page does not say what it examined"
curl -sf -o "$TMP/body" "$URL/tasks?queue=rare&before=$((late - 19))"
grep -q 'id="continue"' "$TMP/body" && fail "a continue link below the first id"
grep -qF "<a href=\"/tasks/$rare\">$rare</a>" "$TMP/body" || fail "the rare task is not listed"

# Without --scan-limit (100,000 ids) this small store is never cut.
stop_dash
start_dash "$log"
assert_eq "[$rare] None False" "$(api "queue=rare")" "the default window covers the store"

# Past 64 queues a status without a queue is not read queue by queue (a
# round trip each) but in the bounded window, like the filters above.
stop_dash
for n in $(seq 1 62); do
    cid=$("$SITQ" enqueue "$DB" --queue "many$n" -- true)
    "$SITQ" cancel "$DB" "$cid" >/dev/null
done
assert_eq "$((late + 62))" "$cid" "ids of the many queues follow"
start_dash "$log" --scan-limit 10
want=$(seq "$cid" -1 $((cid - 9)) | tr '\n' ',' | sed 's/,$//; s/,/, /g')
assert_eq "[$want] $((cid - 9)) True" "$(api "status=cancelled&limit=100")" \
    "65 queues: a status alone is windowed"
echo PASS
