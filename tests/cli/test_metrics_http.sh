#!/usr/bin/env bash
# `sitq worker --metrics-address`: /metrics over HTTP with the store's and
# the worker's own figures (exact attempt counters, cumulative histogram
# buckets with consistent _count and _sum, promtool's check), 404 on other
# paths (compared exactly, %00 included), 405 on other methods, 421 for a
# Host that is not loopback and 400 for two Host headers, a scrape
# served beside idle connections, listening only where told, and clear
# errors for bad (strictly parsed ports) or busy addresses.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# fetch URL [METHOD]: print "STATUS" on the first line, then the body.
fetch() {
    "$PY" - "$1" "${2:-GET}" <<'PYEOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
except OSError as e:
    print("refused" if "refused" in str(e).lower() else "error: %s" % e)
PYEOF
}

# status_of URL [METHOD]: the HTTP status (or "refused") only.
status_of() {
    fetch "$@" >"$TMP/s.txt"
    head -1 "$TMP/s.txt"
}

# raw_status PORT HOST...: the status of a GET /metrics sent with one Host
# header line per HOST argument (printf escapes allowed: \001).
raw_status() {
    "$PY" - "$@" <<'PYEOF'
import socket, sys
port = int(sys.argv[1])
hosts = "".join("Host: %s\r\n" % h for h in sys.argv[2:])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(("GET /metrics HTTP/1.1\r\n%sConnection: close\r\n\r\n" % hosts).encode())
print(s.recv(64).split(b" ")[1].decode())
PYEOF
}

# metric NAME{LABELS}: the value of one sample of $TMP/m.txt.
metric() {
    local v
    v=$(K="$1 " awk 'index($0, ENVIRON["K"]) == 1 {print $NF; exit}' "$TMP/m.txt")
    [ -n "$v" ] || fail "no sample $1 in the metrics"
    echo "$v"
}

# port_of LOG: the port the worker logged that it serves metrics on.
port_of() {
    wait_log "$1" "/metrics"
    sed -n 's|.*metrics at http://[0-9.]*:\([0-9]*\)/metrics.*|\1|p' "$1" | tail -1
}

# Known work: 2 successes, a task failed for good after one retry.
"$SITQ" enqueue "$DB" -- true >/dev/null
"$SITQ" enqueue "$DB" -- true >/dev/null
bad=$("$SITQ" enqueue "$DB" --retries 1 --backoff 0.01 -- false)
start_worker --metrics-address 127.0.0.1:0 --worker-id http-w
port=$(port_of "$TMP/worker.log")
wait_status "$bad" failed
fetch "http://127.0.0.1:$port/metrics" >"$TMP/r.txt"
assert_eq 200 "$(head -1 "$TMP/r.txt")" "GET /metrics"
tail -n +2 "$TMP/r.txt" >"$TMP/m.txt"
q='queue="default"'
assert_eq 2 "$(metric "sitq_worker_process_attempts_total{$q,outcome=\"succeeded\"}")" "succeeded"
assert_eq 1 "$(metric "sitq_worker_process_attempts_total{$q,outcome=\"retried\"}")" "retried"
assert_eq 1 "$(metric "sitq_worker_process_attempts_total{$q,outcome=\"failed\"}")" "failed"
assert_eq 0 "$(metric "sitq_worker_process_attempts_total{$q,outcome=\"lost\"}")" "lost"
assert_eq 2 "$(metric "sitq_tasks{$q,status=\"succeeded\"}")" "store: succeeded"
assert_eq 1 "$(metric "sitq_tasks{$q,status=\"failed\"}")" "store: failed"
assert_eq 1 "$(metric 'sitq_workers{state="running"}')" "store: running workers"

# Histograms: buckets cumulative, +Inf equal to _count, _count the attempts,
# _sum within what the buckets allow.
"$PY" - "$TMP/m.txt" <<'PYEOF' || fail "histograms are inconsistent"
import re, sys
text = open(sys.argv[1]).read()
for name in ("sitq_task_duration_seconds", "sitq_task_queue_wait_seconds"):
    lab = 'queue="default",function="shell"'
    buckets = re.findall(r'^%s_bucket\{%s,le="([^"]+)"\} (\d+)$' % (name, lab), text, re.M)
    counts = [int(v) for _, v in buckets]
    assert buckets and buckets[-1][0] == "+Inf", (name, buckets)
    assert counts == sorted(counts), (name, counts)
    count = int(re.search(r'^%s_count\{%s\} (\d+)$' % (name, lab), text, re.M).group(1))
    total = float(re.search(r'^%s_sum\{%s\} (\S+)$' % (name, lab), text, re.M).group(1))
    assert count == counts[-1] == 4, (name, count, counts)
    assert 0 <= total <= 3600 * count, (name, total)
    bounds = [float(b) for b, _ in buckets[:-1]]
    # The sum is at least what the upper buckets hold beyond the lower bounds.
    lower = sum((counts[i + 1] - counts[i]) * bounds[i] for i in range(len(bounds) - 1))
    assert total >= lower, (name, total, lower)
PYEOF
if command -v promtool >/dev/null; then
    promtool check metrics <"$TMP/m.txt" || fail "promtool check metrics"
else
    echo "promtool not installed (Debian package prometheus): its check is skipped" >&2
fi

# Other paths and methods; HEAD is served.
assert_eq 404 "$(status_of "http://127.0.0.1:$port/")" "GET /"
assert_eq 404 "$(status_of "http://127.0.0.1:$port/metrics/x")" "GET /metrics/x"
assert_eq 405 "$(status_of "http://127.0.0.1:$port/metrics" POST)" "POST /metrics"
assert_eq 200 "$(status_of "http://127.0.0.1:$port/metrics" HEAD)" "HEAD /metrics"
# Only the exact path: no percent-decoding (%00 would end it at /metrics).
assert_eq 404 "$(status_of "http://127.0.0.1:$port/metrics%00")" "GET /metrics%00"
assert_eq 404 "$(status_of "http://127.0.0.1:$port/metrics%00/x")" "GET /metrics%00/x"
assert_eq 404 "$(status_of "http://127.0.0.1:$port/%6detrics")" "GET /%6detrics"
assert_eq 200 "$(status_of "http://127.0.0.1:$port/metrics?x=%00")" "a query is not the path"
# On loopback, the Host must name a loopback address exactly (no DNS
# rebinding), and there must be one Host header.
assert_eq 200 "$(raw_status "$port" "localhost:$port")" "Host: localhost"
assert_eq 200 "$(raw_status "$port" "[::1]:$port")" "Host: [::1]"
assert_eq 421 "$(raw_status "$port" "evil.example:$port")" "a foreign Host"
assert_eq 421 "$(raw_status "$port" "[::1]evil.example")" "a Host that only starts as [::1]"
assert_eq 421 "$(raw_status "$port" "127.0.0.1.evil.example")" "a Host that only starts as 127.0.0.1"
assert_eq 400 "$(raw_status "$port" "127.0.0.1:$port" "evil.example")" "two Host headers"
assert_eq 421 "$(raw_status "$port")" "no Host header"
# A request whose framing is ambiguous (two Content-Length headers) is
# refused with 400, and nothing after it on the connection is served.
"$PY" - "$port" <<'PYEOF' >"$TMP/framing.txt" || fail "ambiguous requests: $(cat "$TMP/framing.txt")"
import socket, sys
port = int(sys.argv[1])
def exchange(raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(raw)
    got = b""
    while True:  # the server must close the connection after its one answer
        part = s.recv(65536)
        if not part:
            break
        got += part
    return [line.split(b" ")[1].decode() for line in got.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
smuggled = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
print(exchange(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
               b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled))
PYEOF
assert_eq "['400']" "$(cat "$TMP/framing.txt")" "two Content-Length headers: one 400, then closed"

# Idle clients cannot keep a scrape out: with 20 connections open that send
# nothing, /metrics is served while they are all still open; then the server
# closes an idle one by itself (its connection timeout).
"$PY" - "$port" <<'PYEOF' >"$TMP/idle.txt" || fail "idle connections: $(cat "$TMP/idle.txt")"
import socket, sys, urllib.request
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(20)]
with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
    print("scrape", r.status, b"sitq_tasks" in r.read())
def still_open(s):
    s.setblocking(False)  # a timeout would make recv wait for data
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    finally:
        s.settimeout(30)
print("open", sum(still_open(s) for s in idle))
print("closed by the server", idle[0].recv(1) == b"")  # blocks until it is closed
PYEOF
assert_eq "scrape 200 True
open 20
closed by the server True" "$(cat "$TMP/idle.txt")" "a scrape beside idle connections"

# A port in use: a clear error, exit 1, before any task is claimed.
"$SITQ" enqueue "$DB" -- true >/dev/null
expect_exit 1 "$SITQ" worker "$DB" --metrics-address "127.0.0.1:$port" --burst
assert_contains "$(cat "$TMP/err")" "--metrics-address cannot listen on 127.0.0.1:$port" "busy port"
stop_worker

# It listens only where told: on 127.0.0.2, 127.0.0.1 refuses.
: >"$TMP/worker.log"
start_worker --metrics-address 127.0.0.2:0
port=$(port_of "$TMP/worker.log")
assert_eq 200 "$(status_of "http://127.0.0.2:$port/metrics")" "GET on 127.0.0.2"
assert_eq refused "$(status_of "http://127.0.0.1:$port/metrics")" "GET on 127.0.0.1"
stop_worker

# A lost lease: the worker is frozen while its command runs, another worker
# recovers the task; once thawed, the first one drops the outcome and counts
# it lost (in its own metrics, and in its registry row at its next renewal).
B_PID=
trap 'rc=$?; [ -z "$B_PID" ] || kill -KILL "$B_PID" 2>/dev/null || true
[ -z "$WORKER_PID" ] || kill -CONT "$WORKER_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT
mkfifo "$TMP/fifo"
: >"$TMP/worker.log"
held=$("$SITQ" enqueue "$DB" --queue lq -- cat "$TMP/fifo")
start_worker --queue lq --lease 1 --worker-id lost-w --metrics-address 127.0.0.1:0
port=$(port_of "$TMP/worker.log")
wait_status "$held" running
kill -STOP "$WORKER_PID"
"$SITQ" worker "$DB" --queue lq --lease 1 --quiet &
B_PID=$!
wait_status "$held" failed 20
kill -KILL "$B_PID"
wait "$B_PID" 2>/dev/null || true
B_PID=
kill -CONT "$WORKER_PID"
wait_log "$TMP/worker.log" "the outcome was dropped"
i=0
while :; do
    fetch "http://127.0.0.1:$port/metrics" | tail -n +2 >"$TMP/m.txt"
    [ "$(metric 'sitq_worker_attempts_total{worker="lost-w",outcome="lost"}')" = 1 ] && break
    [ $i -lt 200 ] || fail "the registry did not count the lost outcome within 10 s"
    sleep 0.05
    i=$((i + 1))
done
assert_eq 1 "$(metric 'sitq_worker_process_attempts_total{queue="lq",outcome="lost"}')" "lost"
assert_eq 0 "$(metric 'sitq_worker_process_attempts_total{queue="lq",outcome="failed"}')" "failed"
assert_eq 1 "$(metric 'sitq_tasks{queue="lq",status="failed"}')" "store: recovered task failed"
stop_worker

# Bad addresses: usage errors that say what is wrong.
for addr in nonsense 127.0.0.1:70000 localhost:9100 :9100 127.0.0.1: 1.2.3:9100 -1 +9100 \
    " 9100" "127.0.0.1:+80" "127.0.0.1: 80" "127.0.0.1:80 " 127.0.0.1:0x50 127.0.0.1:8e3 \
    127.0.0.1:1000000000000000000080; do
    expect_exit 2 "$SITQ" worker "$DB" --metrics-address "$addr"
    assert_contains "$(cat "$TMP/err")" "--metrics-address '$addr'" "error for $addr"
done
echo "ok"
