"""The workers' log lines (loggers sitq.worker and sitq.task): one per task
start, success, failure, retry, cancel and lost lease, at the documented
levels; nothing is printed unless the application configures logging."""
import logging
import re
import subprocess
import sys
import textwrap

import pytest

import sitq
import sitq_test_tasks as tasks
from sitq import _tasklog
from conftest import HERE, subprocess_env


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        # durations vary: "succeeded in 0.003 s" -> "succeeded"
        msg = re.sub(r" in \d+\.\d{3} s", "", record.getMessage())
        self.lines.append((record.name, record.levelname, msg, getattr(record, "task_id", None)))


@pytest.fixture
def records():
    h = Records()
    log = logging.getLogger("sitq")
    old = log.level
    log.addHandler(h)
    log.setLevel(logging.DEBUG)
    yield h.lines
    log.removeHandler(h)
    log.setLevel(old)


def test_the_library_adds_only_a_null_handler():
    assert [type(h) for h in logging.getLogger("sitq").handlers] == [logging.NullHandler]
    assert logging.getLogger("sitq.task").parent is logging.getLogger("sitq")
    assert logging.getLogger("sitq.worker").parent is logging.getLogger("sitq")


def test_nothing_is_printed_unless_logging_is_configured(db_path):
    script = textwrap.dedent("""
        import sys, sitq
        sys.path.insert(0, sys.argv[2])
        import sitq_test_tasks as tasks
        from sitq_test_backend import open_backend
        q = sitq.TaskQueue(backend=open_backend(sys.argv[1]))
        ids = [q.enqueue(tasks.add, 1, 2), q.enqueue(tasks.fail),
               q.enqueue(sitq.Task(tasks.fail, max_retries=1, retry_backoff=0.01))]
        with sitq.Worker(q):
            print([q.get_result(i, timeout=30).status for i in ids])
    """)
    p = subprocess.run([sys.executable, "-c", script, db_path, HERE], env=subprocess_env(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "['succeeded', 'failed', 'failed']\n"
    assert p.stderr == ""


def test_a_line_per_start_and_outcome(queue, tmp_path, records):
    ok = queue.enqueue(tasks.add, 2, 3)
    bad = queue.enqueue(tasks.fail, "boom")
    again = queue.enqueue(sitq.Task(tasks.fail_first, args=[str(tmp_path / "m")], max_retries=1,
                                    retry_backoff=0.01))
    with sitq.Worker(queue) as w:
        for tid in (ok, bad, again):
            queue.get_result(tid, timeout=30)
        wid = w.worker_id
    task_lines = [r for r in records if r[0] == "sitq.task"]
    ours = lambda tid: [r[1:3] for r in task_lines if r[3] == tid]   # noqa: E731
    assert ours(ok) == [
        ("INFO", "task %d py:sitq_test_tasks.add: attempt 1 of 1 started" % ok),
        ("INFO", "task %d py:sitq_test_tasks.add: succeeded" % ok)]
    assert ours(bad) == [
        ("INFO", "task %d py:sitq_test_tasks.fail: attempt 1 of 1 started" % bad),
        ("ERROR", "task %d py:sitq_test_tasks.fail: failed after 1 attempt: ValueError: boom"
         % bad)]
    assert ours(again) == [
        ("INFO", "task %d py:sitq_test_tasks.fail_first: attempt 1 of 2 started" % again),
        ("WARNING", "task %d py:sitq_test_tasks.fail_first: attempt 1 of 2 failed, will be "
         "retried: ValueError: first attempt fails" % again),
        ("INFO", "task %d py:sitq_test_tasks.fail_first: attempt 2 of 2 started" % again),
        ("INFO", "task %d py:sitq_test_tasks.fail_first: succeeded" % again)]
    worker_lines = [r[1:3] for r in records if r[0] == "sitq.worker"]
    assert worker_lines == [("DEBUG", "worker %s started: queue 'default', 1 thread" % wid),
                            ("DEBUG", "worker %s stopped" % wid)]


def test_a_cancelled_task(queue, records):
    tid = queue.enqueue(tasks.until_cancelled)
    with sitq.Worker(queue, heartbeat_interval=0.05):
        while queue.peek(tid).progress != 0.25:
            pass
        assert queue.cancel(tid) == "running"
        assert queue.get_result(tid, timeout=30).status == "cancelled"
    assert [r[1:3] for r in records if r[3] == tid][1:] == [
        ("INFO", "task %d py:sitq_test_tasks.until_cancelled: cancelled while running: "
         "RuntimeError: stopped on request at attempt 1" % tid)]


def test_a_failure_without_retry_is_logged_as_failed(queue, records):
    # sitq.NoRetry with retries left: the store's verdict (failed) is logged,
    # not "will be retried" from the attempt count
    tid = queue.enqueue(sitq.Task(tasks.no_retry, args=["x"], max_retries=2))
    with sitq.Worker(queue):
        queue.get_result(tid, timeout=30)
    assert [r[1:3] for r in records if r[3] == tid][1:] == [
        ("ERROR", "task %d py:sitq_test_tasks.no_retry: failed after 1 attempt: "
         "sitq.errors.NoRetry: bad input: x" % tid)]


def test_process_task_logs_its_outcome(queue, records):
    tid = queue.enqueue(sitq.Task(tasks.fail, args=["once"], max_retries=2))
    sitq.Worker(queue).process_task(tid)
    assert [r[1:3] for r in records if r[3] == tid] == [
        ("INFO", "task %d py:sitq_test_tasks.fail: attempt 1 of 3 started" % tid),
        ("WARNING", "task %d py:sitq_test_tasks.fail: attempt 1 of 3 failed, will be retried: "
         "ValueError: once" % tid)]


def test_levels_filter_the_lines(queue, records):
    logging.getLogger("sitq").setLevel(logging.WARNING)
    ids = [queue.enqueue(tasks.add, 1, 1), queue.enqueue(tasks.fail, "x")]
    with sitq.Worker(queue):
        for tid in ids:
            queue.get_result(tid, timeout=30)
    assert [r[1:3] for r in records] == [
        ("ERROR", "task %d py:sitq_test_tasks.fail: failed after 1 attempt: ValueError: x"
         % ids[1])]


def test_an_outcome_dropped_with_the_lease(records):
    # What the worker's commit reports for an attempt whose lease was lost
    # (another worker recovered the task): the line says the outcome was
    # dropped, whatever the handler returned.
    _tasklog.task_started(9001, "py:m.f", 1, 0, True)
    _tasklog.task_ended(9001, False)
    _tasklog._committed(9001, True, False, None, False)
    assert [r[1:3] for r in records if r[3] == 9001] == [
        ("INFO", "task 9001 py:m.f: attempt 1 of 1 started"),
        ("WARNING", "task 9001 py:m.f: succeeded, but the outcome was dropped: the lease was "
         "lost (the task was recovered and may run again)")]
    assert 9001 not in _tasklog._pending
