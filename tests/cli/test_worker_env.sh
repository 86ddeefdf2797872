#!/usr/bin/env bash
# The environment `sitq worker` gives commands: its own by default;
# --env-clear, --env NAME=VALUE, --env NAME and --env-file choose it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# result ID: the stdout the task's command produced.
result() { "$SITQ" show "$DB" "$1" --value; }

export SITQ_TEST_SECRET=s3cret SITQ_TEST_PASS=passed
a=$("$SITQ" enqueue "$DB" -- env)
start_worker
wait_status "$a" succeeded
stop_worker
assert_contains "$(result "$a")" "SITQ_TEST_SECRET=s3cret" "inherited by default"

cat >"$TMP/env" <<'END'
# comment, then a blank line

FROM_FILE=a b=c
OVERRIDDEN=file
END
b=$("$SITQ" enqueue "$DB" -- env)
start_worker --env-clear --env OVERRIDDEN=early --env-file "$TMP/env" --env SITQ_TEST_PASS \
    --env SITQ_TEST_UNSET --env EMPTY=
wait_status "$b" succeeded
stop_worker
assert_eq "$(printf 'OVERRIDDEN=file\nFROM_FILE=a b=c\nSITQ_TEST_PASS=passed\nEMPTY=')" \
    "$(result "$b")" "exactly the chosen environment, in order"

expect_exit 2 "$SITQ" worker "$DB" --env '1BAD=x'
assert_contains "$(cat "$TMP/err")" "--env" "bad --env name"
printf 'GOOD=1\nno equals sign\n' >"$TMP/bad"
expect_exit 2 "$SITQ" worker "$DB" --env-file "$TMP/bad"
assert_contains "$(cat "$TMP/err")" "$TMP/bad', line 2" "bad --env-file line"
expect_exit 2 "$SITQ" worker "$DB" --env-file "$TMP/missing"
assert_contains "$(cat "$TMP/err")" "$TMP/missing" "missing --env-file"
# A file that is not an environment (a device, a huge log) is refused
# within bounds, not read into memory.
expect_exit 2 "$SITQ" worker "$DB" --env-file /dev/zero
assert_contains "$(cat "$TMP/err")" "line 1: longer than 131071 bytes" "--env-file /dev/zero"
awk 'BEGIN { for (i = 0; i < 1250000; i++) print "A=1" }' >"$TMP/huge"
expect_exit 2 "$SITQ" worker "$DB" --env-file "$TMP/huge"
assert_contains "$(cat "$TMP/err")" "larger than 4194304 bytes" "a huge --env-file"
# The kernel takes a variable of 131071 bytes (with its NUL, 128 KiB), not
# one more; a CRLF line ending does not count.
printf 'A=%0131070d\n' 0 >"$TMP/over"
expect_exit 2 "$SITQ" worker "$DB" --env-file "$TMP/over"
assert_contains "$(cat "$TMP/err")" "line 1: longer than 131071 bytes" "a variable over the bound"
printf 'LONG=%0131066d\r\nB=2\n' 0 >"$TMP/long"
c=$("$SITQ" enqueue "$DB" -- sh -c 'printf "%s %s" "${#LONG}" "$B"')
start_worker --env-file "$TMP/long"
wait_status "$c" succeeded
stop_worker
assert_eq "131066 2" "$(result "$c")" "the longest line"
echo "ok"
