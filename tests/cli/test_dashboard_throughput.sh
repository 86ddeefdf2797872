#!/usr/bin/env bash
# `sitq dashboard`: the throughput charts. Workers finish known work (5
# successes, a failure with no retry, a failure retried once then failed);
# the /api/queues series (polled until its sums reach the work, bounded)
# holds exactly that per interval, the queues page draws an SVG chart whose
# text twin gives the same figures with the queue's name escaped, a purge
# changes no figure, and a bad --sample-interval is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DASH_PID=
# The status is kept for cleanup, which exits with it.
trap 'rc=$?; [ -z "$DASH_PID" ] || kill "$DASH_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT

Q='tp<&>"q'
"$SITQ" enqueue "$DB" --queue "$Q" -- true >/dev/null
start_dash "$TMP/log" --sample-interval 0.2

# throughput EXPR: EXPR over the throughput object of queue $Q in /api/queues.
throughput() {
    curl -s "$URL/api/queues" |
        Q="$Q" jget "[q['throughput'] for q in d if q['queue'] == __import__('os').environ['Q']][0]$1"
}

# Wait for a first sample (the task enqueued above), then do the work.
for _ in $(seq 200); do
    [ "$(throughput "['since']")" != null ] && break
    sleep 0.05
done
for _ in 1 2 3 4; do "$SITQ" enqueue "$DB" --queue "$Q" -- true >/dev/null; done
"$SITQ" enqueue "$DB" --queue "$Q" -- false >/dev/null
"$SITQ" enqueue "$DB" --queue "$Q" --retries 1 --backoff 0.01 -- false >/dev/null
"$SITQ" worker "$DB" --queue "$Q" --burst --burst-eta-bound 5 --quiet

# The series reaches the work done (bounded wait on the samples).
ok=0
for _ in $(seq 300); do
    if [ "$(throughput "['succeeded']")" = 5 ] && [ "$(throughput "['failed']")" = 3 ]; then
        ok=1
        break
    fi
    sleep 0.05
done
[ $ok = 1 ] || fail "the throughput never reached 5 succeeded, 3 failed: $(throughput "")"
curl -s "$URL/api/queues" >"$TMP/api.json"
sums=$(Q="$Q" jget "[[sum(p[k] for p in q['throughput']['points']) for k in (1, 2, 3)] for q in d if q['queue'] == __import__('os').environ['Q']][0]" <"$TMP/api.json")
assert_eq "[5, 2, 1]" "$sums" "points: succeeded, failed, retried per interval"
assert_eq 0.2 "$(Q="$Q" jget "[q['throughput']['interval_s'] for q in d if q['queue'] == __import__('os').environ['Q']][0]" <"$TMP/api.json")" "interval"
assert_eq true "$(throughput "['since_start']")" "a history shorter than its window"
assert_eq true "$(Q="$Q" jget "all(p[1] >= 0 and p[2] >= 0 and p[3] >= 0 for q in d for p in q['throughput']['points'])" <"$TMP/api.json")" "no negative rate"

# The page: an SVG chart with its text twin; the name escaped everywhere.
curl -s -D "$TMP/hdr" "$URL/" >"$TMP/page.html"
twin='tp&lt;&amp;&gt;&quot;q: 5 succeeded, 3 failed since the dashboard started'
assert_contains "$(cat "$TMP/page.html")" "role=\"img\" aria-label=\"$twin" "the chart's aria-label"
assert_contains "$(cat "$TMP/page.html")" "<title>$twin" "the chart's title"
assert_eq 2 "$(grep -o '<polyline ' "$TMP/page.html" | wc -l)" "two lines: succeeded, failed"
if grep -q 'tp<&>' "$TMP/page.html"; then fail "the queue name reached the page unescaped"; fi
if grep -qi '<script\|style="' "$TMP/page.html"; then fail "a script or inline style in the page"; fi
assert_contains "$(grep -i '^content-security-policy' "$TMP/hdr")" "default-src 'none'" "CSP kept"

# A purge deletes the tasks; the counters, and so the rates, do not drop.
n=$(throughput "['points'].__len__()")
"$SITQ" purge "$DB" --queue "$Q" --older-than 0 >/dev/null
for _ in $(seq 300); do
    [ "$(throughput "['points'].__len__()")" -gt $((n + 2)) ] && break
    sleep 0.05
done
[ "$(throughput "['points'].__len__()")" -gt $((n + 2)) ] || fail "no sample after the purge"
assert_eq 5 "$(throughput "['succeeded']")" "succeeded after a purge"
assert_eq 3 "$(throughput "['failed']")" "failed after a purge"

# A queue created while the dashboard runs: the work done before the
# sampler first read it counts (its history starts at 0 when the round
# before listed every queue). Each interval is 3 s here, so the work is
# usually done before that first reading.
stop_dash
start_dash "$TMP/log2" --sample-interval 3
for _ in $(seq 200); do
    [ "$(throughput "['since']")" != null ] && break
    sleep 0.05
done
for _ in 1 2 3; do "$SITQ" enqueue "$DB" --queue late -- true >/dev/null; done
"$SITQ" worker "$DB" --queue late --burst --quiet
late() { curl -s "$URL/api/queues" | jget "[q['throughput'] for q in d if q['queue'] == 'late'][0]$1"; }
for _ in $(seq 200); do
    [ "$(late "['succeeded']" 2>/dev/null)" = 3 ] && break
    sleep 0.05
done
assert_eq 3 "$(late "['succeeded']")" "a new queue's work before its first sample"

# Bad intervals are usage errors.
expect_exit 2 "$SITQ" dashboard "$DB" --sample-interval 0.01
assert_contains "$(cat "$TMP/err")" "--sample-interval" "names the option"
expect_exit 2 "$SITQ" dashboard "$DB" --sample-interval 2h
echo "ok"
