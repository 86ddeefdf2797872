#!/usr/bin/env bash
# Bad input gives the documented exit code and a message naming the problem.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# check CODE NEEDLE CMD...: exit code CODE and NEEDLE in stderr
check() {
    local code=$1 needle=$2
    shift 2
    expect_exit "$code" "$@"
    assert_contains "$(cat "$TMP/err")" "$needle" "stderr of '$*'"
}

"$SITQ" enqueue "$DB" -- true >/dev/null

check 2 "usage" "$SITQ"
check 2 "unknown command 'frobnicate'" "$SITQ" frobnicate
check 2 "unknown option '--bogus'" "$SITQ" --bogus
check 2 "missing argument" "$SITQ" stats
check 2 "missing argument" "$SITQ" show "$DB"
check 2 "missing argument" "$SITQ" worker
check 2 "unexpected argument 'extra'" "$SITQ" stats "$DB" extra
check 2 "invalid task ID 'abc'" "$SITQ" show "$DB" abc
check 2 "'-3'" "$SITQ" cancel "$DB" -3
check 2 "invalid task ID '12x'" "$SITQ" retry "$DB" 12x
check 2 "'--bogus'" "$SITQ" list "$DB" --bogus
check 2 "--status" "$SITQ" list "$DB" --status sleeping
check 2 "--limit" "$SITQ" list "$DB" --limit 0
check 2 "--limit" "$SITQ" list "$DB" --limit ten
check 2 "requires a value" "$SITQ" list "$DB" --limit
check 2 "--older-than" "$SITQ" purge "$DB" --older-than -1
check 2 "--timeout" "$SITQ" wait "$DB" 1 --timeout soon
check 2 "--priority" "$SITQ" enqueue "$DB" --priority abc -- true
check 2 "--priority" "$SITQ" enqueue "$DB" --priority 99999999999 -- true
check 2 "--delay" "$SITQ" enqueue "$DB" --delay -5 -- true
check 2 "--retries" "$SITQ" enqueue "$DB" --retries -1 -- true
check 2 "--after" "$SITQ" enqueue "$DB" --after x -- true
check 2 "missing argument" "$SITQ" enqueue "$DB"
check 2 "'-l'" "$SITQ" enqueue "$DB" ls -l
check 2 "--concurrency" "$SITQ" worker "$DB" --concurrency -2
check 2 "--concurrency" "$SITQ" worker "$DB" --concurrency 0
check 2 "--lease" "$SITQ" worker "$DB" --lease nope
check 2 "--json and --value" "$SITQ" show "$DB" 1 --json --value

# One decimal grammar for every numeric option: no hex, inf, nan or blanks.
for bad in 0x10 0X1p4 inf nan " 5" "5 " 1e 1.2.3 "" +; do
    check 2 "invalid value '$bad' for --delay" "$SITQ" enqueue "$DB" --delay "$bad" -- true
    check 2 "for --priority" "$SITQ" enqueue "$DB" --priority "$bad" -- true
    check 2 "for --lease" "$SITQ" worker "$DB" --lease "$bad"
done
check 2 "for --timeout" "$SITQ" wait "$DB" 1 --timeout 0x10
check 2 "invalid task ID '0x1'" "$SITQ" show "$DB" 0x1
# Parser ranges are the library's: an accepted option is never refused later
# under a name the user did not give.
check 2 "for --kill-grace" "$SITQ" worker "$DB" --kill-grace 3600
check 2 "for --lease" "$SITQ" worker "$DB" --lease 0.01
check 2 "for --lease" "$SITQ" worker "$DB" --lease 604801
check 2 "for --poll" "$SITQ" worker "$DB" --poll 0.00001
check 2 "for --delay" "$SITQ" enqueue "$DB" --delay 5e9 -- true
check 2 "for --timeout" "$SITQ" enqueue "$DB" --timeout 4e9 -- true
check 2 "for --backoff-cap" "$SITQ" enqueue "$DB" --backoff-cap 4e9 -- true
# durations take a unit (ms, s, m, h, d) wherever a duration is taken; a
# bare number is seconds; a bad one names the option and the text
dur="expected a duration: a number of seconds, or a number with a unit ms, s, m, h or d"
check 2 "invalid value '10x' for --delay: $dur" "$SITQ" enqueue "$DB" --delay 10x -- true
check 2 "invalid value '5S' for --timeout: $dur" "$SITQ" enqueue "$DB" --timeout 5S -- true
check 2 "invalid value '1hh' for --backoff: $dur" "$SITQ" enqueue "$DB" --backoff 1hh -- true
check 2 "invalid value '1000h' for --busy-timeout" "$SITQ" enqueue "$DB" --busy-timeout 1000h -- true
check 2 "invalid value '1 m' for --older-than: $dur" "$SITQ" purge "$DB" --older-than "1 m"
check 2 "invalid value 'soon' for --timeout: $dur" "$SITQ" wait "$DB" 1 --timeout soon
check 2 "invalid value '10ms' for --lease: must be between 0.05 and" "$SITQ" worker "$DB" --lease 10ms
check 2 "invalid value '8d' for --lease: must be between" "$SITQ" worker "$DB" --lease 8d
check 2 "invalid value '1x' for --poll: $dur" "$SITQ" worker "$DB" --poll 1x
check 2 "invalid value '2h' for --kill-grace" "$SITQ" worker "$DB" --kill-grace 2h
check 2 "invalid value '-1m' for --stop-timeout" "$SITQ" worker "$DB" --stop-timeout -1m
d=$("$SITQ" enqueue "$DB" --delay 1h --timeout 90s --backoff 250ms --backoff-cap 10m -- true)
assert_eq 3600 "$(field "$d" eta_us | "$PY" -c "import sys; print(round((int(sys.stdin.read()) - $(field "$d" enqueued_at_us)) / 1e6))")" "--delay 1h"
assert_eq 90.0 "$(field "$d" timeout_s)" "--timeout 90s"
d2=$("$SITQ" enqueue "$DB" --delay 90 -- true)
assert_eq 90 "$(field "$d2" eta_us | "$PY" -c "import sys; print(round((int(sys.stdin.read()) - $(field "$d2" enqueued_at_us)) / 1e6))")" "a bare --delay is seconds"
expect_exit 4 "$SITQ" wait "$DB" "$d" --timeout 100ms
expect_exit 0 "$SITQ" purge "$DB" --older-than 7d
if grep -q "options\." "$TMP/err"; then fail "a CLI error names a library option"; fi

# operational errors: exit 1 with the API's message
check 1 "SITQ_ENOTFOUND" "$SITQ" show "$DB" 999
check 1 "SITQ_ENOTFOUND" "$SITQ" cancel "$DB" 999
check 1 "SITQ_ENOTFOUND" "$SITQ" retry "$DB" 999
check 1 "SITQ_ENOTFOUND" "$SITQ" wait "$DB" 999 --timeout 1
check 1 "SITQ_ESTATE" "$SITQ" retry "$DB" 1
check 1 "unknown queue 'other'" "$SITQ" show "$DB" 1 --queue other

# storage errors: exit 3
check 3 "$TMP/missing.db" "$SITQ" stats "$TMP/missing.db"
[ ! -e "$TMP/missing.db" ] || fail "stats created a missing database"
check 3 "it is a directory (SITQ_ESTORAGE)" "$SITQ" list "$TMP"
check 3 "it is a directory (SITQ_ESTORAGE)" "$SITQ" enqueue "$TMP" -- true
echo "not a database, just some text to make sqlite unhappy......................." > "$TMP/junk.db"
check 3 "junk.db" "$SITQ" stats "$TMP/junk.db"

# wait timeout: exit 4, snapshot on stdout
check 4 "did not finish" "$SITQ" wait "$DB" 1 --timeout 0.2
assert_contains "$(cat "$TMP/out")" "queued" "wait timeout prints the snapshot"
# The extreme values the parser takes work end to end (last: workers run
# the queued tasks above).
expect_exit 0 "$SITQ" enqueue "$DB" --delay 3155760000 --timeout 1.5e3 -- true
start_worker --kill-grace 3599 --lease 604800 --poll 3600
stop_worker
start_worker --lease 0.05 --poll 0.0001
stop_worker
echo "ok"
