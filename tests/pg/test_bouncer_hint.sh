#!/usr/bin/env bash
# test_bouncer_hint.sh SITQ - behind PgBouncer in transaction mode (run
# inside with_pgbouncer.sh), a URI without sitq_poll_only=1: sitq's prepared
# statements outlive the transaction on a server connection that the next
# client gets. The commands that then fail say to open the backend
# poll_only; with it, the same commands work.
set -euo pipefail
export SITQ_TEST_BACKEND=postgres
. "$(dirname "$0")/../cli/lib.sh"
BARE="${SITQ_TEST_PG_URI%%\?*}?sitq_schema=$pg_schema" # without sitq_poll_only=1
failed=0
for i in 1 2 3 4; do
    rc=0
    "$SITQ" enqueue "$BARE" -- echo "$i" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" != 0 ]; then
        assert_eq 3 "$rc" "exit code of a failed enqueue"
        assert_contains "$(cat "$TMP/err")" "open the backend poll_only (sitq_poll_only=1 in the URI)" \
            "the error's hint"
        failed=$((failed + 1))
    fi
done
[ "$failed" -ge 1 ] || fail "no enqueue met another client's prepared statements"
expect_exit 0 "$SITQ" enqueue "$DB" -- echo ok # DB carries sitq_poll_only=1
expect_exit 0 "$SITQ" stats "$DB"
echo "test_bouncer_hint: $failed of 4 enqueues without poll_only failed with the hint: ok"
