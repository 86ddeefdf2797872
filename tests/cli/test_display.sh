#!/usr/bin/env bash
# What the command shows of stored text: `sitq show` hides the
# sitq-exception-v1 line a Python worker appends to a traceback (text and
# JSON); the worker's log never shows a PostgreSQL password.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

blob=gASVIAAAAAAAAACMCGJ1aWx0aW5zlIwKVmFsdWVFcnJvcpSTlIwEYm9vbZSFlFKULg==
py=$("$SITQ" enqueue "$DB" -- sh -c 'printf "Traceback (most recent call last):\n  File \"t.py\", line 1\nValueError: boom\nsitq-exception-v1:%s\n" "$1" >&2; exit 1' sh "$blob")
# The marker only counts at the start of a line.
mid=$("$SITQ" enqueue "$DB" -- sh -c 'echo "note: sitq-exception-v1:kept" >&2; exit 1')
only=$("$SITQ" enqueue "$DB" -- sh -c 'echo "sitq-exception-v1:$1" >&2; exit 1' sh "$blob")
start_worker
expect_exit 5 "$SITQ" wait "$DB" "$only" --timeout 20
expect_exit 5 "$SITQ" wait "$DB" "$py" --timeout 20
expect_exit 5 "$SITQ" wait "$DB" "$mid" --timeout 20
stop_worker

want="Traceback (most recent call last):
  File \"t.py\", line 1
ValueError: boom"
assert_eq "$want" "$(field "$py" traceback)" "JSON traceback without the marker line"
text=$("$SITQ" show "$DB" "$py")
assert_contains "$text" "traceback:
  Traceback (most recent call last):
    File \"t.py\", line 1
  ValueError: boom" "text traceback"
# The command line holds the marker's text too: look at the traceback alone.
case "$(echo "$text" | sed -n '/^traceback:/,$p')" in
    *sitq-exception-v1*|*"$blob"*) fail "marker line shown: $text" ;;
esac
assert_eq "note: sitq-exception-v1:kept" "$(field "$mid" traceback)" "marker inside a line is text"
assert_eq "" "$(field "$only" traceback)" "a traceback that is only the marker"
assert_contains "$("$SITQ" show "$DB" "$only")" "traceback:        -" "text of an empty traceback"

# The worker's log masks a PostgreSQL password, in the user information and
# in a password= query parameter (the test cluster trusts its role, so any
# password connects).
if [ "$ON_PG" = 1 ]; then
    secret_db="${DB/@/:hunter2@}&password=hunter3"
    [ "$secret_db" != "$DB&password=hunter3" ] || fail "no user information in $DB"
    "$SITQ" enqueue "$secret_db" -- true >/dev/null
    "$SITQ" worker "$secret_db" --max-tasks 1 2>"$TMP/secret.log"
    log=$(cat "$TMP/secret.log")
    assert_contains "$log" ":***@" "masked user password"
    assert_contains "$log" "&password=***" "masked query password"
    case "$log" in *hunter*) fail "password in the worker log: $log" ;; esac
else
    echo "SKIP on SQLite (part): password masking needs a PostgreSQL URI (cli_test_db_display covers the rules)"
fi
# A URI libpq cannot parse is quoted whole in its message: the password
# reads *** there too (nothing is dialled: the parse fails first).
for bad in 'postgresql://u:Secr3tPw@[zz/x' 'postgresql://u:Secr3tPw@[::1]x/db?password=Other4Pw'; do
    expect_exit 3 "$SITQ" stats "$bad"
    assert_contains "$(cat "$TMP/err")" "u:***@" "masked password of a URI libpq refused"
    case "$(cat "$TMP/err")" in *Secr3tPw*|*Other4Pw*) fail "password in: $(cat "$TMP/err")" ;; esac
done
echo OK
