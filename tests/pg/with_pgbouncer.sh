#!/usr/bin/env bash
# with_pgbouncer.sh - run a command through PgBouncer in transaction mode.
#
#   tests/pg/with_pg.sh tests/pg/with_pgbouncer.sh CMD [ARGS...]
#
# Run inside with_pg.sh (SITQ_TEST_PG_URI names the throwaway cluster):
# starts PgBouncer on 127.0.0.1 on a free port, pool_mode = transaction
# (each transaction may get another server connection: no session state,
# prepared statements or LISTEN survive from one to the next), trust
# authentication, in a temporary directory, then runs CMD with
# SITQ_TEST_PG_URI naming PgBouncer and carrying sitq_poll_only=1 (the mode
# sitq offers for it), and stops PgBouncer when CMD ends, fails or is
# interrupted. Exit status: CMD's; 77 (skipped) when pgbouncer is missing.
set -euo pipefail

BOUNCER=$(command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null || true)
if [ -z "$BOUNCER" ]; then
  echo "with_pgbouncer: pgbouncer is not installed: skipped" >&2
  exit 77
fi
[ -n "${SITQ_TEST_PG_PORT:-}" ] || { echo "with_pgbouncer: run it inside with_pg.sh" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: with_pgbouncer.sh CMD [ARGS...]" >&2; exit 2; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/sitq-pgbouncer.XXXXXX")
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then # PgBouncer refuses to run as root
  chown postgres: "$DIR"
  RUNAS=(runuser -u postgres --)
fi
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$DIR/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$SITQ_TEST_PG_PORT dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
logfile = $DIR/log
pidfile = $DIR/pid
admin_users = postgres
EOF
echo '"postgres" ""' >"$DIR/users.txt"
[ "$(id -u)" -ne 0 ] || chown postgres: "$DIR"/*

BOUNCER_PID=
stop() {
  [ -z "$BOUNCER_PID" ] || kill "$BOUNCER_PID" 2>/dev/null || true
  [ -z "$BOUNCER_PID" ] || wait "$BOUNCER_PID" 2>/dev/null || true
  rm -rf "$DIR"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP
"${RUNAS[@]}" "$BOUNCER" "$DIR/pgbouncer.ini" >/dev/null 2>&1 &
BOUNCER_PID=$!
for _ in $(seq 1 100); do
  if /usr/bin/python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$PORT" 2>/dev/null; then
    break
  fi
  kill -0 "$BOUNCER_PID" 2>/dev/null || { echo "with_pgbouncer: pgbouncer exited:" >&2; cat "$DIR/log" >&2; exit 1; }
  sleep 0.05
done
export SITQ_TEST_PG_URI="postgresql://postgres@127.0.0.1:$PORT/postgres?sitq_poll_only=1"
echo "with_pgbouncer: transaction mode at $SITQ_TEST_PG_URI" >&2
rc=0
"$@" || rc=$?
exit $rc
