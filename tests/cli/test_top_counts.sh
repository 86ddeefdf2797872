#!/usr/bin/env bash
# `sitq top --count-cap N`: each status counted up to the cap. A queue with
# more queued tasks than the cap shows "3+" (its total a bound too), one
# with fewer its exact figures, the all-queues row adds the bound in.
# `sitq queues` still counts exactly. A bad --count-cap is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for _ in 1 2 3 4 5; do "$SITQ" enqueue "$DB" --queue big -- true >/dev/null; done
"$SITQ" enqueue "$DB" --queue small -- true >/dev/null

# row NAME: the row of queue NAME in the last --once output, spaces squeezed.
row() { grep -E "^$1 " "$TMP/out" | tr -s ' '; }

expect_exit 0 "$SITQ" top "$DB" --once --interval 0.1 --count-cap 3
assert_eq "big 3+ 0 0 0 0 0 0 3+" "$(row big)" "big at the cap"
assert_eq "small 1 0 0 0 0 0 0 1" "$(row small)" "small below the cap"
assert_eq "(all queues) 4+ 0 0 0 0 0 0 4+" "$(row '\(all')" "the sum adds the bound in"

expect_exit 0 "$SITQ" top "$DB" --once --interval 0.1 --count-cap 5
assert_eq "big 5 0 0 0 0 0 0 5" "$(row big)" "exactly the cap is exact"

# Without --count-cap (100,000) the figures are exact.
expect_exit 0 "$SITQ" top "$DB" --once --interval 0.1
assert_eq "big 5 0 0 0 0 0 0 5" "$(row big)" "default cap"

# `sitq queues` counts exactly whatever top's cap.
expect_exit 0 "$SITQ" queues "$DB" --json
assert_eq 5 "$(jget "[q for q in d if q['queue'] == 'big'][0]['queued']" <"$TMP/out")" "queues exact"

for bad in 0 -1 x 1000000001 ""; do
    expect_exit 2 "$SITQ" top "$DB" --once --count-cap "$bad"
    assert_contains "$(cat "$TMP/err")" "--count-cap" "bad cap '$bad' named"
done
echo "test_top_counts: ok"
