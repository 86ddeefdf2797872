#!/usr/bin/env bash
# `sitq dashboard` in a real browser: headless Chromium (Debian's chromium)
# loads every page and the DOM it builds holds the store's values, with the
# markup of a queue name and a traceback shown as text, and a task's
# pipeline as an SVG graph of links; screenshots of the queues page (a
# PNG of the window's size showing a throughput chart) and of a task's
# page (its pipeline's nodes drawn in their colours) are checked; through chromedriver
# (WebDriver over loopback) it types the token and clicks retry, then
# cancel, and the task's stored status changes. Chromium resolves no host
# but 127.0.0.1 and uses no proxy. Skipped (77) when chromium is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null || { echo "SKIP: chromium is not installed"; exit 77; }
DRIVER_PID=
trap 'rc=$?; [ -z "$DRIVER_PID" ] || kill "$DRIVER_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT
TOKEN=browser-test-token-0123456789
printf '%s\n' "$TOKEN" >"$TMP/token"
CHROME=(chromium --headless --no-sandbox --disable-gpu --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --disable-extensions --disable-default-apps --no-proxy-server
    "--user-data-dir=$TMP/chrome" "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")

# dom PATH: the DOM Chromium builds from the page, in $TMP/dom.
dom() {
    timeout 120 "${CHROME[@]}" --dump-dom "$URL$1" >"$TMP/dom" 2>>"$TMP/chrome.log" ||
        fail "chromium could not load $1"
    [ -s "$TMP/dom" ] || fail "empty DOM for $1"
}

# dom_has TEXT WHAT: the DOM holds TEXT.
dom_has() {
    grep -qF -- "$1" "$TMP/dom" || fail "$2: '$1' not in the DOM: $(head -c 3000 "$TMP/dom")"
}

for _ in 1 2 3; do "$SITQ" enqueue "$DB" -- true >/dev/null; done
bad=$("$SITQ" enqueue "$DB" --queue '<script>q' -- sh -c 'echo "<script>boom</script>" >&2; exit 2')
"$SITQ" worker "$DB" --burst --quiet 2>/dev/null
"$SITQ" worker "$DB" --queue '<script>q' --burst --quiet 2>/dev/null
assert_eq failed "$(field "$bad" status)" "the failing task"
p1=$("$SITQ" enqueue "$DB" --queue pipe -- true)
p2=$("$SITQ" enqueue "$DB" --queue pipe --after "$p1" -- true)

start_dash "$TMP/dash.log" --token-file "$TMP/token" --sample-interval 0.2

# Work done while the dashboard samples, for the throughput chart: 20 tasks
# of the queue "chart", then wait until its sampled history holds them.
for _ in $(seq 1 20); do "$SITQ" enqueue "$DB" --queue chart -- true >/dev/null; done
"$SITQ" worker "$DB" --queue chart --burst --quiet 2>/dev/null
for i in $(seq 1 300); do
    done_n=$(curl -sf "$URL/api/queues" |
        jget "[q['throughput']['succeeded'] for q in d if q['queue'] == 'chart'][0]")
    [ "$done_n" = 20 ] && break
    [ "$i" -lt 300 ] || fail "the chart's history did not reach 20 succeeded: $done_n"
    sleep 0.1
done

# A screenshot of the queues page: a PNG of the window's size. Taken first,
# while the chart's history (360 samples, 72 s at 0.2 s) still holds the
# work above: under load the page dumps below took longer than that.
timeout 120 "${CHROME[@]}" --window-size=1000,700 --screenshot="$TMP/queues.png" "$URL/" \
    2>>"$TMP/chrome.log" >/dev/null || fail "no screenshot"
size=$("$PY" - "$TMP/queues.png" <<'PYEOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
print("%dx%d %d" % (struct.unpack(">II", data[16:24]) + (len(data) > 2000,)))
PYEOF
)
assert_eq "1000x700 1" "$size" "the screenshot's size"

# colored PNG HEX...: for each colour, how many pixels of the screenshot are
# near it (Pillow, which Debian's python3-matplotlib brings).
colored() {
    "$PY" - "$@" <<'PYEOF'
import sys
from PIL import Image
img = Image.open(sys.argv[1]).convert("RGB")
px = list(img.getdata())
for hexc in sys.argv[2:]:
    want = tuple(int(hexc[i:i + 2], 16) for i in (0, 2, 4))
    print(sum(1 for p in px if sum(abs(a - b) for a, b in zip(p, want)) < 60), end=" ")
PYEOF
}
# The queues page shows the chart's line, in the chart's green (#1b7f3b).
read -r green _ <<<"$(colored "$TMP/queues.png" 1b7f3b)"
[ "$green" -ge 30 ] || fail "no throughput line in the screenshot of the queues page ($green px)"
# Every page, as the browser builds it.
dom /
dom_has '<a href="/tasks?queue=default&amp;status=succeeded">3</a>' "queues page"
dom_has '&lt;script&gt;q</a>' "escaped queue name"
dom "/tasks?queue=default&limit=2"
dom_has '<a href="/tasks/3">3</a>' "task list"
dom_has 'id="next"' "next page link"
dom "/tasks/$bad"
dom_has 'id="status">failed<' "task page status"
dom_has '&lt;script&gt;boom&lt;/script&gt;' "escaped traceback"
dom "/tasks/$p2"
dom_has '<svg id="graph"' "the pipeline's graph (inline SVG)"
dom_has "<a href=\"/tasks/$p1\"><g class=\"gn st-queued\">" "a node of the graph, a link"
dom_has ">$p2 waiting</text>" "a node's status as text"
dom /workers
dom_has '<table id="workers">' "workers page"
# Nothing the browser parsed became a script element.
for p in / "/tasks" "/tasks/$bad" "/tasks/$p2" /workers; do
    dom "$p"
    if grep -qi '<script' "$TMP/dom"; then fail "a <script> element in the DOM of $p"; fi
done

# A task's page shows its pipeline: the waiting node's border (#a07800, a
# colour nothing else on the page has), drawn.
timeout 120 "${CHROME[@]}" --window-size=1000,1600 --screenshot="$TMP/graph.png" "$URL/tasks/$p2" \
    2>>"$TMP/chrome.log" >/dev/null || fail "no screenshot of the task page"
read -r amber _ <<<"$(colored "$TMP/graph.png" a07800)"
[ "$amber" -ge 100 ] || fail "the waiting node is not drawn in the screenshot ($amber px)"

# Clicks through chromedriver: retry, then cancel of the retried task.
if command -v chromedriver >/dev/null; then
    dport=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    chromedriver --port="$dport" --allowed-ips=127.0.0.1 >"$TMP/driver.log" 2>&1 &
    DRIVER_PID=$!
    wait_log "$TMP/driver.log" "started successfully"
    wd() {
        "$PY" "$(dirname "$0")/dashboard_webdriver.py" "http://127.0.0.1:$dport" "$@"
    }
    assert_eq queued "$(wd "$URL/tasks/$bad" retry "$TOKEN" queued "$TMP/retry.png")" \
        "the page after clicking retry"
    assert_eq queued "$(field "$bad" status)" "stored status after the click on retry"
    assert_eq cancelled "$(wd "$URL/tasks/$bad" cancel "$TOKEN" cancelled "$TMP/cancel.png")" \
        "the page after clicking cancel"
    assert_eq cancelled "$(field "$bad" status)" "stored status after the click on cancel"
    [ "$(head -c 4 "$TMP/cancel.png" | od -An -c | tr -d ' ')" = '211PNG' ] ||
        fail "the WebDriver screenshot is not a PNG"
else
    echo "SKIP (part): chromedriver is not installed (Debian package chromium-driver)"
fi
if [ -n "${SITQ_TEST_SCREENSHOTS:-}" ]; then cp "$TMP"/*.png "$SITQ_TEST_SCREENSHOTS"/; fi
echo "ok"
