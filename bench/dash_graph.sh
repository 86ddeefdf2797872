#!/usr/bin/env bash
# dash_graph.sh - the time of the dashboard's pipeline graph of 200 tasks
# (/api/tasks/ID/graph), two builds side by side, interleaved.
#
#   bench/dash_graph.sh DB NEW_SITQ [OLD_SITQ] [ROUNDS]
#
# Fills DB (a new SQLite path or an empty PostgreSQL URI) with a pipeline of
# 10 layers of 20 tasks, each task depending on two of the layer before,
# starts a dashboard of each build on 127.0.0.1 and asks each in turn for
# the graph of a task of the middle layer (the walk reaches all 200 both
# ways) ROUNDS times (default 40). Prints the median time of each and their
# ratio (new / old, measured in the same run).
set -euo pipefail
db=$1 new=$2 old=${3:-} rounds=${4:-40}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sitq-graph.XXXXXX")
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

prev=() mid=
for layer in $(seq 0 9); do
    cur=()
    for i in $(seq 0 19); do
        args=()
        if [ "${#prev[@]}" -gt 0 ]; then
            args=(--after "${prev[$i]}" --after "${prev[$(((i + 1) % 20))]}")
        fi
        cur+=("$("$new" enqueue "$db" "${args[@]}" -- true)")
    done
    prev=("${cur[@]}")
    [ "$layer" != 5 ] || mid=${cur[7]}
done

# start BIN NAME: a dashboard of BIN; its URL into $tmp/NAME.url (started
# here, not in a command substitution, which would wait for its output).
start() {
    local log=$tmp/$2.log
    "$1" dashboard "$db" --listen 127.0.0.1:0 >/dev/null 2>"$log" &
    pids="$pids $!"
    local i=0
    until grep -q 'at http://' "$log" 2>/dev/null; do
        [ $i -lt 600 ] || { echo "the dashboard did not start: $(cat "$log")" >&2; exit 1; }
        sleep 0.05
        i=$((i + 1))
    done
    sed -n 's|.* at \(http://127.0.0.1:[0-9]*\)/ .*|\1|p' "$log" >"$tmp/$2.url"
}
start "$new" new
url_new=$(cat "$tmp/new.url")
url_old=
if [ -n "$old" ]; then
    start "$old" old
    url_old=$(cat "$tmp/old.url")
fi
nodes=$(curl -sf "$url_new/api/tasks/$mid/graph" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["nodes"]), len(d["edges"]), d["cut"])')
echo "graph of task $mid: nodes edges cut = $nodes"
if [ -n "$url_old" ]; then
    same=$(cmp <(curl -sf "$url_new/api/tasks/$mid/graph") <(curl -sf "$url_old/api/tasks/$mid/graph") && echo same || echo DIFFERENT)
    echo "old and new graphs: $same"
fi
for _ in $(seq 1 "$rounds"); do
    curl -sf -o /dev/null -w '%{time_total}\n' "$url_new/api/tasks/$mid/graph" >>"$tmp/new"
    [ -z "$url_old" ] ||
        curl -sf -o /dev/null -w '%{time_total}\n' "$url_old/api/tasks/$mid/graph" >>"$tmp/old"
done
/usr/bin/python3 - "$tmp/new" "$tmp/old" <<'PY'
import statistics, sys, os
new = [float(x) * 1000 for x in open(sys.argv[1])]
print("new: median %.1f ms (min %.1f, max %.1f, %d requests)" % (statistics.median(new), min(new), max(new), len(new)))
if os.path.exists(sys.argv[2]):
    old = [float(x) * 1000 for x in open(sys.argv[2])]
    print("old: median %.1f ms (min %.1f, max %.1f)" % (statistics.median(old), min(old), max(old)))
    print("new / old: %.2f" % (statistics.median(new) / statistics.median(old)))
PY
