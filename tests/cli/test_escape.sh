#!/usr/bin/env bash
# Stored text never reaches the terminal raw: commands, results, errors,
# tracebacks, keys and worker ids with escape sequences, C1 controls or
# invalid UTF-8 are printed escaped by list, show, wait and the worker log,
# while printable UTF-8 stays readable; JSON output keeps the exact text.
# Payloads, results and errors keep any bytes; names must be UTF-8.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ESC=$(printf '\033')
BEL=$(printf '\007')
CSI8=$(printf '\302\233')   # U+009B, the 8-bit CSI, as UTF-8
BAD=$(printf '\377')        # not UTF-8
EVIL="${ESC}]0;owned${BEL} ${ESC}[2J${CSI8}31m${BAD} café"

# assert_clean FILE WHAT: FILE is valid UTF-8 without control characters
# other than newline and tab, DEL or C1 controls.
assert_clean() {
    "$PY" - "$1" "$2" <<'PY' || fail "$2 printed raw control characters or invalid UTF-8"
import re, sys
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")  # raises on invalid UTF-8
bad = re.findall("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
if bad:
    print(f"{sys.argv[2]}: found {bad!r} in {text!r}", file=sys.stderr)
    sys.exit(1)
PY
}

ok=$("$SITQ" enqueue "$DB" -- sh -c 'printf "%s" "$1"' sh "$EVIL")
bad=$("$SITQ" enqueue "$DB" --unique "k${ESC}[2J" -- sh -c 'printf "%s" "$1" >&2; exit 3' sh "$EVIL")
missing=$("$SITQ" enqueue "$DB" -- "/nonexistent/${ESC}[2Jcmd")
start_worker --worker-id "w${ESC}[2J"
wait_status "$ok" succeeded
wait_status "$bad" failed
wait_status "$missing" failed
stop_worker
assert_clean "$TMP/worker.log" "the worker log"
assert_contains "$(cat "$TMP/worker.log")" 'running: sh -c' "worker log"
assert_contains "$(cat "$TMP/worker.log")" '\x1b]0;owned\x07 \x1b[2J\u009b31m\xff café' "worker log"
assert_contains "$(cat "$TMP/worker.log")" "w\\x1b[2J started" "worker log"

"$SITQ" list "$DB" >"$TMP/list"
assert_clean "$TMP/list" "list"
assert_contains "$(cat "$TMP/list")" '\x1b]0;owned\x07' "list"
assert_contains "$(cat "$TMP/list")" '/nonexistent/\x1b[2Jcmd' "list"

for id in "$ok" "$bad" "$missing"; do
    "$SITQ" show "$DB" "$id" >"$TMP/show"
    assert_clean "$TMP/show" "show $id"
    "$SITQ" wait "$DB" "$id" >"$TMP/wait" 2>&1 || true
    assert_clean "$TMP/wait" "wait $id"
done
"$SITQ" show "$DB" "$ok" >"$TMP/show"
assert_contains "$(cat "$TMP/show")" '\x1b]0;owned\x07 \x1b[2J\u009b31m\xff café' "show's command and value"
assert_contains "$(cat "$TMP/show")" "w\\x1b[2J" "show's worker id"
"$SITQ" show "$DB" "$bad" >"$TMP/show"
assert_contains "$(cat "$TMP/show")" 'k\x1b[2J' "show's unique key"
assert_contains "$(cat "$TMP/show")" '  \x1b]0;owned\x07' "show's traceback"
"$SITQ" show "$DB" "$missing" >"$TMP/show"
assert_contains "$(cat "$TMP/show")" "cannot run '/nonexistent/\\x1b[2Jcmd'" "show's error"

# Error messages quote arguments escaped, too.
expect_exit 1 "$SITQ" show "$DB" "$ok" --queue "q${ESC}[2J"
assert_clean "$TMP/err" "an error message"
expect_exit 1 "$SITQ" stats "$DB" --queue "q${ESC}[2J"
assert_contains "$(cat "$TMP/err")" "unknown queue 'q\x1b[2J'" "stats on an unknown queue"
assert_clean "$TMP/err" "stats on an unknown queue"

# Names are stored as text: one that is not UTF-8 is refused on every
# backend, before anything is stored, naming the argument (escaped).
expect_exit 2 "$SITQ" enqueue "$DB" --queue "q${BAD}" -- true
assert_contains "$(cat "$TMP/err")" "queue name is not valid UTF-8 (byte 0xff at offset 1)" \
    "enqueue --queue"
expect_exit 2 "$SITQ" enqueue "$DB" --unique "k${BAD}" -- true
assert_contains "$(cat "$TMP/err")" "unique_key is not valid UTF-8" "enqueue --unique"
assert_clean "$TMP/err" "the refusal"
"$SITQ" stats "$DB" --json >"$TMP/stats"
"$PY" - "$TMP/stats" <<'PY' || fail "a refused name stored a task"
import json, sys
assert json.load(open(sys.argv[1]))["total"] == 3
PY

# JSON escapes everything and keeps the exact text (invalid UTF-8 as base64).
"$SITQ" show "$DB" "$ok" --json >"$TMP/json"
assert_clean "$TMP/json" "show --json"
"$PY" - "$TMP/json" "$EVIL" <<'PY' || fail "show --json changed the command"
import base64, json, os, sys
d = json.load(open(sys.argv[1]))
want = os.fsencode(sys.argv[2])
arg = d["command"][4]
# the argument is not UTF-8, so it is stored as base64
assert base64.b64decode(arg) == want, (arg, want)
assert base64.b64decode(d["value_base64"]) == want
PY
"$SITQ" list "$DB" --json >"$TMP/json"
assert_clean "$TMP/json" "list --json"

# Queue, schedule and function names are spelled out too, stored or echoed.
Q=$'Q\e[2J'
"$SITQ" schedule add "$DB" --queue "$Q" $'n\e[31mX\n' --every 60 -- true >"$TMP/out"
"$SITQ" schedule list "$DB" >>"$TMP/out"
"$SITQ" schedule pause "$DB" --queue "$Q" $'n\e[31mX\n' >>"$TMP/out"
"$SITQ" retention "$DB" --queue "$Q" >>"$TMP/out"
"$SITQ" limit "$DB" --queue "$Q" --function $'f\e[2J' --concurrency 2 >>"$TMP/out"
"$SITQ" limit "$DB" --queue "$Q" >>"$TMP/out"
"$SITQ" pause "$DB" --queue "$Q" >>"$TMP/out"
assert_clean "$TMP/out" "schedule, retention, limit and pause output"
assert_contains "$(cat "$TMP/out")" 'schedule n\x1b[31mX\x0a of queue Q\x1b[2J' "an escaped name"
assert_eq 7 "$(grep -c 'Q\\x1b\[2J\|f\\x1b\[2J' "$TMP/out")" "every line names the escaped queue"
echo "ok"
