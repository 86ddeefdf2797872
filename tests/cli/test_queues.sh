#!/usr/bin/env bash
# `sitq queues`, `sitq stats` over every queue, unknown --queue names, and
# task ids that need no --queue (they are unique across queues).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A store with three queues: default (1 queued), mail (2 queued, 1 failed)
# and done (its one task succeeded, then purged: the queue stays known, its
# counts all 0).
"$SITQ" enqueue "$DB" -- true >/dev/null
"$SITQ" enqueue "$DB" --queue mail -- true >/dev/null
"$SITQ" enqueue "$DB" --queue mail -- true >/dev/null
"$SITQ" enqueue "$DB" --queue mail -- false >/dev/null
"$SITQ" enqueue "$DB" --queue done -- true >/dev/null
"$SITQ" worker "$DB" --queue done --max-tasks 1 --quiet
expect_exit 0 "$SITQ" purge "$DB" --queue done --older-than 0
assert_eq "purged 1 task" "$(cat "$TMP/out")" "purge of done"

# queues: a table in name order
expect_exit 0 "$SITQ" queues "$DB"
assert_eq "QUEUE QUEUED WAITING SCHEDULED RUNNING SUCCEEDED FAILED CANCELLED TOTAL" \
    "$(sed -n 1p "$TMP/out" | tr -s ' ')" "queues header"
assert_eq "default 1 0 0 0 0 0 0 1" "$(sed -n 2p "$TMP/out" | tr -s ' ')" "queues default row"
assert_eq "done 0 0 0 0 0 0 0 0" "$(sed -n 3p "$TMP/out" | tr -s ' ')" "queues done row"
assert_eq "mail 3 0 0 0 0 0 0 3" "$(sed -n 4p "$TMP/out" | tr -s ' ')" "queues mail row"
assert_eq 4 "$(wc -l <"$TMP/out")" "queues rows"
json=$("$SITQ" queues "$DB" --json)
assert_eq 1 "$(echo "$json" | wc -l)" "queues --json is one line"
assert_eq '["default", "done", "mail"]' "$(echo "$json" | jget "[q['queue'] for q in d]")" "queues --json names"
assert_eq 3 "$(echo "$json" | jget "d[2]['queued']")" "queues --json mail queued"
"$SITQ" queues "$DB" --jsonl >"$TMP/jsonl"
assert_eq 3 "$(wc -l <"$TMP/jsonl")" "queues --jsonl lines"
assert_eq done "$(sed -n 2p "$TMP/jsonl" | jget "d['queue']")" "queues --jsonl done line"
assert_eq "mail 3 0 0 0 0 0 0 3" "$("$SITQ" queues "$DB" --queue mail | sed -n 2p | tr -s ' ')" \
    "queues --queue"
expect_exit 2 "$SITQ" queues "$DB" --json --jsonl

# stats without --queue: every queue, their total and the store
expect_exit 0 "$SITQ" stats "$DB"
assert_eq "mail 3 0 0 0 0 0 0 3" "$(sed -n 4p "$TMP/out" | tr -s ' ')" "stats mail row"
assert_eq "(all queues) 4 0 0 0 0 0 0 4" "$(sed -n 5p "$TMP/out" | tr -s ' ')" "stats total row"
assert_contains "$(cat "$TMP/out")" "store:" "stats store section"
json=$("$SITQ" stats "$DB" --json)
assert_eq 1 "$(echo "$json" | wc -l)" "stats --json is one line"
assert_eq null "$(echo "$json" | jget "d['queue']")" "stats --json queue"
assert_eq 4 "$(echo "$json" | jget "d['total']")" "stats --json total"
assert_eq 4 "$(echo "$json" | jget "d['queued']")" "stats --json queued"
assert_eq '["default", "done", "mail"]' "$(echo "$json" | jget "[q['queue'] for q in d['queues']]")" \
    "stats --json queues"
assert_eq true "$(echo "$json" | jget "d['store']['bytes'] > 0")" "stats --json store"

# An unknown --queue is an error naming the known queues, for every command
# that reads or changes existing tasks; nothing is printed on stdout.
for c in stats queues list purge show wait cancel retry; do
    case $c in show | wait | cancel | retry) set -- 1 ;; *) set -- ;; esac
    expect_exit 1 "$SITQ" $c "$DB" "$@" --queue nope
    assert_eq "sitq $c: unknown queue 'nope' (known queues: default, done, mail)" \
        "$(cat "$TMP/err")" "$c on an unknown queue"
    [ ! -s "$TMP/out" ] || fail "$c on an unknown queue printed $(cat "$TMP/out")"
done
# ... while enqueue (and worker) create a queue by using it
expect_exit 0 "$SITQ" enqueue "$DB" --queue nope -- true
assert_contains "$("$SITQ" queues "$DB")" "nope" "a new queue is listed"
assert_eq 1 "$("$SITQ" stats "$DB" --queue nope --json | jget "d['queued']")" "stats of the new queue"

# Task ids are global: show, wait, cancel and retry find the task's queue.
m=$("$SITQ" enqueue "$DB" --queue mail --delay 3600 -- echo later)
assert_eq mail "$("$SITQ" show "$DB" "$m" --json | jget "d['queue']")" "show without --queue"
assert_contains "$("$SITQ" show "$DB" "$m")" "queue:            mail" "show text without --queue"
assert_eq mail "$("$SITQ" show "$DB" "$m" --queue mail --json | jget "d['queue']")" \
    "show with the right --queue"
expect_exit 1 "$SITQ" show "$DB" "$m" --queue default
assert_eq "sitq show: task $m is in queue 'mail', not in queue 'default' (task ids are unique across queues: --queue is not needed)" \
    "$(cat "$TMP/err")" "show with another queue"
for c in wait cancel retry; do
    expect_exit 1 "$SITQ" $c "$DB" "$m" --queue default
    assert_contains "$(cat "$TMP/err")" "is in queue 'mail', not in queue 'default'" "$c with another queue"
done
assert_eq scheduled "$(field "$m" status)" "the refused commands changed nothing"
expect_exit 4 "$SITQ" wait "$DB" "$m" --timeout 0 --json
assert_eq mail "$(jget "d['queue']" <"$TMP/out")" "wait without --queue"
expect_exit 0 "$SITQ" cancel "$DB" "$m" --json
assert_eq cancelled "$(jget "d['status']" <"$TMP/out")" "cancel without --queue"
expect_exit 0 "$SITQ" retry "$DB" "$m"
assert_eq "task $m requeued (queued)" "$(cat "$TMP/out")" "retry without --queue"
expect_exit 1 "$SITQ" show "$DB" 99999
assert_eq "sitq show: task 99999 does not exist (SITQ_ENOTFOUND)" "$(cat "$TMP/err")" "unknown id"
assert_eq "[$m]" "$("$SITQ" show "$DB" "$m" --deps --json | jget "[d['id']]")" "show --deps without --queue"

# A store whose only task was cancelled and purged keeps its queue, with
# the counters that only grow; so does a queue whose only task failed. A
# store without a task ever finished or queued has no queues.
if [ "$ON_PG" = 0 ]; then
    E=$TMP/empty.db
    "$SITQ" enqueue "$E" -- true >/dev/null
    "$SITQ" cancel "$E" 1 >/dev/null
    "$SITQ" enqueue "$E" --queue gone -- false >/dev/null
    "$SITQ" worker "$E" --queue gone --burst --quiet
    "$SITQ" purge "$E" --older-than 0 >/dev/null
    "$SITQ" purge "$E" --queue gone --older-than 0 >/dev/null
    assert_eq '[["default", 0, 1, 0], ["gone", 0, 0, 1]]' "$("$SITQ" queues "$E" --json |
        jget "[(q['queue'], q['total'], q['totals']['cancelled'], q['totals']['failed']) for q in d]")" \
        "queues whose finished tasks were purged"
    expect_exit 0 "$SITQ" stats "$E" --queue gone --json
    assert_eq 1 "$(jget "d['totals']['failed']" <"$TMP/out")" "stats of a purged queue"
    N=$TMP/none.db
    "$SITQ" worker "$N" --burst --quiet # creates the store, runs nothing
    assert_eq "[]" "$("$SITQ" queues "$N" --json)" "no queues: JSON"
    expect_exit 1 "$SITQ" list "$N" --queue default
    assert_contains "$(cat "$TMP/err")" "unknown queue 'default': the database has no queues yet" \
        "no queues: message"
else
    pg_skip_part "one schema per test: the store without queues is checked on SQLite"
fi

# The counters that only grow: in `queues --json`, `stats --json` and the
# text of `stats --queue`, the same after a purge.
for _ in 1 2; do "$SITQ" enqueue "$DB" --queue counted -- true >/dev/null; done
"$SITQ" enqueue "$DB" --queue counted --retries 1 --backoff 0.01 -- false >/dev/null
"$SITQ" worker "$DB" --queue counted --burst --burst-eta-bound 5 --quiet
want='{"enqueued": 3, "succeeded": 2, "failed": 1, "retried": 1, "lost": 0, "cancelled": 0}'
totals_of() { jget "[q['totals'] for q in d if q['queue'] == 'counted'][0]"; }
assert_eq "$want" "$("$SITQ" queues "$DB" --queue counted --json | totals_of)" "queues --json totals"
"$SITQ" stats "$DB" --queue counted >"$TMP/st.txt"
assert_contains "$(cat "$TMP/st.txt")" "counted (only grows):" "stats text: counters"
counted_line() { sed -n '/^counted (only grows):/,/^  cancelled/p' "$TMP/st.txt" | grep "^  $1 "; }
assert_eq "  succeeded              2" "$(counted_line succeeded)" "stats text: succeeded"
assert_eq "  retried                1" "$(counted_line retried)" "stats text: retried"
"$SITQ" purge "$DB" --queue counted --older-than 0 >/dev/null
assert_eq 0 "$("$SITQ" stats "$DB" --queue counted --json | jget "d['total']")" "purged"
assert_eq "$want" "$("$SITQ" stats "$DB" --queue counted --json | jget "d['totals']")" \
    "stats --json totals after a purge"
assert_eq "$want" "$("$SITQ" stats "$DB" --json | jget "[q['totals'] for q in d['queues'] if q['queue'] == 'counted'][0]")" \
    "stats --json: a queue's totals"
# --count-cap: each status counted up to N; a status with more shows "N+"
# (the total too), and in JSON its name is in "lower_bound" with
# "count_cap"; the other figures stay exact.
for _ in 1 2 3 4; do "$SITQ" enqueue "$DB" --queue capped -- true >/dev/null; done
"$SITQ" enqueue "$DB" --queue capped --delay 3600 -- true >/dev/null
row=$("$SITQ" queues "$DB" --queue capped --count-cap 3 | tail -n 1 | tr -s ' ')
assert_eq "capped 3+ 0 1 0 0 0 0 4+" "$row" "queues --count-cap: the row"
assert_eq "capped 4 0 1 0 0 0 0 5" "$("$SITQ" queues "$DB" --queue capped | tail -n 1 | tr -s ' ')" \
    "queues without a cap: exact"
capped_json=$("$SITQ" queues "$DB" --queue capped --count-cap 3 --json)
assert_eq '3 3 ["queued", "total"] 1' "$(echo "$capped_json" |
    jget "'%s %s %s %s' % (d[0]['queued'], d[0]['count_cap'], __import__('json').dumps(d[0]['lower_bound']), d[0]['scheduled'])")" \
    "queues --count-cap --json"
assert_eq "false" "$("$SITQ" queues "$DB" --queue capped --json | jget "'count_cap' in d[0]")" \
    "no count_cap without --count-cap"
"$SITQ" stats "$DB" --queue capped --count-cap 3 >"$TMP/capped.txt"
assert_contains "$(cat "$TMP/capped.txt")" "queued     3+" "stats --queue --count-cap: queued"
assert_contains "$(cat "$TMP/capped.txt")" "total      4+" "stats --queue --count-cap: total"
assert_eq '["queued", "total"]' "$("$SITQ" stats "$DB" --count-cap 3 --json | jget "d['lower_bound']")" \
    "stats --count-cap --json: the sums carry the bound"
assert_eq '[]' "$("$SITQ" stats "$DB" --queue capped --count-cap 10 --json | jget "d['lower_bound']")" \
    "a cap above the counts: exact"
for bad in 0 -1 x 1000000001; do
    expect_exit 2 "$SITQ" queues "$DB" --count-cap "$bad"
    assert_contains "$(cat "$TMP/err")" "--count-cap" "queues --count-cap $bad"
    expect_exit 2 "$SITQ" stats "$DB" --count-cap "$bad"
done
expect_exit 2 "$SITQ" list "$DB" --count-cap 3
echo "ok"
