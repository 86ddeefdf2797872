#!/usr/bin/env bash
# `sitq dashboard` under load: a page is answered while an action waits for
# the write lock another process holds (each connection has a thread of its
# own), such an action answers 503 once --busy-timeout has passed, and 40
# idle connections do not lock a request out; past --max-rate requests
# wait their turn, and those whose turn is too far away get 503.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TOKEN=dashboard-test-token-0123456789
printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 600 "$TMP/token"

"$SITQ" enqueue "$DB" -- true >/dev/null
start_dash "$TMP/dash.log" --token-file "$TMP/token" --busy-timeout 60

# 40 idle connections and 20 that have sent part of a request leave room
# for a request.
"$PY" - "${URL##*:}" <<'PYEOF'
import socket, sys, urllib.request
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
for s in slow:
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
r = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/queues", timeout=60)
assert r.status == 200, r.status
assert b'"queue":"default"' in r.read().replace(b" ", b"")
PYEOF

# Pacing: at --max-rate 1, 12 requests at once are answered one a second
# (the 1st at once, each next one waiting its turn) until a turn would be
# more than 5 s away: those are refused with 503 and Retry-After.
MAIN_URL=$URL
start_dash "$TMP/paced.log" --max-rate 1
"$PY" - "$URL" <<'PYEOF'
import json, sys, threading, urllib.error, urllib.request
url = sys.argv[1] + "/api/queues"
out = []
def get():
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            out.append((r.status, None, r.read()))
    except urllib.error.HTTPError as e:
        out.append((e.code, e.headers.get("Retry-After"), e.read()))
ts = [threading.Thread(target=get) for _ in range(12)]
for t in ts: t.start()
for t in ts: t.join()
ok = [o for o in out if o[0] == 200]
refused = [o for o in out if o[0] == 503]
assert len(ok) + len(refused) == 12, out
assert 2 <= len(ok) <= 7, f"{len(ok)} answered at 1 a second within 5 s"
assert refused, "no request was refused"
for code, retry, body in refused:
    assert retry == "1", retry
    assert "too many requests" in json.loads(body)["error"], body
PYEOF
stop_dash
URL=$MAIN_URL
for bad in -1 x 1000001 2.5; do
    expect_exit 2 "$SITQ" dashboard "$DB" --max-rate "$bad"
    assert_contains "$(cat "$TMP/err")" "--max-rate" "--max-rate $bad"
done

if [ "$ON_PG" = 1 ]; then
    pg_skip_part "the write lock of another process on a SQLite file"
    echo "ok"
    exit 0
fi

# Another process takes the write lock and keeps it until $TMP/release
# exists; "locked" in $TMP/lock.out once it holds it.
"$PY" -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
# Until released, or the test ended (its directory is gone).
while not os.path.exists(sys.argv[2]) and os.path.isdir(os.path.dirname(sys.argv[2])):
    time.sleep(0.05)
c.execute("ROLLBACK")
' "$DB" "$TMP/release" >"$TMP/lock.out" &
LOCK_PID=$!
i=0
until grep -q locked "$TMP/lock.out"; do
    [ $i -lt 400 ] || fail "the lock holder did not start"
    sleep 0.05
    i=$((i + 1))
done

# An action waits for the lock; meanwhile a page is answered and the action
# is still waiting (the lock is still held: it is released only after).
curl -s -o "$TMP/act.body" -w '%{http_code}' -d "token=$TOKEN&queue=default" \
    "$URL/actions/pause" >"$TMP/act.code" &
ACT_PID=$!
assert_eq 200 "$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 50 "$URL/api/queues")" \
    "a page while an action waits for the lock"
kill -0 "$ACT_PID" 2>/dev/null || fail "the action ended while the lock was held: $(cat "$TMP/act.code")"
assert_eq "" "$(cat "$TMP/act.code")" "no answer to the action yet"

# A dashboard with a short --busy-timeout answers 503, saying why.
start_dash "$TMP/short.log" --token-file "$TMP/token" --busy-timeout 0.2
assert_eq 503 "$(curl -s -o "$TMP/body" -w '%{http_code}' -d "token=$TOKEN&queue=default" \
    "$URL/actions/pause")" "an action past --busy-timeout"
assert_contains "$(cat "$TMP/body")" "pause:" "503 message"
assert_eq false "$("$SITQ" queues "$DB" --queue default --json | jget "d[0]['paused']")" \
    "nothing paused while the lock is held"

# Once the lock is released, the waiting action is done.
: >"$TMP/release"
wait "$LOCK_PID"
wait "$ACT_PID"
assert_eq 303 "$(cat "$TMP/act.code")" "the action after the lock was released"
assert_eq true "$("$SITQ" queues "$DB" --queue default --json | jget "d[0]['paused']")" "paused"

# Bad values of --busy-timeout are usage errors.
expect_exit 2 "$SITQ" dashboard "$DB" --busy-timeout -1
assert_contains "$(cat "$TMP/err")" "--busy-timeout" "negative --busy-timeout"
expect_exit 2 "$SITQ" dashboard "$DB" --busy-timeout soon
echo "ok"
