#!/usr/bin/env bash
# A worker runs shell tasks: success keeps stdout, failure keeps the exit
# status and stderr tail, --retries gives more attempts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ok=$("$SITQ" enqueue "$DB" -- echo hello)
bad=$("$SITQ" enqueue "$DB" -- sh -c 'echo partial; echo oops >&2; exit 3')
retried=$("$SITQ" enqueue "$DB" --retries 2 --backoff 0.05 -- sh -c 'echo again >&2; exit 1')
missing=$("$SITQ" enqueue "$DB" -- /nonexistent/program arg)
sig=$("$SITQ" enqueue "$DB" -- sh -c 'kill -KILL $$')
# lots of stderr must not block the command (pipes are drained with poll)
big=$("$SITQ" enqueue "$DB" -- sh -c 'head -c 1000000 /dev/zero | tr "\0" e >&2; head -c 200000 /dev/zero | tr "\0" o; exit 0')
binary=$("$SITQ" enqueue "$DB" -- printf '\377\376')

start_worker --concurrency 2

expect_exit 0 "$SITQ" wait "$DB" "$ok" --timeout 10
assert_contains "$(cat "$TMP/out")" "status:           succeeded" "wait prints the task"
assert_eq succeeded "$(field "$ok" status)" "echo status"
assert_eq "hello" "$("$SITQ" show "$DB" "$ok" --value)" "echo result (--value)"
assert_eq "'hello\\n'" "$("$SITQ" show "$DB" "$ok" --json | jget "repr(d['value'])")" "echo result in JSON"
assert_eq 6 "$(field "$ok" value_len)" "echo value_len"
assert_eq 1 "$(field "$ok" attempts)" "echo attempts"
finished=$(field "$ok" finished_at)
[ "$finished" != null ] || fail "finished_at not set"

expect_exit 5 "$SITQ" wait "$DB" "$bad" --timeout 10
assert_eq failed "$(field "$bad" status)" "failing command status"
assert_contains "$(field "$bad" error)" "exit status 3" "failing command error"
assert_contains "$(field "$bad" traceback)" "oops" "failing command traceback"
assert_eq null "$(field "$bad" value)" "failing command has no value"

expect_exit 5 "$SITQ" wait "$DB" "$retried" --timeout 15
assert_eq failed "$(field "$retried" status)" "retried status"
assert_eq 3 "$(field "$retried" attempts)" "--retries 2 gives 3 attempts"

expect_exit 5 "$SITQ" wait "$DB" "$missing" --timeout 10
assert_contains "$(field "$missing" error)" "/nonexistent/program" "missing program error"

expect_exit 5 "$SITQ" wait "$DB" "$sig" --timeout 10
assert_contains "$(field "$sig" error)" "signal 9" "killed command error"

expect_exit 0 "$SITQ" wait "$DB" "$big" --timeout 15
assert_eq 200000 "$(field "$big" value_len)" "stdout within the default --max-result is kept whole"

expect_exit 0 "$SITQ" wait "$DB" "$binary" --timeout 10
assert_eq null "$(field "$binary" value)" "non-UTF-8 value is not a JSON string"
assert_eq "//4=" "$(field "$binary" value_base64)" "non-UTF-8 value in base64"

stop_worker
assert_contains "$(cat "$TMP/worker.log")" "started" "worker log"

# A worker whose open-file limit is too low for its concurrency raises it:
# 40 commands running at once under a soft limit of 64 all start (they
# failed with "Too many open files"); one whose hard limit is too low says
# so at start.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 400 ]; then
    # Each command waits for the gate, at most 30 s (a failed test leaves
    # no command behind: cleanup kills the worker, not its commands).
    for _ in $(seq 40); do
        "$SITQ" enqueue "$DB" --queue fds -- sh -c \
            'i=0; while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done' sh \
            "$TMP/fds-gate" >/dev/null
    done
    (ulimit -Sn 64 && exec "$SITQ" worker "$DB" --queue fds --concurrency 40 --burst --quiet) \
        2>"$TMP/fds.log" &
    fds_pid=$!
    WORKER_PID=$fds_pid
    i=0
    until [ "$("$SITQ" stats "$DB" --queue fds --json | jget "d['running']")" = 40 ]; do
        failed=$("$SITQ" stats "$DB" --queue fds --json | jget "d['failed']")
        [ "$failed" = 0 ] || fail "$failed commands did not start: $("$SITQ" list "$DB" --queue fds \
            --status failed --json | jget "d[0]['error']")"
        [ $i -lt 400 ] || fail "40 commands did not run at once within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
    touch "$TMP/fds-gate"
    wait "$fds_pid" || fail "the worker under a low open-file limit failed: $(cat "$TMP/fds.log")"
    WORKER_PID=
    assert_eq 40 "$("$SITQ" stats "$DB" --queue fds --json | jget "d['succeeded']")" \
        "every command under a low open-file limit"
    (ulimit -n 64 && exec "$SITQ" worker "$DB" --queue fds --concurrency 40 --burst) 2>"$TMP/fds.log"
    assert_contains "$(cat "$TMP/fds.log")" "concurrency 40 may need 384 open files, but the limit is 64" \
        "the warning when the hard limit is too low"
else
    echo "part skipped: the hard open-file limit ($hard) is below 400"
fi
echo "ok"
