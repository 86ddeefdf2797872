#!/usr/bin/env bash
# A shell task's result is its whole stdout up to `worker --max-result`:
# a 1 MiB result flows intact to a dependent's stdin, a longer stdout fails
# the attempt with a message saying so (or, with --truncate-result, keeps
# its first bytes), and bad sizes are usage errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

help=$("$SITQ" worker --help)
assert_contains "$help" "--max-result SIZE" "worker --help --max-result"
assert_contains "$help" "--truncate-result" "worker --help --truncate-result"

# Bad sizes: refused before anything runs, exit 2, naming the option.
for bad in 0 -1 +5 1.5M 16MB 64kb 1T k '' ' 5' 0x10 18446744073709551616 99999999999G; do
    expect_exit 2 "$SITQ" worker "$DB" --max-result "$bad" --burst
    assert_contains "$(cat "$TMP/err")" "--max-result" "message for '$bad'"
done
expect_exit 2 "$SITQ" worker "$DB" --max-result
# Zero names the lower bound only: the upper one is the database's.
expect_exit 2 "$SITQ" worker "$DB" --max-result 0 --burst
assert_contains "$(cat "$TMP/err")" "--max-result must be at least 1 byte, got '0'" "zero"
# Beyond the database's own limit (999000000 bytes on both backends).
expect_exit 2 "$SITQ" worker "$DB" --max-result 1G --burst
assert_contains "$(cat "$TMP/err")" "--max-result 1073741824 exceeds this database's limit of 999000000 bytes per result" "limit message"
expect_exit 0 "$SITQ" worker "$DB" --max-result 999000000 --burst --quiet

# Deterministic data with every byte value (NULs, invalid UTF-8).
{ printf "\377\000"; head -c 3145726 /dev/urandom; } >"$TMP/data3m"
head -c 1048576 "$TMP/data3m" >"$TMP/data1m"
head -c 2097152 "$TMP/data3m" >"$TMP/data2m"
sum() { sha256sum "$1" | cut -d' ' -f1; }

p=$("$SITQ" enqueue "$DB" -- cat "$TMP/data1m")
c=$("$SITQ" enqueue "$DB" --after "$p" --stdin-from-deps -- sh -c 'sha256sum | cut -d" " -f1')
exact=$("$SITQ" enqueue "$DB" -- cat "$TMP/data2m")
over=$("$SITQ" enqueue "$DB" -- sh -c 'cat "$1"; echo tail-of-stderr >&2' sh "$TMP/data3m")
expect_exit 0 "$SITQ" worker "$DB" --max-result 2M --burst --concurrency 2
for t in "$p" "$c" "$exact"; do assert_eq succeeded "$(field "$t" status)" "task $t"; done
assert_eq 1048576 "$(field "$p" value_len)" "1 MiB result kept whole"
assert_eq "$(sum "$TMP/data1m")" "$(field "$c" value | tr -d '\n')" "sha256 of the dependent's stdin"
"$SITQ" show "$DB" "$p" --json | jget "d['value_base64']" | base64 -d >"$TMP/got1m"
cmp "$TMP/data1m" "$TMP/got1m" || fail "stored 1 MiB result differs"
assert_eq 2097152 "$(field "$exact" value_len)" "a stdout of exactly --max-result bytes"

assert_eq failed "$(field "$over" status)" "stdout beyond the cap"
assert_eq "stdout exceeded --max-result 2097152 bytes; the command wrote 3145728 bytes (raise --max-result, or keep the first 2097152 bytes with --truncate-result)" \
    "$(field "$over" error)" "error beyond the cap"
assert_contains "$(field "$over" traceback)" "tail-of-stderr" "stderr tail kept"
assert_eq null "$(field "$over" value)" "no partial result"

# A failing command keeps its own message, whatever it wrote.
bad=$("$SITQ" enqueue "$DB" -- sh -c 'cat "$1"; exit 4' sh "$TMP/data3m")
expect_exit 0 "$SITQ" worker "$DB" --max-result 64k --burst --quiet
assert_eq "exit status 4" "$(field "$bad" error)" "exit status wins"

# --truncate-result: the first SIZE bytes, a success, said in the log.
tr1=$("$SITQ" enqueue "$DB" -- cat "$TMP/data1m")
small=$("$SITQ" enqueue "$DB" -- printf 'short')
expect_exit 0 "$SITQ" worker "$DB" --max-result 64k --truncate-result --burst
assert_eq succeeded "$(field "$tr1" status)" "truncated task succeeds"
assert_eq 65536 "$(field "$tr1" value_len)" "truncated to 64k"
"$SITQ" show "$DB" "$tr1" --json | jget "d['value_base64']" | base64 -d >"$TMP/got64k"
cmp <(head -c 65536 "$TMP/data1m") "$TMP/got64k" || fail "truncated result is not the first 64 KiB"
assert_contains "$(cat "$TMP/err")" "task $tr1 attempt 1: stdout truncated: kept the first 65536 of 1048576 bytes (--truncate-result)" "truncation logged"
assert_eq short "$(field "$small" value)" "short stdout untouched"

# The default (16 MiB) keeps a 3 MiB stdout.
big=$("$SITQ" enqueue "$DB" -- cat "$TMP/data3m")
expect_exit 0 "$SITQ" worker "$DB" --burst --quiet
assert_eq 3145728 "$(field "$big" value_len)" "default --max-result"

# A result the disk has no room for (a 3 MiB tmpfs, a 4 MB stdout) fails
# its attempt with a message saying so, as a result SQLite refuses does; it
# held the worker's every commit before (the other task never finished and
# the burst never ended).
if can_fill_disk; then
    mkdir -p "$TMP/full"
    rc=0
    unshare -m sh -c 'mount -t tmpfs -o size=3m tmpfs "$1" || exit 9
        "$2" enqueue "$1/q.db" -- sh -c "head -c 4000000 /dev/zero" >/dev/null &&
        "$2" enqueue "$1/q.db" -- printf small >/dev/null &&
        timeout -k 5 40 "$2" worker "$1/q.db" --burst --max-result 8M
        echo "worker exit $?"
        "$2" show "$1/q.db" 1 --json; "$2" show "$1/q.db" 2 --json' \
        sh "$TMP/full" "$SITQ" >"$TMP/full.out" 2>&1 || rc=$?
    [ "$rc" -ne 9 ] || fail "cannot mount a tmpfs"
    out=$(cat "$TMP/full.out")
    assert_contains "$out" "worker exit 0" "the burst ends on a full disk"
    assert_contains "$out" '"status": "failed"' "the unstorable result fails its attempt"
    assert_contains "$out" "the result of 4000000 bytes could not be stored" "message of a full disk"
    assert_contains "$out" "full" "the message names the full disk"
    assert_contains "$out" '"value": "small"' "the other task succeeds"
    # the worker's own count follows the store's verdict (it said "2 succeeded")
    assert_contains "$out" "2 claimed, 1 succeeded, 1 failed" "the worker's stats"

    # With the disk full and no process on the file (no -shm yet), a read
    # cannot map the -shm: the message says so instead of "disk I/O error".
    rc=0
    unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" || exit 9
        "$2" enqueue "$1/q.db" -- true >/dev/null || exit 8
        dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
        "$2" stats "$1/q.db"; echo "stats exit $?"' \
        sh "$TMP/full" "$SITQ" >"$TMP/full.out" 2>&1 || rc=$?
    [ "$rc" -ne 9 ] && [ "$rc" -ne 8 ] || fail "cannot set up the full disk ($rc)"
    out=$(cat "$TMP/full.out")
    assert_contains "$out" "stats exit 3" "stats on a full disk"
    assert_contains "$out" "(-shm) could not be grown: is its disk full?" "the -shm named"
fi
echo "ok"
