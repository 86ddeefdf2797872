"""Retention of finished tasks: TaskQueue.set_retention / get_retention /
reset_retention, Task(retention=...), and workers that purge as they run."""
import time

import pytest

import sitq
import sitq_test_tasks as tasks
from sitq_test_backend import fresh_target, open_backend


def test_defaults_set_and_reset(queue):
    r = queue.get_retention()
    assert (r["succeeded"], r["failed"], r["default"]) == (7 * 86400.0, 30 * 86400.0, True)
    assert (r["finished_kept"], r["oldest_id"], r["oldest_finished"]) == (0, None, None)
    queue.set_retention(succeeded=3600, failed="forever")
    r = queue.get_retention()
    assert (r["succeeded"], r["failed"], r["default"]) == (3600.0, "forever", False)
    queue.set_retention(failed=60)  # succeeded back to its default
    r = queue.get_retention()
    assert (r["succeeded"], r["failed"]) == (7 * 86400.0, 60.0)
    queue.reset_retention()
    assert queue.get_retention()["default"] is True


@pytest.mark.parametrize("bad", [0, -1, "soon", True, float("nan"), 1e12])
def test_bad_values(queue, bad):
    with pytest.raises(sitq.InvalidArgumentError, match="succeeded"):
        queue.set_retention(succeeded=bad)
    with pytest.raises(sitq.InvalidArgumentError, match="retention"):
        sitq.Task(tasks.add, (1, 2), retention=bad)


def test_task_retention_and_what_is_kept(queue):
    t = sitq.Task(tasks.add, (1, 2), retention="forever")
    assert t.retention == "forever"
    assert sitq.Task(tasks.add, (1, 2), retention=90).retention == 90.0
    assert sitq.Task(tasks.add, (1, 2)).retention is None
    first = queue.enqueue(t)
    with sitq.Worker(queue):
        assert queue.get_result(first, timeout=30).value == 3
    r = queue.get_retention()
    assert r["finished_kept"] == 1 and r["oldest_id"] == first
    assert abs(r["oldest_finished"] - time.time()) < 60


def test_worker_purges_expired_tasks(queue):
    short = [queue.enqueue(sitq.Task(tasks.add, (i, 1), retention=0.001)) for i in range(5)]
    kept = [queue.enqueue(sitq.Task(tasks.add, (i, 2))) for i in range(5)]
    fn = queue.task(retention=0.001)(tasks.add)
    short.append(fn.delay(1, 1))
    with sitq.Worker(queue, concurrency=2, retention_interval=0.05):
        for i in kept:
            queue.get_result(i, timeout=30)
        # A short task may still be running when the kept ones are done (two
        # threads finish out of order): wait for each one's deletion.
        assert [i for i in short if not wait_purged(queue, i)] == []
    assert [queue.get_result(i, timeout=0).value for i in kept] == [i + 2 for i in range(5)]


def wait_purged(queue, task_id, timeout=30):
    """Wait until task_id of queue was deleted (True), or timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            queue.get_task_status(task_id)
        except sitq.TaskNotFoundError:
            return True
        time.sleep(0.01)
    return False


def test_worker_retention_options(queue, tmp_path):
    with pytest.raises(sitq.InvalidArgumentError, match="retention_interval"):
        sitq.Worker(queue, retention_interval=0.001)
    kept = queue.enqueue(sitq.Task(tasks.add, (1, 1), retention=0.001))
    # A purging worker on a database of its own is the yardstick: once it
    # deleted the same kind of task, started later than the first worker,
    # the first one had at least as long and would have deleted its own.
    ref_queue = sitq.TaskQueue(backend=open_backend(fresh_target(tmp_path, "ref.db")))
    ref = ref_queue.enqueue(sitq.Task(tasks.add, (1, 1), retention=0.001))
    with sitq.Worker(queue, retention=False, retention_interval=0.01):
        queue.get_result(kept, timeout=30)
        with sitq.Worker(ref_queue, retention_interval=0.01):
            assert wait_purged(ref_queue, ref), "the purging worker never deleted its task"
    assert queue.get_result(kept, timeout=0).value == 2
