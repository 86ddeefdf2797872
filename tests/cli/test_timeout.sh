#!/usr/bin/env bash
# --timeout kills the command's whole process group within a few seconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pidfile=$TMP/pgid
id=$("$SITQ" enqueue "$DB" --timeout 1 -- sh -c 'echo $$ > "$0"; sleep 300 & sleep 300' "$pidfile")
start_worker --kill-grace 1
t0=$(date +%s)
expect_exit 5 "$SITQ" wait "$DB" "$id" --timeout 15
t1=$(date +%s)
[ $((t1 - t0)) -le 6 ] || fail "timeout took $((t1 - t0)) s"
[ -s "$pidfile" ] || fail "the command did not start"
pgid=$(cat "$pidfile")
EXTRA_PGIDS=$pgid
assert_eq failed "$(field "$id" status)" "timed out task status"
assert_contains "$(field "$id" error)" "time" "timed out task error"
# the whole group (sh and both sleeps) is gone
for _ in $(seq 1 40); do
    if ! kill -0 -- "-$pgid" 2>/dev/null; then break; fi
    sleep 0.05
done
if kill -0 -- "-$pgid" 2>/dev/null; then
    fail "process group $pgid survived: $(ps -o pid=,args= -g "$pgid" | tr '\n' ';')"
fi
if ps -eo pgid=,args= | awk -v g="$pgid" '$1 == g' | grep -q sleep; then
    fail "a sleep of group $pgid survived"
fi
stop_worker
echo "ok"
