#!/usr/bin/env bash
# IPv6 listen addresses: `sitq dashboard --listen [::1]:0` and `sitq worker
# --metrics-address [::1]:0` serve on IPv6 loopback, print their URL with
# the address in brackets, answer a Host of [::1]:PORT or localhost and
# refuse any other Host (421), as on 127.0.0.1. Bad IPv6 addresses are
# usage errors quoting the text. Skipped (exit 77) when the machine has no
# IPv6 loopback.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    echo "SKIP: no IPv6 loopback (::1) on this machine"
    exit 77
fi


# Bad addresses: usage errors that say what is wrong.
for addr in "[::1]:" "[::1]:70000" "[::1" "[::g]:80" "[127.0.0.1]:80" "[::1]80" ":::80" "1::2::3"; do
    expect_exit 2 "$SITQ" dashboard "$DB" --listen "$addr"
    assert_contains "$(cat "$TMP/err")" "--listen '$addr'" "dashboard error for $addr"
done
for addr in "::1" "[::1]" "[::1]:" "[::1]:+80" "[fe80::1%lo]:80"; do
    expect_exit 2 "$SITQ" worker "$DB" --metrics-address "$addr"
    assert_contains "$(cat "$TMP/err")" "--metrics-address '$addr'" "metrics error for $addr"
done

"$SITQ" enqueue "$DB" -- true >/dev/null
log=$TMP/dash.log
DASH_LISTEN="[::1]:0" start_dash "$log"
port=$(sed -n 's|.* at http://\[::1\]:\([0-9]*\)/ .*|\1|p' "$log")
[ -n "$port" ] || fail "no [::1] URL in: $(cat "$log")"
grep -q "listening beyond loopback" "$log" && fail "[::1] taken for a public address"
# get PATH [CURL ARGS]: the HTTP status of GET PATH on [::1].
get() {
    local path=$1
    shift
    curl -s -g -o "$TMP/body" -w '%{http_code}' "$@" "http://[::1]:$port$path"
}
assert_eq 200 "$(get /api/queues)" "the dashboard on [::1]"
assert_contains "$(cat "$TMP/body")" '"default"' "the queues over IPv6"
assert_eq 200 "$(get / -H "Host: localhost:$port")" "Host localhost"
assert_eq 200 "$(get / -H "Host: [::1]")" "Host [::1] without a port"
assert_eq 421 "$(get / -H "Host: evil.example:$port")" "a foreign Host on [::1]"
assert_eq 421 "$(get / -H "Host: [::2]:$port")" "another IPv6 Host on [::1]"
assert_eq 421 "$(get / -H "Host: [::1]evil.example")" "a Host that only starts as [::1]"
# The IPv4 loopback is not listened on.
if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
    fail "a dashboard on [::1] also answers on 127.0.0.1"
fi
stop_dash

# The worker's metrics on [::1].
start_worker --metrics-address "[::1]:0"
mport=$(sed -n 's|.*metrics at http://\[::1\]:\([0-9]*\)/metrics.*|\1|p' "$TMP/worker.log" | tail -1)
[ -n "$mport" ] || fail "no [::1] metrics URL in: $(cat "$TMP/worker.log")"
code=$(curl -s -g -o "$TMP/metrics" -w '%{http_code}' "http://[::1]:$mport/metrics")
assert_eq 200 "$code" "metrics on [::1]"
assert_contains "$(cat "$TMP/metrics")" "sitq_" "the metrics text over IPv6"
code=$(curl -s -g -o /dev/null -w '%{http_code}' -H "Host: evil.example" "http://[::1]:$mport/metrics")
assert_eq 421 "$code" "a foreign Host on the metrics of [::1]"
stop_worker
echo PASS
