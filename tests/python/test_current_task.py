"""sitq.current_task(): the running attempt's id, attempt, queue, cancel flag,
progress and heartbeat, and its errors outside a task."""
import threading
import time

import pytest

import sitq
import sitq_test_tasks as tasks


def test_outside_a_task_raises_invalid_state():
    with pytest.raises(sitq.InvalidStateError) as e:
        sitq.current_task()
    assert str(e.value) == ("sitq.current_task() was called outside a task: it works only in a "
                            "task function run by a sitq Worker, on the thread that runs it")
    assert e.value.code == "SITQ_ESTATE"
    with pytest.raises(TypeError):
        sitq.TaskContext()


def test_fields_of_the_running_attempt(backend):
    q = sitq.TaskQueue(backend=backend, name="reports")
    tid = q.enqueue(sitq.Task(tasks.context_fields, max_retries=3, timeout=20))
    with sitq.Worker(q):
        r = q.get_result(tid, timeout=30)
    assert r.value == (tid, 1, 3, "reports", "py:sitq_test_tasks.context_fields", 20.0, False)


def test_process_task_sets_it_too(queue):
    tid = queue.enqueue(tasks.context_fields)
    r = sitq.Worker(queue).process_task(tid)
    assert r.value == (tid, 1, 0, "default", "py:sitq_test_tasks.context_fields", None, False)


def test_a_later_attempt_and_a_thread_of_the_task(queue):
    def task():
        t = sitq.current_task()
        if t.attempt == 1:
            raise ValueError("once")
        errors = []

        def other():
            try:
                sitq.current_task()
            except sitq.InvalidStateError as e:
                errors.append(e)
        th = threading.Thread(target=other)
        th.start()
        th.join()
        return t.attempt, sitq.current_task() is t, len(errors)

    tid = queue.enqueue(sitq.Task(task, max_retries=1, retry_backoff=0.01))
    with sitq.Worker(queue):
        r = queue.get_result(tid, timeout=30)
    assert r.value == (2, True, 1), r


def test_threads_of_the_task_calling_its_context_as_the_attempt_ends(queue):
    # The heartbeat-thread pattern: a task hands its context to threads of
    # its own that keep calling it, and returns while their calls run
    # without the GIL. The end of the attempt waits for the calls in flight
    # (it used to free the context under them: a crash within a few tasks);
    # each thread's next call then raises InvalidStateError.
    ended = []
    lock = threading.Lock()

    def pump(ctx):
        try:
            while True:
                ctx.heartbeat()
                ctx.set_progress(0.5)
                assert [r.value for r in ctx.dependency_results()] == [1]
        except sitq.InvalidStateError:
            with lock:
                ended.append("ended")
        except BaseException as e:  # noqa: B902 - reported by the assert below
            with lock:
                ended.append(repr(e))

    threads = []

    def task(i):
        ctx = sitq.current_task()
        for _ in range(3):
            t = threading.Thread(target=pump, args=(ctx,))
            with lock:
                threads.append(t)
            t.start()
        for _ in range(i % 4):  # let the threads' calls overlap the end
            ctx.heartbeat()
        return i

    first = queue.enqueue(sum, [1])
    ids = queue.enqueue_batch([sitq.Task(task, args=[i], depends_on=[first])
                               for i in range(150)])
    with sitq.Worker(queue, concurrency=4):
        values = [queue.get_result(t, timeout=60).value for t in ids]
    for t in threads:
        t.join(30)
    assert values == list(range(150))
    assert ended == ["ended"] * 450


def test_a_context_kept_after_its_attempt(queue):
    tid = queue.enqueue(tasks.keep_context, "after")
    with sitq.Worker(queue):
        assert queue.get_result(tid, timeout=30).value == tid
    ctx = tasks.KEPT.pop("after")   # its plain fields stay, the rest refuses
    assert (ctx.id, ctx.attempt, ctx.queue) == (tid, 1, "default")
    with pytest.raises(sitq.InvalidStateError, match="the attempt of task %d has ended" % tid):
        ctx.cancelled
    with pytest.raises(sitq.InvalidStateError):
        ctx.heartbeat()
    assert repr(ctx).endswith(" ended>")


def test_cancel_reaches_a_polling_task(queue):
    tid = queue.enqueue(tasks.until_cancelled)
    with sitq.Worker(queue, heartbeat_interval=0.05) as w:
        # the task reported its progress before it made the marker
        while queue.peek(tid).progress != 0.25:
            assert w.is_running
            time.sleep(0.01)
        assert queue.get_task_status(tid) == "running"
        assert queue.cancel(tid) == "running"
        r = queue.get_result(tid, timeout=30)
        stats = w.stats()  # counted before the outcome was stored
    assert r.status == "cancelled", r
    assert (stats["cancelled"], stats["failed"], stats["succeeded"]) == (1, 0, 0), stats
    assert r.error == "cancelled while running: RuntimeError: stopped on request at attempt 1"
    assert r.attempts == 1


def test_set_progress_checks_its_argument(queue):
    def task(value):
        try:
            sitq.current_task().set_progress(value)
        except sitq.InvalidArgumentError as e:
            return str(e)
        return "accepted"

    ids = [queue.enqueue(task, v) for v in (1.5, "half", True, 1)]
    w = sitq.Worker(queue)
    assert [w.process_task(i).value for i in ids] == [
        "fraction must be 0..1, got 1.5", "fraction must be a number 0..1, got str",
        "fraction must be a number 0..1, got bool", "accepted"]
    assert queue.peek(ids[3]).progress == 1.0


def test_a_timeout_sets_the_flag_of_a_thread_task(queue):
    # A thread cannot be interrupted: at the timeout the flag is set, and a
    # task that polls it ends within the grace with its own error.
    tid = queue.enqueue(sitq.Task(tasks.until_cancelled, timeout=0.5))
    with sitq.Worker(queue, heartbeat_interval=0.05):
        r = queue.get_result(tid, timeout=30)
    assert r.status == "failed", r
    assert r.error == ("timed out after 0.5 s (attempt 1): RuntimeError: stopped on request "
                       "at attempt 1"), r.error


def test_a_graceful_stop_does_not_set_the_flag(queue, tmp_path):
    # Leaving `with` waits for the running task without asking it to stop.
    marker = str(tmp_path / "started")
    tid = queue.enqueue(tasks.watch_cancel, marker, 1.0)
    with sitq.Worker(queue, heartbeat_interval=0.05):
        tasks.wait_for_path(marker)
    r = queue.get_result(tid, timeout=0)
    assert r.status == "succeeded" and r.value is False, r
