"""A Worker of several queues (priority order and round-robin) and burst
mode: Worker.run(until_empty=True) and `python -m sitq worker --burst`."""
import os
import subprocess
import sys
import threading

import pytest

import sitq
import sitq_test_tasks as tasks
from conftest import HERE, open_backend, subprocess_env


def record(path, name):
    """Append name to the file at path: the order tasks ran in."""
    with open(path, "a") as f:
        f.write(name + "\n")
    return name


def gated_record(started, gate, path, name):
    """record() once the test opened the gate (tasks.gated)."""
    tasks.gated(started, gate)
    return record(path, name)


def fail_once(marker):
    """Fail the first attempt (it leaves marker behind), succeed the next."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return "second"


def queue_name():
    return sitq.current_task().queue


def ran(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split()


@pytest.fixture
def two(backend):
    return sitq.TaskQueue(backend=backend, name="high"), sitq.TaskQueue(backend=backend, name="low")


def test_priority_order_drains_the_first_queue_first(two, tmp_path):
    high, low = two
    order = str(tmp_path / "order")
    for i in range(3):
        low.enqueue(record, order, "l%d" % i)  # older than the high ones
    for i in range(2):
        high.enqueue(record, order, "h%d" % i)
    w = sitq.Worker([high, low], concurrency=1, prefetch=0)
    assert w.queues == (high, low) and w.queue is high
    w.run(until_empty=True)
    assert ran(order) == ["h0", "h1", "l0", "l1", "l2"]
    assert not w.is_running
    assert high.get_stats()["succeeded"] == 2 and low.get_stats()["succeeded"] == 3


def test_round_robin_alternates(two, tmp_path):
    a, b = two
    order = str(tmp_path / "order")
    for i in range(4):
        b.enqueue(record, order, "b%d" % i)
    for i in range(2):
        a.enqueue(record, order, "a%d" % i)
    w = sitq.Worker((a, b), order="round-robin", prefetch=0)
    w.run(until_empty=True)
    assert ran(order) == ["a0", "b0", "a1", "b1", "b2", "b3"]


def test_priority_takes_a_new_high_task_next(two, tmp_path):
    high, low = two
    order = str(tmp_path / "order")
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    low.enqueue(gated_record, started, gate, order, "l0")
    last = [low.enqueue(record, order, "l%d" % i) for i in (1, 2)][-1]
    with sitq.Worker([high, low], order="priority", prefetch=0):
        tasks.wait_for_path(started)  # l0 runs
        high.enqueue(record, order, "h0")
        tasks.open_gate(gate)
        assert low.get_result(last, timeout=30).is_success
    assert ran(order) == ["l0", "h0", "l1", "l2"]


def test_current_task_names_the_tasks_queue(two):
    high, low = two
    ids = [high.enqueue(queue_name), low.enqueue(queue_name)]
    sitq.Worker([high, low]).run(until_empty=True)
    assert [high.get_result(ids[0]).value, low.get_result(ids[1]).value] == ["high", "low"]


def test_process_task_finds_the_task_in_any_queue(two):
    high, low = two
    tid = low.enqueue(tasks.add, 2, 3)
    r = sitq.Worker([high, low]).process_task(tid)
    assert r.value == 5 and r.queue == "low"


def test_burst_ignores_tasks_scheduled_past_the_bound(queue, tmp_path):
    order = str(tmp_path / "order")
    far = queue.enqueue(sitq.Task(record, args=[order, "far"], delay=3600))
    near = queue.enqueue(sitq.Task(record, args=[order, "near"], delay=0.3))
    w = sitq.Worker(queue)
    w.run(until_empty=True)  # the default bound (60 s) holds it for the near one
    assert ran(order) == ["near"]
    assert queue.get_task_status(near) == "succeeded"
    assert queue.get_task_status(far) == "scheduled"
    # eta_bound=0: nothing scheduled holds it; then a plain start (no burst).
    w.run(until_empty=True, eta_bound=0)
    w.start()
    later = queue.enqueue(record, order, "later")
    assert queue.get_result(later, timeout=30).is_success
    assert w.is_running  # not a burst run: it does not stop by itself
    w.stop()


def test_burst_waits_for_a_retry_within_the_bound(queue, tmp_path):
    marker = str(tmp_path / "failed-once")
    tid = queue.enqueue(sitq.Task(fail_once, args=[marker], max_retries=1,
                                  retry_backoff=0.2))
    sitq.Worker(queue).run(until_empty=True)
    r = queue.get_result(tid)
    assert r.is_success and r.attempts == 2


def test_burst_waits_for_dependencies_running_elsewhere(backend, tmp_path):
    # The parent runs on another worker (a thread of this test); its child,
    # in the same queue, waits for it: the burst run waits too, then runs it.
    queue = sitq.TaskQueue(backend=backend)
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    order = str(tmp_path / "order")
    parent = queue.enqueue(tasks.gated, started, gate)
    other = sitq.Worker(queue, prefetch=0)
    other.start()
    tasks.wait_for_path(started)
    child = queue.enqueue(sitq.Task(record, args=[order, "child"], depends_on=[parent]))
    burst = sitq.Worker(queue)
    done = threading.Event()

    def run():
        burst.run(until_empty=True)
        done.set()
    t = threading.Thread(target=run)
    t.start()
    assert not done.wait(0.3)  # held by the waiting child
    tasks.open_gate(gate)
    t.join(60)
    other.stop()
    assert done.is_set()
    assert queue.get_task_status(child) == "succeeded"
    assert ran(order) == ["child"]


def test_bad_arguments_raise_sitq_errors(backend, two, db_path):
    high, low = two
    with pytest.raises(sitq.InvalidArgumentError, match="order must be"):
        sitq.Worker([high, low], order="fastest")
    with pytest.raises(sitq.InvalidArgumentError, match="1..64 queues"):
        sitq.Worker([])
    with pytest.raises(sitq.InvalidArgumentError, match=r"queue\[1\] must be a sitq.TaskQueue"):
        sitq.Worker([high, "low"])
    with pytest.raises(sitq.InvalidArgumentError, match="TaskQueue or a list"):
        sitq.Worker("high")
    with pytest.raises(sitq.InvalidArgumentError, match="given twice"):
        sitq.Worker([high, sitq.TaskQueue(backend=backend, name="high")])
    other = sitq.TaskQueue(backend=open_backend(db_path), name="other")
    with pytest.raises(sitq.InvalidArgumentError, match="share one backend"):
        sitq.Worker([high, other])
    w = sitq.Worker([high, low])
    with pytest.raises(sitq.InvalidArgumentError, match="eta_bound"):
        w.run(until_empty=True, eta_bound=-1)
    with w:
        with pytest.raises(sitq.InvalidStateError, match="stopped worker"):
            w.run(until_empty=True)


def cli(db_path, *extra):
    return subprocess.run(
        [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE, *extra],
        env=subprocess_env(), cwd=HERE, capture_output=True, text=True, timeout=120)


def test_cli_burst_over_two_queues(db_path, two, tmp_path):
    high, low = two
    order = str(tmp_path / "order")
    low.enqueue(tasks.echo, 1)  # tasks.echo: importable by the worker process
    for i in range(2):
        low.enqueue(record, order, "l%d" % i)
    high.enqueue(record, order, "h0")
    p = cli(db_path, "--queue", "high", "--queue", "low", "--burst")
    assert p.returncode == 0, p.stderr
    assert ran(order) == ["h0", "l0", "l1"]
    assert "queues in priority order: 'high', 'low'" in p.stderr
    assert "queues drained (--burst)" in p.stderr
    assert "Traceback" not in p.stderr
    assert low.get_stats()["succeeded"] == 3


def test_cli_burst_pool_exits_when_drained(db_path, two):
    high, low = two
    ids = [low.enqueue(tasks.add, i, i) for i in range(6)] + [high.enqueue(tasks.add, 1, 1)]
    p = cli(db_path, "-q", "low", "-q", "high", "--queue-order", "round-robin",
            "--concurrency", "2", "--burst", "--burst-eta-bound", "0")
    assert p.returncode == 0, p.stderr
    assert "queues drained (--burst)" in p.stderr
    assert all((low if i != ids[-1] else high).get_task_status(i) == "succeeded" for i in ids)


def test_cli_usage_errors(db_path):
    p = cli(db_path, "--queue", "a", "--queue", "a")
    assert p.returncode == 2 and "--queue 'a' is given twice" in p.stderr
    p = cli(db_path, "--queue-order", "fastest")
    assert p.returncode == 2 and "--queue-order" in p.stderr
    p = cli(db_path, "--burst", "--burst-eta-bound", "-1")
    assert p.returncode == 2 and "--burst-eta-bound" in p.stderr
