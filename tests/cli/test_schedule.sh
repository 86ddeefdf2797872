#!/usr/bin/env bash
# sitq schedule: add, list (text and JSON), pause, resume, remove, the
# errors of bad input, and a worker that fires a schedule of shell commands.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

expect_exit 0 "$SITQ" schedule add "$DB" nightly --cron "0 3 * * *" --timezone Europe/Paris \
    --retries 2 -- echo nightly
assert_contains "$(cat "$TMP/out")" "schedule nightly of queue default: next fire 20" "add output"
json=$("$SITQ" schedule add "$DB" often --every 10m --skip-missed --queue other --json -- true)
assert_eq other "$(echo "$json" | jget "d['queue']")" "add --json queue"
case "$(echo "$json" | jget "d['next_fire']")" in
    *:?0:00Z) ;;
    *) fail "every 10m falls on a multiple of 10 minutes: $json" ;;
esac

list=$("$SITQ" schedule list "$DB" --json)
assert_eq 2 "$(echo "$list" | jget "len(d)")" "two schedules"
assert_eq "default nightly 0 3 * * * Europe/Paris" \
    "$(echo "$list" | jget "' '.join([d[0]['queue'], d[0]['name'], d[0]['cron'], d[0]['timezone']])")" \
    "first schedule"
assert_eq "other often 600 True False" \
    "$(echo "$list" | jget "' '.join(str(x) for x in [d[1]['queue'], d[1]['name'], d[1]['every_s'], d[1]['skip_missed'], d[1]['paused']])")" \
    "second schedule"
assert_eq 1 "$("$SITQ" schedule list "$DB" --queue other --json | jget "len(d)")" "list --queue"
expect_exit 0 "$SITQ" schedule list "$DB"
assert_contains "$(cat "$TMP/out")" "NEXT FIRE" "text list header"
assert_contains "$(cat "$TMP/out")" "Europe/Paris" "text list zone"

# intervals in the largest exact units; a next fire time already past (no
# worker runs here) is marked in the text only, JSON keeps the raw time
expect_exit 0 "$SITQ" schedule add "$DB" --queue units a --every 5400 -- true
expect_exit 0 "$SITQ" schedule add "$DB" --queue units b --every 1d -- true
expect_exit 0 "$SITQ" schedule add "$DB" --queue units c --every 90061s -- true
expect_exit 0 "$SITQ" schedule add "$DB" --queue units d --every 45s -- true
expect_exit 0 "$SITQ" schedule list "$DB" --queue units
assert_eq "every 1h30m|every 1d|every 1d1h1m1s|every 45s" \
    "$(awk 'NR > 1 { printf "%s%s %s", (NR > 2 ? "|" : ""), $3, $4 }' "$TMP/out")" "interval units"
# A fire time in the future is not marked. An interval's next tick may be a
# moment away (every 45s above) and pass before `list` reads it on a loaded
# machine, so the check takes a cron tick one to two hours ahead.
ahead_h=$(( ($(date -u +%-H) + 2) % 24 ))
expect_exit 0 "$SITQ" schedule add "$DB" --queue ahead later --cron "0 $ahead_h * * *" -- true
expect_exit 0 "$SITQ" schedule list "$DB" --queue ahead
assert_contains "$(cat "$TMP/out")" "later" "a schedule an hour or more ahead is listed"
assert_eq 0 "$(grep -c overdue "$TMP/out" || true)" "future fire times are not overdue"
expect_exit 0 "$SITQ" schedule remove "$DB" --queue ahead later
expect_exit 0 "$SITQ" schedule add "$DB" --queue late tick --every 1s -- true
expect_exit 0 "$SITQ" schedule add "$DB" --queue late held --every 1s --paused -- true
assert_eq "schedule held of queue late: paused" "$(cat "$TMP/out")" \
    "add --paused prints paused, not a fire time"
i=0
until "$SITQ" schedule list "$DB" --queue late | grep -q "tick .*(overdue)"; do
    [ $i -lt 200 ] || fail "the past fire time of 'tick' was never marked overdue"
    sleep 0.05
    i=$((i + 1))
done
expect_exit 0 "$SITQ" schedule list "$DB" --queue late
assert_contains "$(grep held "$TMP/out")" "paused   -" "a paused schedule shows no fire time"
assert_eq 0 "$(grep held "$TMP/out" | grep -c overdue || true)" "a paused one is never overdue"
assert_eq "- -" "$(awk '$2 == "tick" || $2 == "held" { printf "%s%s", (n++ ? " " : ""), $5 }' "$TMP/out")" \
    "an --every schedule has no zone"
assert_eq null "$("$SITQ" schedule list "$DB" --queue late --json | jget "d[0]['timezone']")" \
    "an --every schedule has no zone in JSON"

# The TIMEZONE column is as wide as the longest zone: the next columns
# stay under their headings.
expect_exit 0 "$SITQ" schedule add "$DB" --queue zones ba --cron "@daily" \
    --timezone America/Argentina/Buenos_Aires -- true
expect_exit 0 "$SITQ" schedule add "$DB" --queue zones ev --every 1h -- true
expect_exit 0 "$SITQ" schedule list "$DB" --queue zones
assert_eq "America/Argentina/Buenos_Aires -" "$(awk 'NR > 1 { printf "%s%s", (NR > 2 ? " " : ""), ($2 == "ba" ? $4 : $5) }' "$TMP/out")" \
    "zones"
state_col=$(head -1 "$TMP/out" | awk '{ print index($0, "STATE") }')
assert_eq "$state_col $state_col" \
    "$(awk 'NR > 1 { printf "%s%s", (NR > 2 ? " " : ""), index($0, "active") }' "$TMP/out")" \
    "STATE column aligned under a long zone"
for n in ba ev; do expect_exit 0 "$SITQ" schedule remove "$DB" --queue zones "$n"; done
assert_eq "tick 0" "$("$SITQ" schedule list "$DB" --queue late --json |
    jget "d[1]['name'] + ' ' + str(d[1]['next_fire'].count('overdue'))")" "JSON keeps the raw time"
for n in a b c d; do expect_exit 0 "$SITQ" schedule remove "$DB" --queue units "$n"; done
for n in tick held; do expect_exit 0 "$SITQ" schedule remove "$DB" --queue late "$n"; done

expect_exit 0 "$SITQ" schedule pause "$DB" nightly
assert_eq true "$("$SITQ" schedule list "$DB" --json | jget "d[0]['paused']")" "paused"
expect_exit 0 "$SITQ" schedule resume "$DB" nightly
assert_eq false "$("$SITQ" schedule list "$DB" --json | jget "d[0]['paused']")" "resumed"

# bad input: a clear message and exit code 2 (1 for an unknown schedule)
expect_exit 2 "$SITQ" schedule add "$DB" nightly --cron "0 3 * * *" -- true
assert_contains "$(cat "$TMP/err")" "already exists" "duplicate name"
expect_exit 2 "$SITQ" schedule add "$DB" bad --cron "0 24 * * *" -- true
assert_contains "$(cat "$TMP/err")" "hour field" "bad cron"
expect_exit 2 "$SITQ" schedule add "$DB" bad --cron "@daily" --timezone Atlantis/Capital -- true
assert_contains "$(cat "$TMP/err")" "unknown time zone" "unknown zone"
expect_exit 2 "$SITQ" schedule add "$DB" bad -- true
assert_contains "$(cat "$TMP/err")" "exactly one of" "no timing"
expect_exit 2 "$SITQ" schedule add "$DB" bad --every 1.5s -- true
assert_contains "$(cat "$TMP/err")" "whole number" "fractional interval"
expect_exit 2 "$SITQ" schedule add "$DB" bad --every 10m --timezone Europe/Paris -- true
assert_contains "$(cat "$TMP/err")" "--timezone applies to --cron only" "zone with an interval"
expect_exit 2 "$SITQ" schedule add "$DB" bad --every 10m --timezone UTC -- true
expect_exit 1 "$SITQ" schedule remove "$DB" missing
assert_contains "$(cat "$TMP/err")" "no schedule named missing" "remove unknown"
# A --queue that names nothing is a typo (exit 1), as for the other
# commands; a queue with a schedule alone is known.
expect_exit 1 "$SITQ" schedule list "$DB" --queue nosuch
assert_contains "$(cat "$TMP/err")" "unknown queue 'nosuch'" "list: unknown queue"
expect_exit 0 "$SITQ" schedule add "$DB" lone --queue only-schedules --every 1h -- true
expect_exit 0 "$SITQ" schedule list "$DB" --queue only-schedules --json
assert_eq "lone" "$(jget "d[0]['name']" <"$TMP/out")" "list: a queue known by its schedule"
expect_exit 0 "$SITQ" schedule remove "$DB" lone --queue only-schedules
expect_exit 2 "$SITQ" schedule frobnicate "$DB"
assert_contains "$(cat "$TMP/err")" "unknown action" "unknown action"
expect_exit 0 "$SITQ" schedule --help
assert_contains "$(cat "$TMP/out")" "--skip-missed" "help"
assert_eq 2 "$("$SITQ" schedule list "$DB" --json | jget "len(d)")" "refused adds stored nothing"

# a worker fires a schedule every second: its tasks run the command
expect_exit 0 "$SITQ" schedule add "$DB" tick --every 1s -- sh -c 'echo tick >> "$0"' "$TMP/ticks"
touch "$TMP/ticks"
start_worker
i=0
until [ "$(wc -l < "$TMP/ticks" 2>/dev/null || echo 0)" -ge 2 ]; do
    [ $i -lt 400 ] || fail "the schedule did not fire twice within 20 s"
    sleep 0.05
    i=$((i + 1))
done
expect_exit 0 "$SITQ" schedule remove "$DB" tick
stop_worker
last=$("$SITQ" schedule list "$DB" --json | jget "len(d)")
assert_eq 2 "$last" "tick removed"
ok=$("$SITQ" stats "$DB" --queue default --json | jget "d['succeeded']")
[ "$ok" -ge 2 ] || fail "expected at least 2 succeeded tasks, got $ok"
echo "ok"
