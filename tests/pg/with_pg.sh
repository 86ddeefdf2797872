#!/usr/bin/env bash
# with_pg.sh - run a command against a throwaway PostgreSQL cluster.
#
#   tests/pg/with_pg.sh CMD [ARGS...]
#
# initdb into a fresh temporary directory (as the `postgres` user when run
# as root: initdb refuses root), start the server with fsync on, listening
# on 127.0.0.1 only on a free port (Unix socket inside the directory, trust
# authentication for loopback and the socket only), export
# SITQ_TEST_PG_URI=postgresql://postgres@127.0.0.1:PORT/postgres and run the
# command. The cluster is stopped and its directory removed when the
# command ends, fails, or the script is interrupted (traps on EXIT, INT,
# TERM, HUP). The command's exit status is the script's; 77 (skipped) when
# no PostgreSQL server is installed.
#
# Each test makes its own schema (tests/unit/helpers.c), so one cluster
# serves a whole suite. PGBIN overrides the server's bin directory.
#
# Tests that stop or restart the server (tests/chaos: pgrestart) find it in
# SITQ_TEST_PGDATA (the data directory; its server log is
# $SITQ_TEST_PGDATA/log), SITQ_TEST_PGBIN (the server's bin directory),
# SITQ_TEST_PG_RUNAS (the user that must run pg_ctl, empty: the caller) and
# SITQ_TEST_PG_PORT. `pg_ctl -D "$SITQ_TEST_PGDATA" -l "$SITQ_TEST_PGDATA/log"
# -m immediate -w restart` restarts it with the same options and port.
set -euo pipefail

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "with_pg: no PostgreSQL server found (install the postgresql package): skipped" >&2
  exit 77
fi
[ $# -ge 1 ] || { echo "usage: with_pg.sh CMD [ARGS...]" >&2; exit 2; }

PGDATA=$(mktemp -d "${TMPDIR:-/tmp}/sitq-pg.XXXXXX")
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$PGDATA"
  RUNAS=(runuser -u postgres --)
fi

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDATA"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres --no-sync >/dev/null
# Loopback only: no remote rule at all. The role sitq_password_test must
# give its password (tests of a wrong password); every other role is trusted.
cat >"$PGDATA/pg_hba.conf" <<'EOF'
local all all trust
host all sitq_password_test 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
EOF

# A free port: ask the kernel, then start; retry on the rare race.
for attempt in 1 2 3 4 5; do
  PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDATA -c fsync=on -c max_connections=200" \
      >/dev/null; then
    break
  fi
  [ "$attempt" -lt 5 ] || { cat "$PGDATA/log" >&2; exit 2; }
done

export SITQ_TEST_PG_URI="postgresql://postgres@127.0.0.1:$PORT/postgres"
export SITQ_TEST_PG_DATA="$PGDATA"
export SITQ_TEST_PGDATA="$PGDATA"
export SITQ_TEST_PGBIN="$PGBIN"
export SITQ_TEST_PG_RUNAS="${RUNAS[*]:+postgres}"
export SITQ_TEST_PG_PORT="$PORT"
echo "with_pg: cluster at $SITQ_TEST_PG_URI" >&2
set +e
"$@"
rc=$?
set -e
exit "$rc"
