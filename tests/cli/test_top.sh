#!/usr/bin/env bash
# `sitq top`: the plain snapshot (--once, and stdout that is not a terminal)
# with the real counts, worker row and failure line, tasks claimed ahead
# counted apart from running ones; the live view driven
# in tmux (counts drawn, throughput of a worker that runs meanwhile, p
# pauses, resizes down to a tiny window, q and SIGTERM end it with the
# terminal restored); and the error paths.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || fail "tmux is missing (scripts/install-deps.sh installs it)"
SOCK=sitq-top-$$-$RANDOM
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'rc=$?; tm kill-server 2>/dev/null; (exit $rc); cleanup' EXIT

# row TEXT FIRST: the line of TEXT whose first field is FIRST, spaces squeezed.
row() {
    printf '%s\n' "$1" | tr -s ' ' | grep -m1 "^$2 " || true
}

# Three tasks run by a burst worker, one failing; one task left in "other".
"$SITQ" enqueue "$DB" -- true >/dev/null
"$SITQ" enqueue "$DB" -- true >/dev/null
bad=$("$SITQ" enqueue "$DB" -- sh -c 'exit 3')
"$SITQ" enqueue "$DB" --queue other -- true >/dev/null
"$SITQ" worker "$DB" --burst --worker-id top-w 2>>"$TMP/worker.log"

# (a) --once: one plain snapshot.
expect_exit 0 "$SITQ" top "$DB" --once --interval 100ms
out=$(cat "$TMP/out")
assert_eq "QUEUE QUEUED WAITING SCHEDULED RUNNING SUCCEEDED FAILED CANCELLED TOTAL" \
    "$(row "$out" QUEUE)" "queue header"
assert_eq "default 0 0 0 0 2 1 0 3" "$(row "$out" default)" "default counts"
assert_eq "other 1 0 0 0 0 0 0 1" "$(row "$out" other)" "other counts"
assert_eq "(all queues) 1 0 0 0 2 1 0 4" "$(row "$out" '(all')" "sum of the queues"
assert_eq "top-w stopped $(hostname)" "$(row "$out" top-w | cut -d' ' -f1-3)" "worker row"
assert_eq "1 2 1 0 default" "$(row "$out" top-w | cut -d' ' -f5-9)" "worker counts"
assert_contains "$(row "$out" "$bad")" "default" "failure line: queue"
assert_contains "$(row "$out" "$bad")" "exit status 3" "failure line: error"
# The span is the time measured between the two samples: the interval
# plus one sample's read, which a slow build (ASan on PostgreSQL) makes
# longer than 50 ms.
tp=$(grep -m1 '^throughput' <<<"$out") || fail "no throughput line in the output:$(printf '\n%s' "$out")"
span=$(printf '%s\n' "$tp" | sed -n 's/^throughput (last \([0-9.]*\) s): 0\.00 attempts\/s finished: 0\.00 succeeded\/s, 0\.00 failed\/s$/\1/p')
[ -n "$span" ] || fail "throughput line: expected 'throughput (last S s): 0.00 attempts/s ...', got '$tp'"
awk -v s="$span" 'BEGIN { exit !(s >= 0.1 && s < 10) }' ||
    fail "throughput span $span s: expected at least the 0.1 s interval"
assert_contains "$out" "WORKERS: 0 running, 0 dead, 1 stopped; 0 tasks running, 0 claimed ahead" \
    "workers line"
case "$out" in *"q quits"*) fail "the plain snapshot names keys" ;; esac

# Not a terminal: the same snapshot without --once (stdout is a pipe here).
out=$("$SITQ" top "$DB" --interval 0.1)
assert_eq "default 0 0 0 0 2 1 0 3" "$(row "$out" default)" "non-tty counts"
assert_contains "$(row "$out" "$bad")" "exit status 3" "non-tty failure line"

# --queue: that queue only, and the workers that serve it.
expect_exit 0 "$SITQ" top "$DB" --once --queue other --interval 0.1
out=$(cat "$TMP/out")
assert_eq "other 1 0 0 0 0 0 0 1" "$(row "$out" other)" "--queue counts"
assert_eq "" "$(row "$out" default)" "--queue leaves out the other queues"
assert_eq "" "$(row "$out" top-w)" "--queue leaves out workers of other queues"
assert_contains "$out" "(none)" "no failure in queue other"

# (b) The live view in tmux, at a fixed size.
# pane TARGET: the text of the pane, spaces squeezed.
pane() {
    tm capture-pane -p -t "$1" | tr -s ' '
}
# wait_pane TARGET TEXT: poll the pane (spaces squeezed) until it shows
# TEXT (20 s at most).
wait_pane() {
    local i=0
    until pane "$1" 2>/dev/null | grep -qF -- "$2"; do
        [ $i -lt 400 ] || fail "'$2' not shown in $1 within 20 s; pane: $(tm capture-pane -p -t "$1")"
        sleep 0.05
        i=$((i + 1))
    done
}
# wait_file FILE: poll until FILE exists (20 s at most).
wait_file() {
    local i=0
    until [ -s "$1" ]; do
        [ $i -lt 400 ] || fail "$1 not written within 20 s"
        sleep 0.05
        i=$((i + 1))
    done
}
# start_top NAME: sitq top in a new tmux session NAME; its exit code goes to
# $TMP/NAME.rc and the terminal's settings after it to $TMP/NAME.stty.
start_top() {
    cat >"$TMP/$1.sh" <<EOS
"$SITQ" top "$DB" --interval 0.2
echo \$? >"$TMP/$1.rc.tmp"
stty -a >"$TMP/$1.stty"
mv "$TMP/$1.rc.tmp" "$TMP/$1.rc"
exec sleep 600
EOS
    tm new-session -d -s "$1" -x 120 -y 40 "bash $TMP/$1.sh"
}
# check_restored NAME: exit code 0, cooked mode with echo, normal screen, cursor shown.
check_restored() {
    wait_file "$TMP/$1.rc"
    assert_eq 0 "$(cat "$TMP/$1.rc")" "exit code of the live view $1"
    grep -qw icanon "$TMP/$1.stty" || fail "$1: the terminal was left in raw mode"
    grep -qw echo "$TMP/$1.stty" || fail "$1: the terminal was left without echo"
    assert_eq "0 1" "$(tm display -p -t "$1" '#{alternate_on} #{cursor_flag}')" \
        "$1: normal screen and visible cursor"
    case "$(tm capture-pane -p -t "$1")" in *"LATEST FAILURES"*) fail "$1: the view stayed" ;; esac
}

start_top live
wait_pane live "(q quits, p pauses)"
wait_pane live "attempts/s"
pane=$(tm capture-pane -p -t live)
assert_eq "default 0 0 0 0 2 1 0 3" "$(row "$pane" default)" "live counts"
assert_eq "top-w stopped $(hostname)" "$(row "$pane" top-w | cut -d' ' -f1-3)" "live worker row"
assert_contains "$(row "$pane" "$bad")" "exit status 3" "live failure line"

# A worker that runs while the view is up: its row, the new counts and a
# throughput above zero.
for _ in 1 2 3 4 5; do "$SITQ" enqueue "$DB" -- true >/dev/null; done
"$SITQ" worker "$DB" --burst --worker-id top-w2 2>>"$TMP/worker.log"
wait_pane live "default 0 0 0 0 7 1 0 8"
wait_pane live "top-w2 stopped $(hostname)"
assert_eq "1 5 0 0 default" "$(row "$(pane live)" top-w2 | cut -d' ' -f5-9)" "live new worker"
tp=$(grep -m1 '^throughput' <<<"$(pane live)")
case "$tp" in
    *": 0.00 attempts/s"*) fail "throughput stayed 0 after a worker ran: $tp" ;;
    *"attempts/s finished"*) ;;
    *) fail "no throughput line: $tp" ;;
esac

# p pauses and resumes; a small window cuts the view, a tiny one says so,
# and the view comes back whole at its size.
tm send-keys -t live p
wait_pane live "PAUSED (q quits, p resumes)"
tm send-keys -t live p
wait_pane live "(q quits, p pauses)"
tm resize-window -t live -x 40 -y 8
wait_pane live "more lines: enlarge the terminal"
tm resize-window -t live -x 12 -y 2
wait_pane live "terminal to"
tm resize-window -t live -x 120 -y 40
wait_pane live "LATEST FAILURES"
assert_eq "default 0 0 0 0 7 1 0 8" "$(row "$(pane live)" default)" "counts after resizes"

# What a worker runs: the task under its row, with its shell command.
block=$("$SITQ" enqueue "$DB" -- sh -c "while [ ! -e '$TMP/go' ]; do sleep 0.05; done")
start_worker --worker-id top-w3 --concurrency 1
wait_pane live "runs $block default sh -c"
assert_contains "$(row "$(pane live)" top-w3)" "top-w3 running $(hostname)" "running worker row"
assert_contains "$(pane live)" \
    "WORKERS: 1 running, 0 dead, 2 stopped; 1 tasks running, 0 claimed ahead" \
    "workers line with a running task"
touch "$TMP/go"
wait_status "$block" succeeded
stop_worker
wait_pane live "default 0 0 0 0 8 1 0 9"

# q quits with exit code 0 and the terminal restored.
tm send-keys -t live q
check_restored live

# SIGTERM ends it the same way (sent to the sitq process of the session).
start_top term
wait_pane term "LATEST FAILURES"
shell=$(tm display -p -t term '#{pane_pid}')
top_pid=$(pgrep -P "$shell" -x sitq || true)
[ -n "$top_pid" ] || fail "no sitq process under the tmux pane"
kill -TERM "$top_pid"
check_restored term

# Ctrl-C (SIGINT from the terminal) too.
start_top intr
wait_pane intr "LATEST FAILURES"
tm send-keys -t intr C-c
check_restored intr

# A lost connection (PostgreSQL; SQLite has none to lose): the view keeps its last snapshot under
# the error, then comes back by itself once the store answers again. A session the server ends
# while it is idle is replaced before the next read, so the view's own role is also refused new
# sessions until the error shows.
if [ "$ON_PG" = 1 ]; then
    app=sitq_top_test_$$_$RANDOM
    psql -qAt "$SITQ_TEST_PG_URI" -c "CREATE ROLE $app LOGIN SUPERUSER" || fail "CREATE ROLE"
    cat >"$TMP/lost.sh" <<EOS
"$SITQ" top "${DB/postgres@/$app@}&application_name=$app" --interval 1
echo \$? >"$TMP/lost.rc"
exec sleep 600
EOS
    tm new-session -d -s lost -x 160 -y 40 "bash $TMP/lost.sh"
    wait_pane lost "LATEST FAILURES"
    psql -qAt "$SITQ_TEST_PG_URI" -c "ALTER ROLE $app NOLOGIN" \
        -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '$app'" \
        >"$TMP/killed"
    [ "$(cat "$TMP/killed")" -ge 1 ] || fail "no connection of sitq top to terminate"
    wait_pane lost "STORE ERROR, showing the last snapshot and retrying"
    assert_eq "default 0 0 0 0 8 1 0 9" "$(row "$(pane lost)" default)" "last snapshot kept"
    psql -qAt "$SITQ_TEST_PG_URI" -c "ALTER ROLE $app LOGIN" || fail "ALTER ROLE LOGIN"
    i=0
    while pane lost | grep -q "STORE ERROR"; do
        [ $i -lt 400 ] || fail "the view did not recover from the lost connection"
        sleep 0.05
        i=$((i + 1))
    done
    assert_eq "default 0 0 0 0 8 1 0 9" "$(row "$(pane lost)" default)" "counts after reconnecting"
    tm send-keys -t lost q
    wait_file "$TMP/lost.rc"
    assert_eq 0 "$(cat "$TMP/lost.rc")" "exit code after a lost connection"
fi

# A terminal that curses does not know: an error, then the plain snapshot.
tm new-session -d -s dumb -x 120 -y 40 \
    "TERM=nosuchterm '$SITQ' top '$DB' --interval 0.1 2>&1; echo \"exit=\$?\"; exec sleep 600"
wait_pane dumb "exit="
pane_text=$(pane dumb)
assert_contains "$pane_text" "curses cannot drive this terminal (TERM=nosuchterm)" "unknown TERM"
assert_eq "default 0 0 0 0 8 1 0 9" "$(row "$pane_text" default)" "unknown TERM: snapshot"
assert_contains "$pane_text" "exit=0" "unknown TERM: exit code"

# The latest failures of several queues: newest id first across them.
bad2=$("$SITQ" enqueue "$DB" --queue other -- sh -c 'exit 4')
"$SITQ" worker "$DB" --queue other --burst --worker-id top-o 2>>"$TMP/worker.log"
expect_exit 0 "$SITQ" top "$DB" --once --interval 0.1
out=$(cat "$TMP/out")
assert_eq "other 0 0 0 0 1 1 0 2" "$(row "$out" other)" "other after its worker"
fails=$(printf '%s\n' "$out" | sed -n '/^LATEST FAILURES/,$p' | tr -s ' ' | sed -n '3,$p')
assert_eq "$bad2 other" "$(printf '%s\n' "$fails" | sed -n 1p | cut -d' ' -f1-2)" "newest failure"
assert_eq "$bad default" "$(printf '%s\n' "$fails" | sed -n 2p | cut -d' ' -f1-2)" "older failure"
assert_contains "$(printf '%s\n' "$fails" | sed -n 1p)" "exit status 4" "newest failure's error"

# Workers stopped before the last minute are counted, not listed (their
# stop time is moved back in the SQLite file; the view is the same code on
# PostgreSQL).
if [ "$ON_PG" = 0 ]; then
    sqlite3 "$DB" "UPDATE sitq_workers SET stopped_at_us = stopped_at_us - 120000000 WHERE id = 'top-w'"
    expect_exit 0 "$SITQ" top "$DB" --once --interval 0.1
    out=$(cat "$TMP/out")
    assert_eq "" "$(row "$out" top-w)" "a worker stopped long ago has no row"
    assert_contains "$out" "... and 1 workers stopped over 60 s ago (sitq workers --all)" "counted"
    assert_contains "$out" "WORKERS: 0 running, 0 dead, 4 stopped" "in the workers line"
    assert_eq "top-w2 stopped" "$(row "$out" top-w2 | cut -d' ' -f1-2)" "a recent one is listed"
else
    pg_skip_part "stop times are moved back in the SQLite file only"
fi

# Tasks claimed ahead are not running: a worker of concurrency 2 (which
# claims 2 more ahead) holding 4 tasks that wait on a file runs 2 and holds
# 2, as `sitq workers` shows; top says the same in --once and live.
for _ in 1 2 3 4 5; do
    "$SITQ" enqueue "$DB" --queue pf -- sh -c "while [ ! -e '$TMP/pf-go' ]; do sleep 0.05; done" \
        >>"$TMP/pf-ids"
done
start_worker --queue pf --worker-id top-pf --concurrency 2
i=0
until "$SITQ" workers "$DB" | grep -q "running: [0-9]* [0-9]* (+2 claimed ahead)"; do
    [ $i -lt 400 ] || fail "the worker did not start 2 and claim 2 ahead: $("$SITQ" workers "$DB")"
    sleep 0.05
    i=$((i + 1))
done
expect_exit 0 "$SITQ" top "$DB" --once --queue pf --interval 0.1
out=$(cat "$TMP/out")
assert_eq "pf 1 0 0 4 0 0 0 5" "$(row "$out" pf)" "pf counts (the store's statuses)"
assert_contains "$out" "WORKERS: 1 running, 0 dead, 0 stopped; 2 tasks running, 2 claimed ahead" \
    "--once: claimed ahead apart"
assert_eq 2 "$(printf '%s\n' "$out" | grep -c '^    runs [0-9]* *pf ')" "--once: 2 runs lines"
assert_eq "+2 claimed ahead (not started)" "$(printf '%s\n' "$out" | grep '^    +' | tr -s ' ' |
    sed 's/^ //')" "--once: the worker's claimed-ahead line"
tm new-session -d -s pf -x 120 -y 40 "'$SITQ' top '$DB' --queue pf --interval 0.2; exec sleep 600"
wait_pane pf "2 tasks running, 2 claimed ahead"
assert_eq 2 "$(pane pf | grep -c '^ runs [0-9]* pf ')" "live: 2 runs lines"
assert_contains "$(pane pf)" "+2 claimed ahead (not started)" "live: the claimed-ahead line"
tm send-keys -t pf q
touch "$TMP/pf-go"
for id in $(cat "$TMP/pf-ids"); do wait_status "$id" succeeded; done
stop_worker

# (d) Terminals larger than ncurses draws (32,768 columns crashed it; 10,000
# x 10,000 kept it repainting for seconds): the view is drawn in their top
# left part, and q still ends it, with exit 0.
"$PY" - "$SITQ" "$DB" <<'PY' || fail "top on a huge terminal"
import fcntl, os, pty, select, signal, struct, sys, termios, time


def read_until(fd, pred, timeout, what):
    """Read the pty until pred(all read) holds; fail after timeout s."""
    out, end = b"", time.monotonic() + timeout
    while not pred(out):
        if time.monotonic() > end:
            sys.exit("top: no %s within %s s" % (what, timeout))
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 1 << 20)
            except OSError:
                break
    return out


for rows, cols in ((24, 32768), (10000, 10000)):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execv(sys.argv[1], ["sitq", "top", sys.argv[2], "--interval", "0.2"])
    read_until(fd, lambda o: b"sitq top" in o, 20, "first view")
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    # A view drawn at the new size (its clock changes every second).
    read_until(fd, lambda o: len(o) > 0, 20, "view after the resize to %dx%d" % (rows, cols))
    os.write(fd, b"q")
    end = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            sys.exit("top on %dx%d did not end within 20 s of q" % (rows, cols))
        read_until(fd, lambda o: True, 1, "")
    os.close(fd)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        sys.exit("top on %dx%d ended with status %#x" % (rows, cols, status))
PY

# (c) Errors: a missing database, an unreachable one, bad options.
expect_exit 3 "$SITQ" top "$TMP/missing.db" --once
assert_contains "$(cat "$TMP/err")" "missing.db" "missing database named"
[ ! -e "$TMP/missing.db" ] || fail "top created a missing database"
expect_exit 3 "$SITQ" top "postgresql://127.0.0.1:1/nosuch?connect_timeout=5" --once
for bad_interval in 0 -1 abc 0.05 2h nan ""; do
    expect_exit 2 "$SITQ" top "$DB" --once --interval "$bad_interval"
    assert_contains "$(cat "$TMP/err")" "--interval" "bad interval '$bad_interval' named"
done
expect_exit 2 "$SITQ" top "$DB" --interval
expect_exit 2 "$SITQ" top
expect_exit 2 "$SITQ" top "$DB" extra
expect_exit 2 "$SITQ" top "$DB" --bogus
expect_exit 1 "$SITQ" top "$DB" --once --queue nosuch
assert_contains "$(cat "$TMP/err")" "unknown queue 'nosuch'" "unknown queue"
expect_exit 0 "$SITQ" top --help
assert_contains "$(cat "$TMP/out")" "usage: sitq top DB" "help"
expect_exit 0 "$SITQ" --help
assert_contains "$(cat "$TMP/out")" "top " "global help lists top"
echo "test_top: ok"
