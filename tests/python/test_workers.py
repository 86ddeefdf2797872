"""The registry of workers from Python: TaskQueue.workers() and
sitq.WorkerInfo, for the in-process Worker and for python -m sitq worker
(a clean stop, and a kill -9 shown dead after the lease)."""
import datetime
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import sitq
import sitq_test_tasks as tasks
from conftest import HERE, subprocess_env


def poll_worker(queue, worker_id, pred, timeout=15):
    """The WorkerInfo of worker_id once pred(info) holds (all=True); fails
    after timeout seconds. Rows are renewed by the worker's heartbeat."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = next((w for w in queue.workers(all=True) if w.id == worker_id), None)
        if last is not None and pred(last):
            return last
        time.sleep(0.02)
    raise AssertionError("worker %s never matched: %r" % (worker_id, last))


def test_no_workers_yet(queue):
    assert queue.workers() == []
    assert queue.workers(all=True) == []


def test_in_process_worker_fields_counts_and_stop(queue):
    before = datetime.datetime.now(datetime.timezone.utc)
    ids = [queue.enqueue(tasks.add, i, 1) for i in range(4)]
    ids += [queue.enqueue(tasks.fail, "no") for _ in range(2)]
    w = sitq.Worker(queue, concurrency=2, worker_id="py-fields")
    w.start()
    try:
        for i in ids:
            queue.get_result(i, timeout=30)
        info = poll_worker(queue, "py-fields", lambda x: (x.succeeded, x.failed) == (4, 2))
        assert isinstance(info, sitq.WorkerInfo)
        assert info.state == "running"
        assert info.host == socket.gethostname()
        assert info.pid == os.getpid()
        assert info.queues == ("default",)
        assert info.concurrency == 2
        assert info.lost == 0
        assert info.running == () and info.held == 0
        assert info.stopped_at is None
        assert before - datetime.timedelta(seconds=1) <= info.started_at <= info.heartbeat_at
        assert info.lease_until > info.heartbeat_at
        with pytest.raises(dataclasses_frozen_error()):
            info.state = "dead"  # type: ignore[misc]
    finally:
        w.stop()
    stopped = [x for x in queue.workers(all=True) if x.id == "py-fields"]
    assert len(stopped) == 1 and stopped[0].state == "stopped"
    assert (stopped[0].succeeded, stopped[0].failed) == (4, 2)
    assert stopped[0].stopped_at is not None
    assert [x for x in queue.workers() if x.id == "py-fields"] == []


def dataclasses_frozen_error():
    import dataclasses
    return dataclasses.FrozenInstanceError


def test_running_task_shows_while_its_handler_blocks(queue):
    started, release = threading.Event(), threading.Event()

    def blocker():
        started.set()
        release.wait(30)
        return "done"

    tid = queue.enqueue(blocker)
    w = sitq.Worker(queue, concurrency=1, worker_id="py-busy")
    w.start()
    try:
        assert started.wait(30)
        info = poll_worker(queue, "py-busy", lambda x: x.running == (tid,))
        assert info.held == 1
    finally:
        release.set()
        w.stop()
    assert queue.get_result(tid, timeout=30).value == "done"


def test_cli_worker_clean_stop_and_kill9(db_path, queue):
    p = subprocess.Popen(
        [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE,
         "--worker-id", "py-cli", "--lease", "0.6"],
        env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        tid = queue.enqueue(tasks.add, 2, 3)
        assert queue.get_result(tid, timeout=30).value == 5
        info = poll_worker(queue, "py-cli", lambda x: x.succeeded == 1)
        assert info.pid == p.pid and info.state == "running"
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, out
    assert poll_worker(queue, "py-cli", lambda x: True).state == "stopped"

    k = subprocess.Popen(
        [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE,
         "--worker-id", "py-kill", "--lease", "0.6"],
        env=subprocess_env(), cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll_worker(queue, "py-kill", lambda x: x.state == "running")
    finally:
        k.kill()
        k.wait(timeout=30)
    dead = poll_worker(queue, "py-kill", lambda x: x.state == "dead")
    assert dead.stopped_at is None and dead.pid == k.pid
    assert any(x.id == "py-kill" for x in queue.workers())


def test_workers_argument_errors(queue):
    with pytest.raises(TypeError):
        queue.workers(1, 2)
    with pytest.raises(TypeError):
        queue.workers(bogus=True)
