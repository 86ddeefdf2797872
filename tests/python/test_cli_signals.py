"""python -m sitq worker: Ctrl-C and SIGTERM stop it with one line and no
traceback (also with several processes), a second signal exits at once and
says so; --log-level filters the task lines."""
import os
import signal
import subprocess
import sys
import threading

import pytest

import sitq_test_tasks as tasks
from conftest import HERE, subprocess_env

DEADLINE = 60.0


class Worker:
    """`python -m sitq worker DB ...` with its output read as it comes."""

    def __init__(self, db_path, *extra):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE, *extra],
            env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)        # end of output
            self.cv.notify_all()

    def wait_for(self, text):
        """Wait until a line contains text; returns that line."""
        with self.cv:
            found = self.cv.wait_for(lambda: [l for l in self.lines if l and text in l]
                                     or None in self.lines, timeout=DEADLINE)
            assert found and found is not True, "never logged %r: %s" % (text, self.output())
            return found[0]

    def finish(self):
        """Wait for the exit; returns (exit code, whole output)."""
        code = self.proc.wait(timeout=DEADLINE)
        with self.cv:
            self.cv.wait_for(lambda: None in self.lines, timeout=DEADLINE)
        return code, self.output()

    def output(self):
        return "".join(l for l in self.lines if l)

    def kill(self):
        """After a failed test: kill the worker and its worker processes."""
        if self.proc.poll() is None:
            for pid in children_of(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait()


def children_of(ppid):
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except (OSError, ValueError):
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if entry.isdigit() and len(fields) > 2 and fields[1] == str(ppid):
            pids.append(int(entry))
    return pids


@pytest.fixture
def cli(db_path):
    started = []

    def start(*extra):
        started.append(Worker(db_path, *extra))
        return started[-1]
    yield start
    for w in started:
        w.kill()


POOLS = [("--concurrency", "2"), ("--concurrency", "2", "--pool", "thread")]


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_pool_stops_with_one_line(queue, tmp_path, cli, sig, pool):
    markers = [str(tmp_path / ("m%d" % i)) for i in range(2)]
    ids = [queue.enqueue(tasks.once_slow, m, 1.0) for m in markers]
    w = cli(*pool)
    for i in ids:
        w.wait_for("task %d py:sitq_test_tasks.once_slow: attempt 1 of 1 started" % i)
    w.proc.send_signal(sig)
    code, out = w.finish()
    assert code == 0, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    stopping = [l for l in out.splitlines() if "stopping" in l]
    assert len(stopping) == 1, out
    assert stopping[0].endswith("INFO sitq.worker: stopping (%s): waiting for running tasks; "
                                "a second signal exits at once" % sig.name), out
    assert stopping[0].startswith("sitq worker[%d]: " % w.proc.pid), out
    assert out.splitlines()[-1].endswith("INFO sitq.worker: stopped: all worker processes"), out
    # the running tasks finished and were recorded
    assert [queue.get_result(i, timeout=0).value for i in ids] == ["slow", "slow"]


@pytest.mark.parametrize("extra", [()] + POOLS)
def test_a_second_ctrl_c_exits_at_once_and_says_so(queue, tmp_path, cli, extra):
    marker = str(tmp_path / "started")
    tid = queue.enqueue(tasks.never_returns, marker)      # no timeout: a stop waits for it
    w = cli(*extra)
    w.wait_for("task %d py:sitq_test_tasks.never_returns: attempt 1 of 1 started" % tid)
    w.proc.send_signal(signal.SIGINT)
    w.wait_for("stopping (SIGINT)")
    w.proc.send_signal(signal.SIGINT)
    code, out = w.finish()
    assert code == -signal.SIGINT, out
    assert "Traceback" not in out, out
    again = [l for l in out.splitlines() if "again" in l]
    assert len(again) == 1 and again[0].endswith(
        "WARNING sitq.worker: SIGINT again: exiting at once; running tasks are recovered by "
        "other workers when their leases lapse"), out
    # its attempt was not recorded: the lease lapses as after a crash
    assert queue.get_task_status(tid) == "running"


def test_log_level_filters_task_lines(queue, cli):
    ok, bad = queue.enqueue(tasks.add, 1, 2), queue.enqueue(tasks.fail, "nope")
    w = cli("--log-level", "WARNING")
    assert queue.get_result(ok, timeout=DEADLINE).value == 3
    w.wait_for("task %d py:sitq_test_tasks.fail: failed in" % bad)
    w.proc.send_signal(signal.SIGTERM)
    code, out = w.finish()
    assert code == 0, out
    lines = out.splitlines()
    assert len(lines) == 1 and " ERROR sitq.task: task %d py:sitq_test_tasks.fail: failed in " \
        % bad in lines[0] and lines[0].endswith(" s after 1 attempt: ValueError: nope"), out


def test_default_level_shows_each_task(queue, cli):
    ok = queue.enqueue(tasks.add, 1, 2)
    w = cli()
    line = w.wait_for("task %d py:sitq_test_tasks.add: succeeded in" % ok)
    assert " INFO sitq.task: " in line
    w.proc.send_signal(signal.SIGTERM)
    code, out = w.finish()
    assert code == 0 and "task %d py:sitq_test_tasks.add: attempt 1 of 1 started" % ok in out
    assert out.splitlines()[-1].endswith("INFO sitq.worker: stopped"), out


def test_bad_log_level(db_path):
    p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--log-level", "LOUD"],
                       env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "'LOUD' is not one of DEBUG, INFO, WARNING, ERROR" in p.stderr


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_pool_starts(queue, cli, sig, pool):
    # The worker processes are still starting (importing, opening the
    # database; in process mode, the task process of the first task) when
    # the stop comes: still one line, no traceback.
    tid = queue.enqueue(tasks.add, 1, 2)
    w = cli(*pool)
    w.wait_for("started 2 worker processes" if "thread" in pool else "serving queue")
    w.proc.send_signal(sig)
    code, out = w.finish()
    assert code == 0, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert len([l for l in out.splitlines() if "stopping" in l]) == 1, out
    assert queue.get_task_status(tid) in ("queued", "succeeded")


@pytest.mark.parametrize("pool", [("--concurrency", "1"), ("--concurrency", "2")])
def test_a_burst_stopped_by_a_signal_does_not_say_drained(queue, tmp_path, cli, pool):
    # "queues drained (--burst)" only when they drained: a SIGTERM that ends
    # the run with tasks still queued said it too
    marker = str(tmp_path / "m")
    first = queue.enqueue(tasks.once_slow, marker, 1.0)
    later = [queue.enqueue(tasks.add, i, i) for i in range(3)]
    w = cli("--burst", "--prefetch", "0", *pool)
    w.wait_for("task %d py:sitq_test_tasks.once_slow: attempt 1 of 1 started" % first)
    w.proc.send_signal(signal.SIGTERM)
    code, out = w.finish()
    assert code == 0, out
    assert "queues drained" not in out, out
    assert any(queue.get_task_status(i) == "queued" for i in later), out


def test_memory_database_is_refused(tmp_path):
    for db in (":memory:", "sqlite::memory:", "sqlite://:memory:"):
        p = subprocess.run([sys.executable, "-m", "sitq", "worker", db, "--burst"],
                           env=subprocess_env(), cwd=HERE, capture_output=True, text=True,
                           timeout=DEADLINE)
        assert p.returncode == 2, p.stderr
        assert "would be a database in this worker's memory alone" in p.stderr, p.stderr


def test_a_sqlite_uri_names_the_file(tmp_path, queue, db_path):
    # sqlite:PATH and sqlite://PATH are the file PATH, as for the sitq command
    if db_path.startswith("postgres"):
        pytest.skip("a SQLite URI names a file")
    tid = queue.enqueue(tasks.add, 2, 3)
    for uri in ("sqlite:" + db_path, "sqlite://" + db_path):
        p = subprocess.run([sys.executable, "-m", "sitq", "worker", uri, "--burst", "--path", HERE],
                           env=subprocess_env(), cwd=HERE, capture_output=True, text=True,
                           timeout=DEADLINE)
        assert p.returncode == 0, p.stderr
    assert queue.get_result(tid, timeout=0).value == 5
    assert not os.path.exists(os.path.join(HERE, "sqlite:" + db_path))
