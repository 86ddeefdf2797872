#!/usr/bin/env bash
# What opening a database may do: another application's file is refused and
# left unchanged unless --allow-foreign; new files are 0600 (--mode); stats,
# list and show work read-only (a read-only mount, another user's 0444 file
# in a 0555 directory); a dependency names only tasks of its own queue.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A dependency names only tasks of its own queue: another queue's task is
# refused exactly like an id that does not exist (task 1 is in "default").
check_cross_queue_dependency() {
    expect_exit 1 "$SITQ" enqueue "$DB" --queue other --after 1 -- true
    cross=$(sed 's/(SITQ_[A-Z]*)//' "$TMP/err")
    expect_exit 1 "$SITQ" enqueue "$DB" --queue other --after 99 -- true
    assert_eq "$(sed 's/(SITQ_[A-Z]*)//; s/ 99 / 1 /' "$TMP/err")" "$cross" "same error as an unknown id"
    assert_contains "$cross" "dependency 1 does not exist in this queue" "cross-queue message"
}

# On PostgreSQL only the dependency check applies: the rest is about files.
if [ "$ON_PG" = 1 ]; then
    pg_skip_part "another application's file, file modes, read-only files and mounts are SQLite's"
    "$SITQ" enqueue "$DB" -- echo one >/dev/null
    check_cross_queue_dependency
    echo "ok"
    exit 0
fi

# A relative path that begins with "file:" is that file, not an SQLite URI
# (Debian's libsqlite3 reads URI names: the task went to a memory database or
# to another file than the one checked), and ':memory:' is refused: every
# command is a process of its own.
(
    cd "$TMP"
    id=$("$SITQ" enqueue 'file:jobs.db?mode=memory' -- echo hi)
    assert_eq "$("$SITQ" show 'file:jobs.db?mode=memory' "$id" --json | jget "d['status']")" \
        queued "a file: path keeps its task"
    test -s "$TMP/file:jobs.db?mode=memory" || fail "the file named file:jobs.db?mode=memory holds the task"
    "$SITQ" enqueue plain.db -- echo one >/dev/null
    "$SITQ" enqueue 'file:plain.db' -- echo two >/dev/null
    assert_eq "$("$SITQ" list plain.db --json | jget 'len(d)')" 1 "file:plain.db is not plain.db"
)
for memory in ':memory:' 'sqlite::memory:'; do
    expect_exit 2 "$SITQ" enqueue "$memory" -- true
    assert_contains "$(cat "$TMP/err")" "gone when it exits" "enqueue $memory"
    expect_exit 2 "$SITQ" stats "$memory"
done

# Another application's database: enqueue and worker refuse it, byte for byte.
APP=$TMP/app.db
/usr/bin/python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE app(x)"); c.execute("INSERT INTO app VALUES (1)"); c.commit()
' "$APP"
sum0=$(md5sum <"$APP")
expect_exit 3 "$SITQ" enqueue "$APP" -- true
assert_contains "$(cat "$TMP/err")" "$APP is not a sitq database" "enqueue on a foreign file"
assert_contains "$(cat "$TMP/err")" "--allow-foreign" "enqueue names the option"
expect_exit 3 "$SITQ" worker "$APP" --max-tasks 1
assert_contains "$(cat "$TMP/err")" "another application's tables" "worker on a foreign file"
assert_eq "$sum0" "$(md5sum <"$APP")" "foreign file unchanged"
[ ! -e "$APP-wal" ] || fail "a -wal file was made next to the foreign file"
assert_eq 1 "$("$SITQ" enqueue "$APP" --allow-foreign -- true)" "--allow-foreign adds the tables"
assert_eq 1 "$(/usr/bin/python3 -c '
import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT x FROM app").fetchone()[0])' "$APP")" \
    "the application's row is still there"

# New files: 0600 by default whatever the umask, --mode on request.
umask 022
"$SITQ" enqueue "$DB" -- echo one >/dev/null
assert_eq 600 "$(stat -c %a "$DB")" "default mode of a new database"
"$SITQ" enqueue "$TMP/shared.db" --mode 0640 -- true >/dev/null
assert_eq 640 "$(stat -c %a "$TMP/shared.db")" "--mode 0640"
expect_exit 2 "$SITQ" enqueue "$TMP/x.db" --mode 0999 -- true
assert_contains "$(cat "$TMP/err")" "--mode" "bad --mode names the option"

check_cross_queue_dependency

# Read-only: a directory that only root may write, a 0444 file, user nobody.
RO=$TMP/ro
mkdir "$RO"
"$SITQ" enqueue "$RO/q.db" --mode 0644 -- echo hello >/dev/null
chmod 0444 "$RO/q.db"
chmod 0555 "$RO"
chmod 0755 "$TMP"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if as_nobody true 2>/dev/null; then
    assert_contains "$(as_nobody "$SITQ" stats "$RO/q.db" --queue default)" "queued     1" "stats as another user"
    assert_contains "$(as_nobody "$SITQ" list "$RO/q.db")" "echo hello" "list as another user"
    assert_eq queued "$(as_nobody "$SITQ" show "$RO/q.db" 1 --json | jget "d['status']")" \
        "show as another user"
    rc=0
    as_nobody "$SITQ" cancel "$RO/q.db" 1 2>"$TMP/err" || rc=$?
    assert_eq 3 "$rc" "cancel without write access"
    assert_contains "$(cat "$TMP/err")" "$RO/q.db" "the error names the file"
    # A 0444 file in a directory nobody may write: a worker refuses it at
    # once (it used to retry its writes for ever, even with --burst) and
    # leaves no -wal or -shm behind.
    RW=$TMP/rw
    mkdir "$RW"
    chown 65534:65534 "$RW"
    as_nobody "$SITQ" enqueue "$RW/r.db" -- echo hi >/dev/null
    chmod 0444 "$RW/r.db"
    rc=0
    as_nobody timeout 60 "$SITQ" worker "$RW/r.db" --burst --quiet 2>"$TMP/err" || rc=$?
    assert_eq 3 "$rc" "a worker on a read-only file exits with a storage error"
    assert_contains "$(cat "$TMP/err")" "read-only to this process" "the worker says why"
    assert_eq "r.db" "$(ls "$RW")" "the refused open left no -wal or -shm"
    # An inspection of the read-only file leaves a -shm that this user
    # cannot write once the file is writable again: a write says so.
    as_nobody "$SITQ" list "$RW/r.db" >/dev/null
    chmod 0644 "$RW/r.db"
    if [ -e "$RW/r.db-shm" ] && ! as_nobody test -w "$RW/r.db-shm"; then
        rc=0
        as_nobody "$SITQ" enqueue "$RW/r.db" -- echo y 2>"$TMP/err" >/dev/null || rc=$?
        assert_eq 3 "$rc" "a write beside a read-only -wal or -shm fails"
        assert_contains "$(cat "$TMP/err")" "beside it cannot be written" "the error names the file"
        rm -f "$RW/r.db-wal" "$RW/r.db-shm"
    fi
    as_nobody "$SITQ" enqueue "$RW/r.db" -- echo z >/dev/null
else
    echo "skip: cannot switch to user nobody"
fi

# A read-only bind mount (no -wal or -shm can be made there).
MNT=$TMP/mnt
mkdir "$MNT"
chmod 0755 "$RO"
if unshare -m true 2>/dev/null; then
    out=$(unshare -m sh -c 'mount --bind -o ro "$1" "$2" && "$3" stats "$2/q.db" --queue default && "$3" show "$2/q.db" 1 &&
          "$3" list "$2/q.db" --json' sh "$RO" "$MNT" "$SITQ")
    assert_contains "$out" "queued     1" "stats on a read-only mount"
    assert_contains "$out" "command:          echo hello" "show on a read-only mount"
    rc=0
    unshare -m sh -c 'mount --bind -o ro "$1" "$2" && exec "$3" enqueue "$2/q.db" -- true' \
        sh "$RO" "$MNT" "$SITQ" 2>"$TMP/err" || rc=$?
    assert_eq 3 "$rc" "enqueue on a read-only mount"
    assert_contains "$(cat "$TMP/err")" "$MNT/q.db for writing" "enqueue names the file"
else
    echo "skip: cannot make a mount namespace"
fi
echo "ok"
