#!/usr/bin/env bash
# `sitq dashboard --count-cap N`: counts up to the cap, then the exact count
# of the background. A queue with more queued tasks than the cap shows
# "3+" on the first page (its exact count is asked for then, never read on
# the request's path); /api/queues (polled, bounded) then gives the exact
# figure with its age, and so do the page (in the figure's title) and
# /metrics. A fresh dashboard's first /metrics gives the bound and leaves
# the queue's counters out; a queue below the cap reads exact throughout.
# A bad --count-cap is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for _ in 1 2 3 4 5; do "$SITQ" enqueue "$DB" --queue big -- true >/dev/null; done
"$SITQ" enqueue "$DB" --queue big --delay 3600 -- true >/dev/null
"$SITQ" enqueue "$DB" --queue small -- true >/dev/null

# big EXPR: EXPR over the object of queue big in /api/queues.
big() { curl -s "$URL/api/queues" | jget "[q for q in d if q['queue'] == 'big'][0]$1"; }

start_dash "$TMP/log" --count-cap 3
# The first page: the bound, its title saying so; the total a bound too.
curl -s "$URL/" >"$TMP/page1.html"
assert_contains "$(cat "$TMP/page1.html")" 'title="more than 3: counted up to the cap">3+</span>' "page1.html"
assert_contains "$(cat "$TMP/page1.html")" '>4+</span>' "page1.html"

# The background's exact count arrives (bounded wait, polling the API).
ok=0
for _ in $(seq 400); do
    if [ "$(big "['exact_age_s'].get('queued') is not None")" = true ]; then
        ok=1
        break
    fi
    sleep 0.05
done
[ $ok = 1 ] || fail "no exact count of big: $(big "")"
curl -s "$URL/api/queues" >"$TMP/api.json"
assert_eq 5 "$(jget "[q for q in d if q['queue'] == 'big'][0]['queued']" <"$TMP/api.json")" "big queued"
assert_eq 1 "$(jget "[q for q in d if q['queue'] == 'big'][0]['scheduled']" <"$TMP/api.json")" "big scheduled"
assert_eq 6 "$(jget "[q for q in d if q['queue'] == 'big'][0]['total']" <"$TMP/api.json")" "big total"
assert_eq "[]" "$(jget "[q for q in d if q['queue'] == 'big'][0]['lower_bound']" <"$TMP/api.json")" "no bound left"
assert_eq 3 "$(jget "[q for q in d if q['queue'] == 'big'][0]['count_cap']" <"$TMP/api.json")" "cap"
assert_eq true "$(jget "0 <= [q for q in d if q['queue'] == 'big'][0]['exact_age_s']['queued'] < 600" <"$TMP/api.json")" "age"
assert_eq "{}" "$(jget "[q for q in d if q['queue'] == 'small'][0]['exact_age_s']" <"$TMP/api.json")" "small is read exact"
assert_eq 1 "$(jget "[q for q in d if q['queue'] == 'small'][0]['queued']" <"$TMP/api.json")" "small queued"
curl -s "$URL/" >"$TMP/page2.html"
assert_contains "$(cat "$TMP/page2.html")" 's ago">5</span>' "page2.html"
curl -s "$URL/metrics" >"$TMP/m1.txt"
assert_contains "$(cat "$TMP/m1.txt")" 'sitq_tasks{queue="big",status="queued"} 5' "m1.txt"
assert_contains "$(cat "$TMP/m1.txt")" 'sitq_tasks_enqueued_total{queue="big"} 6' "m1.txt"
assert_contains "$(cat "$TMP/m1.txt")" 'sitq_tasks_enqueued_total{queue="small"} 1' "m1.txt"
stop_dash

# A fresh dashboard's first scrape: the bound, and no counters of big yet.
start_dash "$TMP/log" --count-cap 3
curl -s "$URL/metrics" >"$TMP/m2.txt"
assert_contains "$(cat "$TMP/m2.txt")" 'sitq_tasks{queue="big",status="queued"} 3' "m2.txt"
assert_contains "$(cat "$TMP/m2.txt")" 'sitq_tasks{queue="small",status="queued"} 1' "m2.txt"
assert_contains "$(cat "$TMP/m2.txt")" 'sitq_tasks_enqueued_total{queue="small"} 1' "m2.txt"
if grep -q 'sitq_tasks_enqueued_total{queue="big"}' "$TMP/m2.txt"; then
    fail "big's counters were read on the scrape's path"
fi
stop_dash

expect_exit 2 "$SITQ" dashboard "$DB" --count-cap 0
expect_exit 2 "$SITQ" dashboard "$DB" --count-cap x
echo "ok"
