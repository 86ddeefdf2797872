"""Opening a database from Python: another application's file is refused
unchanged, new files are private, an existing database opens (and reads,
even read-only) while a stopped process holds the write lock, writes then
raise DatabaseBusyError naming the file, and ``python -m sitq worker`` keeps
retrying with a clear line on stderr."""
import os
import select
import signal
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

import sitq
import sitq_test_tasks as tasks
from conftest import HERE, subprocess_env
from sitq_test_backend import ON_PG

# SQLite by nature: skipped when the suite runs on PostgreSQL.
pytestmark = pytest.mark.skipif(
    ON_PG, reason="opening SQLite database files: their modes, locks and foreign tables")


def make_foreign(path):
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE app(x)")
    c.execute("INSERT INTO app VALUES ('mine')")
    c.commit()
    c.close()


class StalledLockHolder:
    """A process that takes the write lock (BEGIN IMMEDIATE) and stops
    itself; ``release()`` continues it, and its exit frees the lock."""

    def __init__(self, path):
        self.proc = subprocess.Popen([sys.executable, "-c", (
            "import os, signal, sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "os.kill(os.getpid(), signal.SIGSTOP)\n"), path])
        # waitid(WSTOPPED) returns once the child has stopped itself.
        info = os.waitid(os.P_PID, self.proc.pid, os.WSTOPPED)
        assert info.si_code == os.CLD_STOPPED

    def release(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            assert self.proc.wait(timeout=30) == 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def holders():
    made = []
    yield lambda path: made.append(StalledLockHolder(path)) or made[-1]
    for h in made:
        h.kill()


def test_foreign_file_is_left_unchanged(tmp_path):
    path = str(tmp_path / "app.db")
    make_foreign(path)
    before = open(path, "rb").read()
    with pytest.raises(sitq.SchemaError) as e:
        sitq.SQLiteBackend(path)
    assert path in str(e.value) and "allow_foreign" in str(e.value)
    assert open(path, "rb").read() == before
    assert not os.path.exists(path + "-wal")
    q = sitq.TaskQueue(backend=sitq.SQLiteBackend(path, allow_foreign=True))
    assert q.get_task_status(q.enqueue(tasks.add, 1, 2)) == "queued"
    assert sqlite3.connect(path).execute("SELECT x FROM app").fetchone() == ("mine",)


def test_new_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        sitq.SQLiteBackend(str(tmp_path / "a.db"))
        sitq.SQLiteBackend(str(tmp_path / "b.db"), file_mode=0o640)
        sitq.SQLiteBackend(str(tmp_path / "c.db"), file_mode=0)
    finally:
        os.umask(old)
    modes = [stat.S_IMODE(os.stat(str(tmp_path / n)).st_mode) for n in ("a.db", "b.db", "c.db")]
    assert modes == [0o600, 0o640, 0o644]


@pytest.mark.parametrize("kw", [dict(allow_foreign="yes"), dict(allow_foreign=1),
                                dict(read_only=None), dict(file_mode=0o1000),
                                dict(file_mode=-1), dict(file_mode=10 ** 30),
                                dict(file_mode="0600")])
def test_bad_open_keywords(db_path, kw):
    with pytest.raises(sitq.InvalidArgumentError) as e:
        sitq.SQLiteBackend(db_path, **kw)
    assert next(iter(kw)) in str(e.value)
    assert not os.path.exists(db_path)


def test_open_and_read_while_a_stopped_process_holds_the_lock(db_path, holders):
    q = sitq.TaskQueue(backend=sitq.SQLiteBackend(db_path))
    tid = q.enqueue(tasks.add, 1, 2)
    holder = holders(db_path)
    b = sitq.SQLiteBackend(db_path, busy_timeout=0.3)
    q2 = sitq.TaskQueue(backend=b)
    assert q2.get_task_status(tid) == "queued"
    with pytest.raises(sitq.DatabaseBusyError) as e:
        q2.enqueue(tasks.add, 3, 4)
    assert isinstance(e.value, sitq.StorageError) and e.value.code == "SITQ_EBUSY"
    assert db_path in str(e.value) and "write lock" in str(e.value)
    ro = sitq.TaskQueue(backend=sitq.SQLiteBackend(db_path, read_only=True))
    assert ro.get_task_status(tid) == "queued"
    with pytest.raises(sitq.StorageError) as e:
        ro.enqueue(tasks.add, 3, 4)
    assert "read-only" in str(e.value) and db_path in str(e.value)
    holder.release()
    assert q2.get_task_status(q2.enqueue(tasks.add, 3, 4)) == "queued"


def read_until(proc, text, timeout=30):
    """Read the process's output until a line contains text; return it all."""
    out = ""
    deadline = time.monotonic() + timeout
    while text not in out:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, "no %r in: %s" % (text, out)
        if select.select([proc.stdout], [], [], left)[0]:
            line = proc.stdout.readline()
            assert line, "output ended without %r: %s" % (text, out)
            out += line
    return out


def test_cli_worker_retries_its_open_and_its_cycles(tmp_path, holders):
    path = str(tmp_path / "new.db")
    open(path, "w").close()      # a new file whose creator stalls holding the lock
    holder = holders(path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitq", "worker", path, "--path", HERE, "--busy-timeout", "0.2",
         "--quiet"],
        env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        read_until(proc, "%s is locked by another process; retrying the open" % path)
        holder.release()
        q = sitq.TaskQueue(backend=sitq.SQLiteBackend(path))
        assert q.get_result(q.enqueue(tasks.add, 2, 3), timeout=30).value == 5
        # Now a stall while the worker runs: it says so, and goes on after.
        holder = holders(path)
        read_until(proc, "database error")
        holder.release()
        assert q.get_result(q.enqueue(tasks.add, 4, 5), timeout=30).value == 9
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
