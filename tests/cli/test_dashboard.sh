#!/usr/bin/env bash
# `sitq dashboard`: the pages show the store's real values (counts by
# status, keyset pages that are disjoint and ordered, filters, a failed
# task's error and traceback, the head of a large result, dependencies and
# dependents, the pipeline's graph (cut at 200 tasks), the /api/ JSON,
# workers and their running tasks, /metrics),
# every stored string is HTML-escaped (a queue, a function and a traceback
# holding <script>), actions change the database only with the right token
# posted from the same origin, and bad requests get 400/403/404/405.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TOKEN=dashboard-test-token-0123456789
printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 600 "$TMP/token"
: >"$TMP/all" # every HTML page fetched, checked for unescaped markup at the end

# get PATH [CURL ARGS...]: fetch URL/PATH into $TMP/body (headers in
# $TMP/hdr) and print the HTTP status.
get() {
    local p=$1
    shift
    curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' "$@" "$URL$p"
    # HTML is checked for markup; /metrics is plain text (nosniff).
    if grep -qi '^content-type: text/html' "$TMP/hdr"; then cat "$TMP/body" >>"$TMP/all"; fi
}

# page PATH: get PATH, which must answer 200.
page() {
    assert_eq 200 "$(get "$1")" "GET $1"
}

# post ACTION FIELDS [CURL ARGS...]: post the form to /actions/ACTION.
post() {
    local a=$1 f=$2
    shift 2
    get "/actions/$a" -d "$f" "$@"
}

# ids: the task ids of the list page in $TMP/body, in page order.
ids() {
    grep -o '<tr><td class="n"><a href="/tasks/[0-9]*"' "$TMP/body" | grep -o '[0-9]*' | tr '\n' ' '
}

# Known work: 5 succeeded in "default", one failed in a queue whose name
# and traceback hold markup, one task of a function whose name does.
for _ in 1 2 3 4 5; do "$SITQ" enqueue "$DB" -- true >/dev/null; done
XQ='<script>q'
bad=$("$SITQ" enqueue "$DB" --queue "$XQ" -- sh -c \
    'echo "<script>alert(\"x\")</script> it'"'"'s bad" >&2; exit 3')
"$SITQ" worker "$DB" --burst --quiet 2>/dev/null
"$SITQ" worker "$DB" --queue "$XQ" --burst --quiet 2>/dev/null
assert_eq failed "$(field "$bad" status)" "the failing task"
# A function name with markup needs the Python binding (the command line
# enqueues shell tasks only); a sanitized build's binding cannot be loaded
# into Debian's Python, so that part is left to the plain build.
pyid=
if grep -q '^SITQ_SANITIZE:STRING=.' "$(dirname "$SITQ")/CMakeCache.txt" 2>/dev/null; then
    echo "SKIP (part): a sanitized build's Python binding cannot be loaded"
else
    PYTHONPATH=$(dirname "$SITQ")/python "$PY" - "$DB" >"$TMP/pyid" <<'PYEOF'
import sys, sitq
db = sys.argv[1]
b = sitq.PostgresBackend(db) if db.startswith("postgres") else sitq.SQLiteBackend(db)
q = sitq.TaskQueue(backend=b, name="py")
def f():
    pass
f.__qualname__ = f.__name__ = '<script>alert("f\')</script>'
first = q.enqueue(sitq.Task(function=f))
print(first, q.enqueue(sitq.Task(function=f, depends_on=[first])))
PYEOF
    read -r pyid pydep <"$TMP/pyid"
fi

start_dash "$TMP/dash.log" --token-file "$TMP/token"
BUSY_PORT=${URL##*:} # this first dashboard runs to the end of the test

# The queues page: the counts of the store, escaped queue names.
page /
grep -qF 'href="/tasks?queue=default&amp;status=succeeded">5</a>' "$TMP/body" ||
    fail "5 succeeded in default: $(cat "$TMP/body")"
grep -qF 'href="/tasks?queue=%3Cscript%3Eq&amp;status=failed">1</a>' "$TMP/body" ||
    fail "1 failed in the <script> queue"
grep -qF '&lt;script&gt;q</a>' "$TMP/body" || fail "the queue name is not shown escaped"
[ -z "$pyid" ] || grep -qF 'href="/tasks?queue=py&amp;status=queued">1</a>' "$TMP/body" ||
    fail "1 queued in py"
for h in "Content-Security-Policy: default-src 'none'" "X-Content-Type-Options: nosniff" \
    "X-Frame-Options: DENY"; do
    grep -qiF "$h" "$TMP/hdr" || fail "header $h missing"
done
page /static/dash.css
grep -qi 'content-type: text/css' "$TMP/hdr" || fail "the style sheet's type"

# Keyset paging: pages of 2 of default's 5, disjoint, newest first.
page "/tasks?queue=default&limit=2"
p1=$(ids)
assert_eq "5 4 " "$p1" "page 1"
next=$(sed -n 's|.*id="next" href="\([^"]*\)".*|\1|p' "$TMP/body" | sed 's/&amp;/\&/g')
assert_eq "/tasks?limit=2&queue=default&before=4" "$next" "next page link"
page "$next"
assert_eq "3 2 " "$(ids)" "page 2"
page "/tasks?queue=default&limit=2&before=2"
assert_eq "1 " "$(ids)" "page 3"
grep -q 'id="next"' "$TMP/body" && fail "a next link after the last page"

# Filters: status, function, queue.
page "/tasks?status=failed"
assert_eq "$bad " "$(ids)" "failed tasks"
page "/tasks?function=shell&status=succeeded&limit=100"
assert_eq "5 4 3 2 1 " "$(ids)" "succeeded shell tasks"
if [ -n "$pyid" ]; then
    page "/tasks?queue=py"
    assert_eq "$pydep $pyid " "$(ids)" "tasks of py"
    grep -qF 'py:__main__.&lt;script&gt;alert(&quot;f&#39;)&lt;/script&gt;' "$TMP/body" ||
        fail "the function name is not shown escaped: $(cat "$TMP/body")"
fi
page "/tasks?function=nosuchfunction"
assert_eq "" "$(ids)" "an unknown function lists nothing"

# The failed task's page: status, attempts, error and traceback escaped.
page "/tasks/$bad"
grep -qF 'id="status">failed<' "$TMP/body" || fail "the task page's status"
grep -qF '<tr><th>attempts</th><td>1 of 1</td></tr>' "$TMP/body" || fail "attempts"
grep -qF '<pre id="error">exit status 3</pre>' "$TMP/body" || fail "the error"
grep -qF '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; it&#39;s bad' "$TMP/body" ||
    fail "the traceback is not shown escaped"
grep -qF 'action="/actions/retry"' "$TMP/body" || fail "no retry form on a failed task"

# A large result (stored apart from its row): the page reads and shows its
# first 4096 bytes, cut on a UTF-8 boundary (4095: a 2-byte character
# straddles the cut), and says its size; the API leaves it out.
big=$("$SITQ" enqueue "$DB" --queue big -- sh -c 'printf a; yes é | tr -d "\n" | head -c 2999999')
"$SITQ" worker "$DB" --queue big --burst --quiet 2>/dev/null
page "/tasks/$big"
grep -qF '<tr><th>result</th><td>3000000 bytes</td></tr>' "$TMP/body" || fail "the result's size"
grep -qF '... (3000000 bytes in all, 4095 shown)</pre>' "$TMP/body" ||
    fail "the result's head: $(grep -o 'bytes in all[^<]*' "$TMP/body")"
assert_eq "aéé" "$(sed -n 's|.*<pre id="result">\(...\).*|\1|p' "$TMP/body" | head -c 5)" \
    "the result's first bytes"
page "/api/tasks/$big"
assert_eq "None True 3000000" "$(jget "'%s %s %s' % (d['value'], d['value_omitted'], d['value_len'])" <"$TMP/body")" \
    "api: a result over 64 KiB is left out, its size given"

# Dependencies and dependents link both ways.
d1=$("$SITQ" enqueue "$DB" --queue deps -- true)
d2=$("$SITQ" enqueue "$DB" --queue deps --after "$d1" -- true)
d3=$("$SITQ" enqueue "$DB" --queue deps --after "$d1" --after "$d2" -- true)
page "/tasks/$d1"
grep -qF "<td id=\"dependents\"><a href=\"/tasks/$d2\">$d2</a> <a href=\"/tasks/$d3\">$d3</a> </td>" \
    "$TMP/body" || fail "the dependents of $d1: $(grep dependents "$TMP/body")"
grep -qF '<td id="deps">-' "$TMP/body" || fail "$d1 depends on nothing"
page "/tasks/$d3"
grep -qF "<td id=\"deps\"><a href=\"/tasks/$d1\">$d1</a> <a href=\"/tasks/$d2\">$d2</a> </td>" \
    "$TMP/body" || fail "the dependencies of $d3: $(grep deps "$TMP/body")"
grep -qF '<td id="dependents">-' "$TMP/body" || fail "nothing depends on $d3"

# The pipeline drawn as a graph: every task a link, its status as text, an
# arrow per dependency; its JSON twin gives the layers. A task alone has none.
grep -qF '<svg id="graph"' "$TMP/body" || fail "no graph on $d3's page"
for t in $d1 $d2 $d3; do
    grep -qF "<a href=\"/tasks/$t\"><g class=\"gn st-queued" "$TMP/body" ||
        grep -qF "<a href=\"/tasks/$t\"><g class=\"gn st-waiting" "$TMP/body" ||
        fail "task $t is not a node of the graph: $(grep -o '<a href="/tasks/[0-9]*"><g[^>]*>' "$TMP/body")"
done
assert_eq 2 "$(grep -c '<line class="ge"' "$TMP/body")" "two straight arrows (d1-d2, d2-d3)"
# d1-d3 skips d2's layer: it runs in the gap above the row (y 1), not through d2's box
assert_eq 1 "$(grep -c '<polyline class="ge" fill="none" points="[0-9]*,28 [0-9]*,1 [0-9]*,1 ' "$TMP/body")" \
    "the arrow that skips a layer goes around the box between"
grep -qF ">$d3 waiting</text>" "$TMP/body" || fail "a node's status as text"
grep -qF 'class="gn st-waiting cur"' "$TMP/body" || fail "the current task marked"
page "/api/tasks/$d2/graph"
assert_eq "[($d1, 0, 0), ($d2, 1, 0), ($d3, 2, 0)] False" \
    "$(jget "'%s %s' % (sorted((n['id'], n['layer'], n['order']) for n in d['nodes']), d['cut'])" <"$TMP/body")" \
    "api: graph nodes by layer"
assert_eq "[[$d1, $d2], [$d1, $d3], [$d2, $d3]]" \
    "$(jget "sorted([e['from'], e['to']] for e in d['edges'])" <"$TMP/body")" "api: graph edges"
assert_eq "waiting" "$(jget "[n['status'] for n in d['nodes'] if n['id'] == $d3][0]" <"$TMP/body")" \
    "api: a node's status"
page "/tasks/$bad"
grep -q 'id="graph"\|Pipeline' "$TMP/body" && fail "a graph on a task without dependencies"
page "/api/tasks/$bad/graph"
assert_eq "1 0" "$(jget "'%d %d' % (len(d['nodes']), len(d['edges']))" <"$TMP/body")" \
    "api: a lone task's graph"
assert_eq 404 "$(get "/api/tasks/99999/graph")" "api: graph of an unknown task"
assert_eq 404 "$(get "/api/tasks/$d1/graphs")" "api: an unknown page under a task"
# A fan-out of 205 from one task: the graph stops at 200 tasks and says so.
root=$("$SITQ" enqueue "$DB" --queue fan -- true)
for _ in $(seq 205); do "$SITQ" enqueue "$DB" --queue fan --after "$root" -- true >/dev/null; done
page "/tasks/$root"
grep -qF '<p id="graph-cut">graph cut at 200 tasks</p>' "$TMP/body" || fail "no cut note"
assert_eq 199 "$(grep -c '<line class="ge"' "$TMP/body")" "199 arrows of a cut fan-out"
page "/api/tasks/$root/graph"
assert_eq "200 199 True 200" \
    "$(jget "'%d %d %s %d' % (len(d['nodes']), len(d['edges']), d['cut'], d['nodes_max'])" <"$TMP/body")" \
    "api: a cut graph"
if [ -n "$pyid" ]; then
    # A function name with markup, escaped in the node's text and title.
    page "/tasks/$pydep"
    grep -qF "<title>py:__main__.&lt;script&gt;alert(&quot;f&#39;)&lt;/script&gt; (task $pydep, waiting)</title>" \
        "$TMP/body" || fail "the graph's title is not escaped: $(grep -o '<title>[^<]*' "$TMP/body")"
    # (cut to its part after the module path)
    grep -qF '<text x="238" y="24">...&lt;script&gt;alert(&quot;f&#39;)&lt;/sc...</text>' "$TMP/body" ||
        fail "a node's name is not escaped and cut: $(grep -o '<text x[^<]*' "$TMP/body")"
    page "/api/tasks/$pyid/graph"
    assert_eq 'py:__main__.<script>alert("f'"'"')</script>' \
        "$(jget "d['nodes'][1]['function']" <"$TMP/body")" "api: the function name as stored"
fi

# The JSON twins under /api/.
page /api/queues
assert_eq 5 "$(jget "[q for q in d if q['queue'] == 'default'][0]['succeeded']" <"$TMP/body")" \
    "api: succeeded in default"
assert_eq "$XQ" "$(jget "[q['queue'] for q in d if q['failed'] == 1][0]" <"$TMP/body")" \
    "api: the queue name as stored"
grep -qi '^content-type: application/json' "$TMP/hdr" || fail "api: content type"
page "/api/tasks?queue=default&limit=2"
assert_eq "[5, 4] 4" "$(jget "'%s %s' % ([t['id'] for t in d['tasks']], d['next_before'])" <"$TMP/body")" \
    "api: page 1"
page "/api/tasks?queue=default&limit=2&before=2"
assert_eq "[1] None" "$(jget "'%s %s' % ([t['id'] for t in d['tasks']], d['next_before'])" <"$TMP/body")" \
    "api: last page"
page "/api/tasks/$d1"
assert_eq "[$d2, $d3]" "$(jget "d['dependents']" <"$TMP/body")" "api: dependents"
page "/api/tasks/$bad"
assert_eq "failed exit status 3" "$(jget "d['status'] + ' ' + d['error']" <"$TMP/body")" "api: task"
# A shell task's command is its argv, as sitq show --json and sitq list --json give it.
assert_eq "sh -c" "$(jget "' '.join(d['command'][:2])" <"$TMP/body")" "api: the shell command"
assert_eq "$("$SITQ" show "$DB" "$bad" --json | jget "d['command']")" \
    "$(jget "d['command']" <"$TMP/body")" "api: the command as sitq show --json"
page "/api/tasks?queue=default&limit=5"
assert_eq "$("$SITQ" list "$DB" --queue default --json | jget "[t['command'] for t in d]")" \
    "$(jget "[t['command'] for t in d['tasks']]" <"$TMP/body")" "api: commands as sitq list --json"
assert_eq '["true"]' "$(jget "d['tasks'][0]['command']" <"$TMP/body")" "api: a listed command"
[ -z "$pyid" ] || assert_eq null "$(curl -s "$URL/api/tasks/$pyid" | jget "d['command']")" \
    "api: a task of another function has no command"
# An unknown queue is a 404 that says so, on the pages and the API; an
# existing queue with no task of a status lists nothing.
assert_eq 404 "$(get "/tasks?queue=nosuch")" "unknown queue"
assert_contains "$(cat "$TMP/body")" "unknown queue &#39;nosuch&#39;" "unknown queue message"
assert_eq 404 "$(get "/api/tasks?queue=nosuch&status=failed")" "api: unknown queue"
assert_contains "$(jget "d['error']" <"$TMP/body")" "unknown queue 'nosuch'" "api: 404 message"
page "/api/tasks?queue=default&status=failed"
assert_eq "[]" "$(jget "d['tasks']" <"$TMP/body")" "api: a known queue without such tasks"
assert_eq 400 "$(get "/api/tasks?status=bogus")" "api: bad status"
assert_contains "$(jget "d['error']" <"$TMP/body")" "unknown status 'bogus'" "api: 400 message"
page "/api/tasks?limit=7"
all7=$(jget "[t['id'] for t in d['tasks']]" <"$TMP/body")
page "/api/tasks?limit=7&status=any"
assert_eq "$all7" "$(jget "[t['id'] for t in d['tasks']]" <"$TMP/body")" "api: status=any lists every status"
for st in ANY all All; do # in any case, as the status names and sitq list --status
  page "/api/tasks?limit=7&status=$st"
  assert_eq "$all7" "$(jget "[t['id'] for t in d['tasks']]" <"$TMP/body")" "api: status=$st lists every status"
done
assert_eq 404 "$(get "/api/tasks/99999")" "api: unknown task"
assert_eq 404 "$(get "/api/nope")" "api: unknown path"
page /api/workers
assert_eq "[]" "$(jget "d" <"$TMP/body")" "api: no worker yet"

# Bad requests.
assert_eq 400 "$(get "/tasks?status=bogus")" "unknown status"
assert_eq 400 "$(get "/tasks?status=%3Cscript%3E")" "a status holding markup"
assert_eq 400 "$(get "/tasks?limit=101")" "limit over 100"
assert_eq 400 "$(get "/tasks?limit=0")" "limit 0"
assert_eq 400 "$(get "/tasks?before=-3")" "negative before"
assert_eq 400 "$(get "/tasks?colour=red")" "unknown parameter"
assert_eq 400 "$(get "/workers?status=failed")" "a filter on another page"
assert_eq 400 "$(get "/api/workers?limit=1")" "api: a filter on another page"
assert_contains "$(jget "d['error']" <"$TMP/body")" "unknown parameter 'limit' for /api/workers" \
    "the message names the misplaced filter"
assert_eq 400 "$(get "/api/queues?queue=")" "an empty filter on another page"
assert_contains "$(jget "d['error']" <"$TMP/body")" "unknown parameter 'queue'" "named, even empty"
# a parameter given twice is refused, as a form's field is, not read as the last
assert_eq 400 "$(get "/tasks?status=failed&status=queued")" "a status given twice"
assert_contains "$(cat "$TMP/body")" "the parameter &#39;status&#39; is given more than once" \
    "the message names the parameter"
assert_eq 400 "$(get "/api/tasks?limit=100&limit=1")" "api: a limit given twice"
assert_contains "$(jget "d['error']" <"$TMP/body")" "'limit' is given more than once" \
    "api: the message names the parameter"
assert_eq 400 "$(get "/api/tasks?queue=&queue=default")" "an empty parameter given twice"
assert_eq 404 "$(get "/nope")" "unknown path"
assert_eq 404 "$(get "/tasks/99999")" "unknown task"
assert_eq 404 "$(get "/tasks/x")" "task id not a number"
assert_eq 404 "$(get "/tasks/1%00garbage")" "a task id followed by %00"
assert_eq 404 "$(get "/api/tasks/1%00x")" "api: a task id followed by %00"
assert_eq 404 "$(get "/%00")" "/%00"
assert_eq 404 "$(get "/api/tasks/%ff%fe")" "api: an id of bytes that are not UTF-8"
"$PY" -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode("utf-8"))' <"$TMP/body" ||
    fail "the JSON error is not UTF-8: $(od -c "$TMP/body" | head -3)"
assert_eq 2 "$(jget "d['error'].count(chr(0xfffd))" <"$TMP/body")" "bytes replaced by U+FFFD"
assert_eq 404 "$(post frobnicate "token=$TOKEN")" "unknown action"
assert_eq 405 "$(get "/" -X POST)" "POST /"
grep -qi '^Allow: GET, HEAD' "$TMP/hdr" || fail "405 without Allow"
assert_eq 405 "$(get "/actions/retry")" "GET of an action"
assert_eq 421 "$(get "/" -H "Host: evil.example:80")" "a foreign Host (DNS rebinding)"
assert_eq 421 "$(get "/" -H "Host: [::1]evil.example")" "a Host that only starts as [::1]"
assert_eq 421 "$(get "/" -H "Host: 127.0.0.1.evil.example")" "a Host that only starts as 127.0.0.1"
assert_eq 200 "$(get "/" -H "Host: [::1]:80")" "Host: [::1]:80"
assert_eq 400 "$("$PY" - "${URL##*:}" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
print(s.recv(64).split(b" ")[1].decode())
PYEOF
)" "two Host headers"
# Framing that parsers may read differently makes the form's end ambiguous
# (two Content-Length headers, one beside Transfer-Encoding,
# "Content-Length :"): 400, and the
# connection is closed, so that what one reading left over is never served.
"$PY" - "${URL##*:}" >"$TMP/framing.txt" <<'PYEOF' || fail "framing: $(cat "$TMP/framing.txt")"
import socket, sys
port = int(sys.argv[1])
rest = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
form = b"POST /actions/retry HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " \
       b"application/x-www-form-urlencoded\r\n"
cases = {
    "two lengths": b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(rest) + rest,
    "length and chunked": b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"0\r\n\r\n" + rest,
    "chunked and length": b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
                          b"0\r\n\r\n" + rest,
    "a blank before the colon": b"Content-Length: 4\r\nContent-Length : %d\r\n\r\nid=2"
                                % (len(rest) + 4) + rest,
}
for name, tail in cases.items():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(form + tail)
    got = b""
    while True:
        part = s.recv(65536)
        if not part:
            break
        got += part
    print(name, [l.split(b" ")[1].decode() for l in got.split(b"\r\n") if l.startswith(b"HTTP/1.1 ")])
PYEOF
while read -r line; do
    case "$line" in
        *"['400']") ;;
        *) fail "ambiguous framing not refused with one 400: $line" ;;
    esac
done <"$TMP/framing.txt"
assert_eq 4 "$(wc -l <"$TMP/framing.txt")" "every framing case answered"
assert_eq "200 0" "$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$URL/")" \
    "HEAD /: the page's status, no body"
head -c 5000 /dev/zero | tr '\0' a >"$TMP/big"
assert_eq 413 "$(post retry "@$TMP/big")" "a form over 4096 bytes"

# Actions: refused without the token, with a wrong one, from another origin.
assert_eq 403 "$(post retry "id=$bad")" "retry without a token"
assert_contains "$(cat "$TMP/body")" "no token field" "403 message"
assert_eq 403 "$(post retry "id=$bad&token=wrong-token-wrong-token-0123")" "wrong token"
assert_contains "$(cat "$TMP/body")" "wrong token" "403 message"
# A multipart form is refused as such (it was searched as urlencoded: "no token field").
assert_eq 415 "$(get /actions/retry -F "id=$bad" -F "token=$TOKEN")" "a multipart form"
assert_contains "$(cat "$TMP/body")" "unsupported form encoding" "415 message"
assert_eq 403 "$(post retry "id=$bad&token=${TOKEN}x")" "token with a byte more"
assert_eq 403 "$(post retry "id=$bad&token=$TOKEN" -H "Origin: http://evil.example")" \
    "cross-site post"
assert_eq 403 "$(post retry "id=$bad&token=$TOKEN" -H "Referer: http://evil.example/x")" \
    "cross-site referer"
assert_eq 403 "$(get "/actions/retry?token=$TOKEN&id=$bad" -X POST)" "token in the URL"
assert_eq failed "$(field "$bad" status)" "refused actions changed nothing"
assert_eq 400 "$(post retry "token=$TOKEN&id=abc")" "retry of a bad id"
# A field given twice is refused: which task, or which token, would depend on the reader.
assert_eq 400 "$(post retry "token=$TOKEN&id=$bad&id=1")" "retry with two ids"
assert_contains "$(cat "$TMP/body")" "the field id more than once" "400 message"
assert_eq 403 "$(post retry "token=$TOKEN&id=$bad&token=wrong")" "retry with two tokens"
assert_contains "$(cat "$TMP/body")" "token more than once" "403 message"
assert_eq 400 "$(post pause "token=$TOKEN&queue=a&queue=b")" "pause with two queues"
assert_eq 400 "$(post pause "token=$TOKEN&queue=a&queue_hex=62")" "pause with queue and queue_hex"
assert_contains "$(cat "$TMP/body")" "queue more than once" "400 message"
assert_eq failed "$(field "$bad" status)" "ambiguous actions changed nothing"
assert_eq 404 "$(post retry "token=$TOKEN&id=99999")" "retry of an unknown task"
assert_eq 409 "$(post retry "token=$TOKEN&id=1")" "retry of a succeeded task"

# Retry and cancel with the token change the stored status.
assert_eq 303 "$(post retry "token=$TOKEN&id=$bad" -H "Origin: $URL")" "retry"
grep -qi "^Location: /tasks/$bad" "$TMP/hdr" || fail "retry's redirect"
assert_eq queued "$(field "$bad" status)" "status after retry"
assert_eq 303 "$(post cancel "token=$TOKEN&id=$bad" -H "Referer: $URL/tasks/$bad")" "cancel"
assert_eq cancelled "$(field "$bad" status)" "status after cancel"
assert_eq 409 "$(post cancel "token=$TOKEN&id=$bad")" "cancel of a cancelled task"
page "/tasks?queue=%3Cscript%3Eq&status=cancelled"
assert_eq "$bad " "$(ids)" "the list shows the cancel"

# Pause and resume a queue (posted with neither Origin nor Referer, as curl
# does: the right token is enough). The pages share counts read less than
# a second ago, but an action forgets them: the page after it shows it.
page /
assert_eq 303 "$(post pause "token=$TOKEN&queue=default")" "pause"
assert_eq true "$("$SITQ" queues "$DB" --queue default --json | jget "d[0]['paused']")" "paused"
page /
grep -qF 'default</a> <em>(paused)</em>' "$TMP/body" || fail "the page shows the pause"
assert_eq 303 "$(post resume "token=$TOKEN&queue=default")" "resume"
assert_eq false "$("$SITQ" queues "$DB" --queue default --json | jget "d[0]['paused']")" "resumed"
page /api/queues
assert_eq false "$(jget "[q['paused'] for q in d if q['queue'] == 'default'][0]" <"$TMP/body")" \
    "the API after resume"
assert_eq 404 "$(post pause "token=$TOKEN&queue=nosuchqueue")" "pause of an unknown queue"
# A queue name with a control character or a newline: the page's form
# carries it in hex (a browser would change such bytes in a text field), and
# posting that form pauses that very queue.
for qn in $'ctl\x01q' $'nl\nq'; do
    "$SITQ" enqueue "$DB" --queue "$qn" -- true >/dev/null
    hex=$(printf '%s' "$qn" | od -An -tx1 | tr -d ' \n')
    page /
    grep -qF "name=\"queue_hex\" value=\"$hex\"" "$TMP/body" || fail "no hex form for queue $hex"
    assert_eq 303 "$(post pause "token=$TOKEN&queue_hex=$hex")" "pause of queue $hex"
    assert_eq true "$("$SITQ" queues "$DB" --queue "$qn" --json | jget "d[0]['paused']")" \
        "queue $hex paused"
    assert_eq 303 "$(post resume "token=$TOKEN&queue_hex=$hex")" "resume of queue $hex"
done
assert_eq 400 "$(post pause "token=$TOKEN&queue_hex=6")" "odd hex"
assert_eq 400 "$(post pause "token=$TOKEN&queue_hex=zz")" "not hex"
assert_eq 404 "$(post pause "token=$TOKEN&queue_hex=6e6f")" "hex of an unknown queue"

# Workers: a worker running a task is listed with a link to it.
running=$("$SITQ" enqueue "$DB" --queue slow -- sleep 60)
start_worker --queue slow --worker-id dash-worker-1
wait_status "$running" running
i=0
until page /workers && grep -qF "href=\"/tasks/$running\"" "$TMP/body"; do
    [ $i -lt 200 ] || fail "the workers page does not show task $running: $(cat "$TMP/body")"
    sleep 0.05
    i=$((i + 1))
done
grep -qF '<td>dash-worker-1</td><td>running</td>' "$TMP/body" || fail "the worker's row"
page /api/workers
assert_eq "dash-worker-1 running [$running]" \
    "$(jget "'%s %s %s' % (d[0]['id'], d[0]['state'], d[0]['running'])" <"$TMP/body")" "api: worker"
assert_eq 303 "$(post cancel "token=$TOKEN&id=$running")" "cancel of a running task"
wait_status "$running" cancelled
stop_worker
page "/tasks/$running"
grep -qF '<tr><th>cancel</th><td>requested while it ran</td></tr>' "$TMP/body" ||
    fail "the cancel of a running task is not shown"

# /metrics: the Prometheus text of the store.
page /metrics
grep -qF 'sitq_tasks{queue="default",status="succeeded"} 5' "$TMP/body" || fail "metrics"
grep -qi 'content-type: text/plain; version=0.0.4' "$TMP/hdr" || fail "metrics type"

# A dashboard without a token is read-only: no forms, actions refused. This
# one listens on a bare port (0: a free one), which means 127.0.0.1.
start_dash "$TMP/ro.log" --listen 0
assert_contains "$(cat "$TMP/ro.log")" "(read-only)" "read-only log line"
page "/tasks/$bad"
grep -q '<form class="act"' "$TMP/body" && fail "a read-only dashboard shows action forms"
assert_eq 403 "$(post retry "token=$TOKEN&id=$bad")" "read-only retry"
assert_contains "$(cat "$TMP/body")" "read-only" "read-only message"
assert_eq cancelled "$(field "$bad" status)" "read-only changed nothing"

# The token from the environment.
SITQ_DASHBOARD_TOKEN=$TOKEN start_dash "$TMP/env.log"
assert_eq 303 "$(post retry "token=$TOKEN&id=$bad")" "retry with the environment's token"
assert_eq queued "$(field "$bad" status)" "status after the environment's retry"

# SIGTERM stops a dashboard cleanly (exit 0).
last=${DASH_PIDS##* }
kill -TERM "$last"
rc=0
wait "$last" || rc=$?
assert_eq 0 "$rc" "exit code after SIGTERM"

# No page showed markup unescaped.
[ "$(wc -l <"$TMP/all")" -gt 100 ] || fail "too few pages were checked for markup"
if grep -qi "<script" "$TMP/all"; then
    fail "a page holds an unescaped <script>: $(grep -i "<script" "$TMP/all" | head -3)"
fi

# Bad command lines: usage errors that say what is wrong.
for addr in nonsense 127.0.0.1:70000 localhost:8080 :8080 127.0.0.1: 1.2.3:80 70000 +80 8x \
    " 80" 123456 ""; do
    expect_exit 2 "$SITQ" dashboard "$DB" --listen "$addr"
    assert_contains "$(cat "$TMP/err")" "--listen '$addr'" "error for $addr"
done
printf 'short\n' >"$TMP/short"
expect_exit 2 "$SITQ" dashboard "$DB" --token-file "$TMP/short"
assert_contains "$(cat "$TMP/err")" "16..1024 bytes" "short token"
head -c 2000 /dev/zero | tr '\0' 'a' >"$TMP/long"
expect_exit 2 "$SITQ" dashboard "$DB" --token-file "$TMP/long"
assert_contains "$(cat "$TMP/err")" "16..1024 bytes long (it is longer)" "a token too long"
expect_exit 2 "$SITQ" dashboard "$DB" --token-file "$TMP/missing"
assert_contains "$(cat "$TMP/err")" "cannot be read" "missing token file"
expect_exit 2 "$SITQ" dashboard
expect_exit 2 "$SITQ" dashboard "$DB" "$DB"
expect_exit 2 "$SITQ" dashboard "$DB" --colour
chmod 644 "$TMP/token"
expect_exit 1 "$SITQ" dashboard "$DB" --token-file "$TMP/token" --listen "127.0.0.1:$BUSY_PORT"
assert_contains "$(cat "$TMP/err")" "can be read by other users" "token file mode warning"
if [ "$ON_PG" = 0 ]; then
    expect_exit 3 "$SITQ" dashboard "$TMP/missing.db"
else
    pg_skip_part "a missing SQLite file"
fi
expect_exit 1 "$SITQ" dashboard "$DB" --listen "127.0.0.1:$BUSY_PORT"
assert_contains "$(cat "$TMP/err")" "cannot listen on 127.0.0.1:$BUSY_PORT" "busy port"
# A bare PORT listens on loopback: the busy port of 127.0.0.1 is refused.
expect_exit 1 "$SITQ" dashboard "$DB" --listen "$BUSY_PORT"
assert_contains "$(cat "$TMP/err")" "cannot listen on 127.0.0.1:$BUSY_PORT" "busy bare port"
echo "ok"
