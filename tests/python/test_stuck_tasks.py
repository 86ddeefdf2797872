"""Tasks that never return must not make their process impossible to stop:
leaving `with Worker`, the end of a script, stop(timeout) followed by the
Worker's deallocation, and `python -m sitq worker` after signals all end in
bounded time. Each case runs in a child interpreter with a deadline; the
deadline only detects a hang, nothing is timed."""
import os
import queue as queue_module
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

import sitq
import sitq_test_tasks as tasks
from conftest import HERE, subprocess_env
from sitq_test_backend import ON_PG, open_backend

# A hang is detected by this deadline; a bounded stop takes a few seconds.
HANG_DEADLINE = 60

PRELUDE = """
import os, sys, time, sitq
sys.path.insert(0, sys.argv[2])
import sitq_test_tasks as tasks
from sitq_test_backend import open_backend
q = sitq.TaskQueue(backend=open_backend(sys.argv[1]))
MARKER = sys.argv[3]

def stuck_task(function, **options):
    # a task that never returns; its function creates MARKER first
    return q.enqueue(sitq.Task(function, args=[MARKER], **options))

def wait_started():
    # "running" in the database means claimed; the marker means started
    while not os.path.exists(MARKER):
        time.sleep(0.01)
"""


def run_script(body, db_path):
    script = PRELUDE + textwrap.dedent(body)
    # The marker file: beside a SQLite file, else in a fresh directory.
    marker = (db_path if not ON_PG else os.path.join(tempfile.mkdtemp(), "db")) + ".started"
    return subprocess.run([sys.executable, "-c", script, db_path, HERE, marker],
                          env=subprocess_env(),
                          capture_output=True, text=True, timeout=HANG_DEADLINE)


def stored(db_path, tid):
    q = sitq.TaskQueue(backend=open_backend(db_path))
    return q.get_result(tid, timeout=0)


@pytest.mark.parametrize("task", ["never_returns", "spins_forever"])
def test_leaving_with_block_is_bounded(db_path, task):
    p = run_script("""
        tid = stuck_task(getattr(tasks, %r), timeout=1)
        with sitq.Worker(q):
            wait_started()
        print("left", tid, q.get_task_status(tid), flush=True)
    """ % task, db_path)
    assert p.returncode == 0, p.stderr
    word, tid, status = p.stdout.split()
    assert (word, status) == ("left", "failed")
    r = stored(db_path, int(tid))
    assert r.status == "failed" and r.error.startswith("timed out after 1 s")


@pytest.mark.parametrize("task", ["never_returns", "spins_forever"])
def test_end_of_script_with_a_started_worker_is_bounded(db_path, task):
    p = run_script("""
        tid = stuck_task(getattr(tasks, %r), timeout=1)
        w = sitq.Worker(q)
        w.start()
        wait_started()
        print(tid, flush=True)
    """ % task, db_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    r = stored(db_path, int(p.stdout))
    assert r.status == "failed" and r.error.startswith("timed out after 1 s")


def test_stop_with_timeout_then_dealloc_is_bounded(db_path):
    p = run_script("""
        tid = stuck_task(tasks.never_returns, timeout=1)
        w = sitq.Worker(q)
        w.start()
        wait_started()
        w.stop(timeout=3)          # the timed-out handler does not hold the stop
        print("stopped", q.get_task_status(tid), flush=True)
        del w
        print("freed", flush=True)
    """, db_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["stopped", "failed", "freed"]


def test_dealloc_after_a_timed_out_stop_abandons_the_running_task(db_path):
    p = run_script("""
        tid = stuck_task(tasks.never_returns)      # no timeout at all
        w = sitq.Worker(q)
        w.start()
        wait_started()
        try:
            w.stop(timeout=0.2)
        except sitq.TaskTimeoutError as e:
            print("stop timed out", flush=True)
        del w
        print("freed", tid, flush=True)
    """, db_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "stop timed out" and lines[1].startswith("freed ")
    r = stored(db_path, int(lines[1].split()[1]))
    assert r.status == "failed"
    assert "abandoned" in r.error and "still running" in r.error


@pytest.fixture
def cli_worker(db_path):
    """Start `python -m sitq worker` on the test database; killed if left hanging."""
    procs = []

    def start():
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE],
            env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
        return procs[-1]
    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def read_until(proc, word):
    """Read the worker's log until a line contains word (fails if it exits
    first or logs nothing more before the deadline)."""
    lines = queue_module.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                              daemon=True)
    reader.start()
    out = []
    while not out or word not in out[-1]:
        try:
            out.append(lines.get(timeout=HANG_DEADLINE))
        except queue_module.Empty:
            raise AssertionError("the worker never logged %r: %s" % (word, "".join(out)))
    return "".join(out)


def wait_for_file(path, proc):
    deadline = time.monotonic() + HANG_DEADLINE
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_worker_stops_after_the_grace_of_a_stuck_task(queue, tmp_path, cli_worker, sig):
    marker = str(tmp_path / "started")
    tid = queue.enqueue(sitq.Task(tasks.never_returns, args=[marker], timeout=1))
    w = cli_worker()
    wait_for_file(marker, w)
    w.send_signal(sig)
    out, _ = w.communicate(timeout=HANG_DEADLINE)
    assert w.returncode == 0, out
    assert "stopped" in out
    r = queue.get_result(tid, timeout=0)
    assert r.status == "failed" and r.error.startswith("timed out after 1 s")


@pytest.mark.parametrize("first, second", [(signal.SIGTERM, signal.SIGTERM),
                                           (signal.SIGINT, signal.SIGINT),
                                           (signal.SIGTERM, signal.SIGINT)])
def test_cli_worker_second_signal_exits_at_once(queue, tmp_path, cli_worker, first, second):
    marker = str(tmp_path / "started")
    tid = queue.enqueue(sitq.Task(tasks.never_returns, args=[marker]))   # no timeout
    w = cli_worker()
    wait_for_file(marker, w)
    w.send_signal(first)
    # The first signal starts a graceful stop that waits for the task; the
    # log says so before the second signal is sent.
    read_until(w, "stopping")
    w.send_signal(second)
    assert w.wait(timeout=HANG_DEADLINE) == -second
    # The attempt was counted at claim; the task stays with its lease, which
    # lapses like that of a killed worker.
    assert queue.get_task_status(tid) == "running"
