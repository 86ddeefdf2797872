"""The pipeline surface of the Python API: @queue.task (delay, enqueue, map),
argument checks at enqueue, Result.unwrap() re-raising the task's own
exception, Task objects as dependencies within enqueue_batch, and
sitq.Executor (a concurrent.futures.Executor of durable tasks)."""
import concurrent.futures
import importlib
import os
import pickle
import select
import subprocess
import sys
import textwrap
import time

import pytest

import sitq
import sitq_test_pipeline as pipe
from sitq_test_backend import ON_PG, open_backend
import sitq_test_tasks as tasks

WAIT = 60


def run_all(queue, ids):
    with sitq.Worker(queue, concurrency=2):
        return [queue.get_result(i, timeout=WAIT) for i in ids]


# ---------------------------------------------------------------- @queue.task

def test_decorated_function_runs_locally_and_delays(queue):
    add = queue.task(priority=7, max_retries=2)(tasks.add)
    assert isinstance(add, sitq.TaskFunction)
    assert add(2, 3) == 5 and add.__name__ == "add" and add.__wrapped__ is tasks.add
    assert queue.get_stats()["total"] == 0  # a plain call enqueues nothing
    tid = add.delay(2, 3)
    snap = queue.peek(tid)
    assert (snap.priority, snap.max_retries, snap.function) == (7, 2, "py:sitq_test_tasks.add")
    [r] = run_all(queue, [tid])
    assert r.unwrap() == 5


def test_delay_gives_every_keyword_to_the_function(queue):
    echo = queue.task(priority=1)(tasks.echo)
    tid = echo.delay(1, priority=9, timeout="t")
    assert queue.peek(tid).priority == 1 and queue.peek(tid).timeout is None
    [r] = run_all(queue, [tid])
    assert r.value == ((1,), {"priority": 9, "timeout": "t"})


def test_bare_decorator(queue):
    square = queue.task(pipe.square)
    assert square.options == {} and square(4) == 16
    [r] = run_all(queue, [square.delay(5)])
    assert r.value == 25


def test_enqueue_overrides_options_and_depends(queue):
    add = queue.task(priority=3, max_retries=1)(tasks.add)
    a = add.delay(1, 1)
    b = add.enqueue(args=(2,), kwargs={"b": 3}, depends_on=[a], priority=9, delay=0)
    snap = queue.peek(b)
    assert (snap.priority, snap.max_retries, snap.depends_on) == (9, 1, (a,))
    assert snap.status == "waiting"
    t = add.to_task((4, 5), unique_key="u")
    assert isinstance(t, sitq.Task) and t.priority == 3 and t.unique_key == "u"
    ra, rb = run_all(queue, [a, b])
    assert (ra.value, rb.value) == (2, 5)


def test_decorator_errors(queue):
    with pytest.raises(sitq.InvalidArgumentError, match="unknown option bogus"):
        queue.task(bogus=1)
    with pytest.raises(sitq.InvalidArgumentError, match="depends_on"):
        queue.task(depends_on=[1])
    with pytest.raises(sitq.InvalidArgumentError, match="priority"):
        queue.task(priority="high")
    with pytest.raises(sitq.InvalidArgumentError, match="keyword"):
        queue.task(tasks.add, priority=1)
    add = queue.task()(tasks.add)
    with pytest.raises(sitq.InvalidArgumentError, match="unknown option colour"):
        add.enqueue(args=(1, 2), colour="red")
    with pytest.raises(sitq.InvalidArgumentError, match="missing a required argument: 'b'"):
        add.delay(1)
    with pytest.raises(sitq.InvalidArgumentError, match="unexpected keyword argument 'c'"):
        add.enqueue(args=(1, 2), kwargs={"c": 3})
    assert queue.get_stats()["total"] == 0


def test_map_enqueues_one_task_per_chunk(queue):
    square = queue.task(priority=2)(pipe.square)
    ids = square.map(range(7), chunksize=3)
    assert len(ids) == 3
    snaps = [queue.peek(i) for i in ids]
    assert all(s.priority == 2 for s in snaps)
    assert snaps[0].function == "py:sitq_test_pipeline.square.map"
    res = run_all(queue, ids)
    assert [r.value for r in res] == [[0, 1, 4], [9, 16, 25], [36]]
    assert [v for r in res for v in r.unwrap()] == [x * x for x in range(7)]
    assert square.map([]) == []
    for bad in (0, 1.5, True):
        with pytest.raises(sitq.InvalidArgumentError, match="chunksize"):
            square.map([1], chunksize=bad)
    with pytest.raises(sitq.InvalidArgumentError, match="too many positional"):
        queue.task()(tasks.pid).map([1])
    # a unique key would make every chunk join the first chunk's task
    with pytest.raises(sitq.InvalidArgumentError, match="unique_key"):
        queue.task(unique_key="k")(pipe.square).map(range(4), chunksize=2)
    assert queue.get_stats()["total"] == 3


def test_importable_task_function_is_pickled_by_reference(tmp_path, monkeypatch, db_path):
    monkeypatch.setenv("SITQ_TEST_DECORATED_DB", db_path)
    mod = importlib.reload(pipe)
    try:
        assert isinstance(mod.cube, sitq.TaskFunction)
        assert pickle.loads(pickle.dumps(mod.cube)) is mod.cube
        assert mod.cube._callable() is mod.cube
        tid = mod.cube.delay(3)
        assert mod.queue.peek(tid).priority == 4
        [r] = run_all(mod.queue, [tid])
        assert r.value == (os.getpid(), 27)
    finally:
        monkeypatch.delenv("SITQ_TEST_DECORATED_DB")
        importlib.reload(pipe)


# ------------------------------------------------------ arguments at enqueue

def test_arguments_that_cannot_bind_are_refused(queue):
    held = sitq.held_functions()  # earlier tests of this process may hold some
    with pytest.raises(sitq.InvalidArgumentError,
                       match=r"add\(a, b\): got an unexpected keyword argument 'priority'"):
        queue.enqueue(tasks.add, 1, 2, priority=5)
    with pytest.raises(sitq.InvalidArgumentError, match="too many positional arguments"):
        queue.enqueue(tasks.add, 1, 2, 3)
    with pytest.raises(sitq.InvalidArgumentError, match="missing a required argument: 'scale'"):
        sitq.Task(pipe.kw_only)
    with pytest.raises(sitq.InvalidArgumentError, match="tasks"):
        queue.enqueue_batch([sitq.Task(tasks.add, [1, 2]), tasks.add])
    assert queue.get_stats()["total"] == 0 and sitq.held_functions() == held
    # what binds is stored: keywords, **kwargs catch-alls, built-ins
    ids = [queue.enqueue(pipe.kw_only, scale=4), queue.enqueue(tasks.echo, x=1, priority=2),
           queue.enqueue(len, [1, 2, 3])]
    assert [r.value for r in run_all(queue, ids)] == [8, ((), {"x": 1, "priority": 2}), 3]


# ------------------------------------------------------------ Result.unwrap

def test_unwrap_reraises_the_tasks_exception(queue):
    tid = queue.enqueue(pipe.fail_custom, 42)
    [r] = run_all(queue, [tid])
    assert r.status == "failed" and r.error == "sitq_test_pipeline.CustomError: " \
        "('custom failure', 42)"
    assert "sitq-exception" not in r.traceback and r.traceback.rstrip().endswith(
        "sitq_test_pipeline.CustomError: ('custom failure', 42)")
    with pytest.raises(pipe.CustomError) as ei:
        r.unwrap()
    assert ei.value.args == ("custom failure", 42)
    assert isinstance(ei.value.__cause__, sitq.TaskFailedError)
    assert ei.value.__cause__.task_id == tid and ei.value.__cause__.remote_traceback == r.traceback
    [note] = ei.value.__notes__
    assert note.startswith("raised by task %d on a sitq worker; remote traceback:" % tid)
    assert "raise CustomError" in note


@pytest.mark.parametrize("func", [tasks.raise_unpicklable, pipe.fail_bad_init])
def test_unwrap_falls_back_to_task_failed_error(queue, func):
    [r] = run_all(queue, [queue.enqueue(func)])
    assert r.status == "failed"
    with pytest.raises(sitq.TaskFailedError) as ei:
        r.unwrap()
    assert ei.value.error == r.error and ei.value.status == "failed"
    assert ei.value.remote_traceback == r.traceback and "sitq-exception" not in r.traceback


@pytest.mark.skipif(ON_PG, reason="edits the SQLite file")
def test_unwrap_of_rows_without_or_with_a_damaged_exception_line(queue, db_path):
    import sqlite3
    tid = queue.enqueue(pipe.fail_custom, 1)
    [r] = run_all(queue, [tid])
    shown = r.traceback
    for stored in (shown, shown + "sitq-exception-v1:not base64!\n",
                   shown + "sitq-exception-v1:" + "gASVAAAA" + "\n"):
        with sqlite3.connect(db_path) as db:  # as an older version, or a damaged row
            db.execute("UPDATE sitq_tasks SET traceback = ? WHERE id = ?", (stored, tid))
        snap = queue.peek(tid)
        assert snap.traceback == shown
        with pytest.raises(sitq.TaskFailedError) as ei:
            snap.unwrap()
        assert ei.value.remote_traceback == shown and ei.value.task_id == tid


def test_unwrap_of_a_timeout_and_a_cancelled_task(queue):
    late = queue.enqueue(sitq.Task(tasks.add, [1, 2], delay=3600))
    assert queue.cancel(late) == "cancelled"
    with pytest.raises(sitq.TaskFailedError) as ei:
        queue.peek(late).unwrap()
    assert ei.value.status == "cancelled"
    slow = queue.enqueue(sitq.Task(tasks.sleep_and_return, [30], timeout=0.3))
    [r] = run_all(queue, [slow])
    with pytest.raises(sitq.TaskFailedError, match="tim"):
        r.unwrap()


# ------------------------------------------------- Task dependencies in a batch

def test_batch_tasks_depend_on_tasks_of_the_batch(queue):
    before = queue.enqueue(tasks.add, 10, 10)
    a = sitq.Task(tasks.add, [1, 2])
    b = sitq.Task(tasks.add, [3, 4], depends_on=[a])
    c = sitq.Task(tasks.add, [5, 6], depends_on=[before, a, b])
    assert c.depends_on == (before, a, b)
    ids = queue.enqueue_batch([a, b, c])
    assert queue.peek(ids[1]).depends_on == (ids[0],)
    assert sorted(queue.peek(ids[2]).depends_on) == sorted([before, ids[0], ids[1]])
    assert queue.get_task_status(ids[2]) == "waiting"
    assert [r.value for r in run_all(queue, [before] + ids)] == [20, 3, 7, 11]


def test_batch_dependency_failure_reaches_dependents(queue):
    a = sitq.Task(tasks.fail, ["first"])
    b = sitq.Task(tasks.add, [1, 2], depends_on=[a])
    ids = queue.enqueue_batch([a, b])
    ra, rb = run_all(queue, ids)
    assert ra.status == "failed" and rb.status == "failed"
    assert str(ids[0]) in rb.error


def test_a_long_failure_cascade_keeps_the_lease_of_the_worker_s_other_task(queue, tmp_path,
                                                                          db_path):
    """A failure at the head of a chain of 20,000 tasks fails every one of
    them in the worker's commit, while the same worker runs another task on
    a lease of 2 s and a second worker (its own connection) looks for lapsed
    leases: that task keeps its lease and succeeds at its first attempt. (On
    PostgreSQL the walk over the chain scanned every dependency edge at each
    level with the statistics of a table just filled by the batch: 40-70 s,
    the worker's heartbeats waiting behind it, and the second worker took
    the other task as lost; a retry of the chain failed after 90 s.)"""
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    other = queue.enqueue(tasks.gated, started, gate, "alive")
    chain = [sitq.Task(tasks.fail, ["head"])]
    for _ in range(19999):
        chain.append(sitq.Task(tasks.add, [1, 2], depends_on=[chain[-1]]))
    ids = queue.enqueue_batch(chain)
    second = sitq.TaskQueue(backend=open_backend(db_path))
    with sitq.Worker(queue, concurrency=2, lease=2.0):
        try:
            tasks.wait_for_path(started, timeout=WAIT)
            # The head is the first worker's (running, or failed already)
            # before the second one starts.
            while queue.peek(ids[0]).status == "queued":
                time.sleep(0.01)
            with sitq.Worker(second, concurrency=1, lease=2.0):
                last = queue.get_result(ids[-1], timeout=WAIT)
        finally:
            with open(gate, "w"):
                pass
        r = queue.get_result(other, timeout=WAIT)
    assert (last.status, last.error) == ("failed", "dependency %d failed" % ids[0])
    assert (r.status, r.value, r.attempts) == ("succeeded", "alive", 1)
    assert queue.totals()["lost"] == 0
    assert queue.get_stats()["failed"] == 20000
    # A retry walks the same chain to run it again (it failed after 90 s).
    queue.retry(ids[0])
    assert (queue.peek(ids[0]).status, queue.peek(ids[-1]).status) == ("queued", "waiting")


def test_batch_task_dependency_errors(queue):
    held = sitq.held_functions()
    a = sitq.Task(tasks.add, [1, 2])
    b = sitq.Task(tasks.add, [3, 4], depends_on=[a])
    with pytest.raises(sitq.InvalidArgumentError, match=r"tasks\[0\]\.depends_on\[0\].*after it"):
        queue.enqueue_batch([b, a])
    with pytest.raises(sitq.InvalidArgumentError, match=r"not in this batch"):
        queue.enqueue_batch([b])
    with pytest.raises(sitq.InvalidArgumentError, match=r"only by enqueue_batch"):
        queue.enqueue(b)
    with pytest.raises(sitq.InvalidArgumentError, match="depends_on"):
        queue.enqueue(sitq.Task(tasks.add, [1, 2]), depends_on=[a])
    with pytest.raises(sitq.InvalidArgumentError, match="depends_on"):
        sitq.Task(tasks.add, [1, 2], depends_on=a)
    assert queue.get_stats()["total"] == 0 and sitq.held_functions() == held


# ------------------------------------------------------------ sitq.Executor

def test_executor_with_its_own_worker_processes(queue):
    ex = sitq.Executor(queue, max_workers=2)
    assert isinstance(ex, concurrent.futures.Executor)
    with ex:
        f = ex.submit(tasks.add, 1, b=2)
        assert isinstance(f, concurrent.futures.Future) and isinstance(f.task_id, int)
        assert f.result(timeout=WAIT) == 3
        assert queue.peek(f.task_id).value == 3
        pids = {ex.submit(tasks.pid).result(timeout=WAIT) for _ in range(4)}
        assert os.getpid() not in pids
        assert list(ex.map(tasks.add, range(5), range(5), timeout=WAIT)) == [0, 2, 4, 6, 8]
        assert list(ex.map(pipe.square, range(7), chunksize=3)) == [x * x for x in range(7)]
        failing = ex.submit(pipe.fail_custom, 7)
        assert isinstance(failing.exception(timeout=WAIT), pipe.CustomError)
        with pytest.raises(pipe.CustomError):
            failing.result()
        with pytest.raises(sitq.InvalidArgumentError, match="priority"):
            ex.submit(tasks.add, 1, 2, priority=1)
        proc = ex._proc
    assert proc.returncode == 0  # stopped gracefully at shutdown
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(tasks.add, 1, 2)


def test_executor_on_existing_workers_as_completed_and_cancel(queue):
    with sitq.Worker(queue, concurrency=2), sitq.Executor(queue, max_workers=2,
                                                          start_workers=False) as ex:
        fs = [ex.submit(tasks.add, i, i) for i in range(6)]
        done = {f.result() for f in concurrent.futures.as_completed(fs, timeout=WAIT)}
        assert done == {0, 2, 4, 6, 8, 10} and ex._proc is None
    with sitq.Executor(queue, start_workers=False, delay=3600) as ex:
        f = ex.submit(tasks.add, 1, 2)
        assert f.cancel() and f.cancelled()
        assert queue.get_task_status(f.task_id) == "cancelled"
        g = ex.submit(tasks.add, 3, 4)
        ex.shutdown(cancel_futures=True)
        assert g.cancelled()
        with pytest.raises(concurrent.futures.CancelledError):
            g.result()


def test_executor_cancels_what_has_not_started(queue, tmp_path):
    # Its workers claim nothing ahead: a task not started is still queued,
    # so cancel() and shutdown(cancel_futures=True) keep it from running.
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    ex = sitq.Executor(queue, max_workers=1)
    try:
        first = ex.submit(tasks.gated, started, gate, "first")
        rest = [ex.submit(tasks.add, i, i) for i in range(4)]
        tasks.wait_for_path(started, proc=ex._proc)
        assert [queue.get_task_status(f.task_id) for f in rest] == ["queued"] * 4
        assert rest[0].cancel() and rest[0].cancelled()
        tasks.open_gate(gate)
        assert first.result(timeout=WAIT) == "first"
        assert rest[1].result(timeout=WAIT) == 2
    finally:
        tasks.open_gate(gate)
        ex.shutdown(wait=True, cancel_futures=True)
    assert queue.get_task_status(rest[0].task_id) == "cancelled"
    # the others: each either ran or was cancelled before it started
    for f, want in zip(rest[2:], (4, 6)):
        assert f.cancelled() or f.result() == want
        assert queue.get_task_status(f.task_id) == ("cancelled" if f.cancelled() else "succeeded")


def test_executor_starts_its_worker_again(queue, tmp_path):
    # --burst: the worker ends once the queue is empty; the next submit
    # starts another one.
    with sitq.Executor(queue, max_workers=1, worker_args=["--burst"]) as ex:
        fut = ex.submit(tasks.add, 1, 2)
        # started by the submit; read now, since the supervisor forgets it
        # once it has ended, which may be before the result is seen
        first = ex._proc
        assert first is not None
        assert fut.result(timeout=WAIT) == 3
        assert first.wait(timeout=WAIT) == 0
        assert ex.submit(tasks.add, 3, 4).result(timeout=WAIT) == 7
        assert ex._proc is not first
    # kill -9 of the worker while a call runs: started again, the call is
    # taken over once its lease lapses and finishes.
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    with sitq.Executor(queue, max_workers=1, max_retries=1,
                       worker_args=["--lease", "1"]) as ex:
        f = ex.submit(tasks.gated, started, gate, "done")
        tasks.wait_for_path(started, proc=ex._proc)
        killed = ex._proc
        killed.kill()
        tasks.open_gate(gate)
        assert f.result(timeout=WAIT) == "done"
        assert ex._proc is not killed
        assert queue.get_task_status(f.task_id) == "succeeded"


def test_executor_shutdown_right_after_its_worker_died(queue, tmp_path):
    # The worker killed, then shutdown at once (inside the pause before the
    # restart): the worker is still started again, and every call finishes.
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    ex = sitq.Executor(queue, max_workers=1, max_retries=1, worker_args=["--lease", "1"])
    try:
        first = ex.submit(tasks.gated, started, gate, "first")
        rest = [ex.submit(tasks.add, i, i) for i in range(3)]
        tasks.wait_for_path(started, proc=ex._proc)
        ex._proc.kill()
        ex.shutdown(wait=False)
        tasks.open_gate(gate)
        assert first.result(timeout=WAIT) == "first"
        assert [f.result(timeout=WAIT) for f in rest] == [0, 2, 4]
    finally:
        tasks.open_gate(gate)
        ex.shutdown(wait=True)
    assert ex._proc is None or ex._proc.poll() is not None


def test_executor_shutdown_with_wait_after_one_without(queue):
    # The second shutdown returns once the worker has stopped, although the
    # first one's background thread is the one stopping it.
    ex = sitq.Executor(queue, max_workers=1)
    assert ex.submit(tasks.add, 1, 2).result(timeout=WAIT) == 3
    proc = ex._proc
    ex.shutdown(wait=False)
    ex.shutdown(wait=True)
    assert proc.poll() == 0


def test_executor_whose_worker_keeps_failing_is_broken(queue, monkeypatch):
    # A worker process that exits 1 right after its start, again and again.
    import sitq._executor as executor
    monkeypatch.setattr(executor, "_RESTART_PAUSE_S", 0.01)
    ex = sitq.Executor(queue, max_workers=1)
    monkeypatch.setattr(ex, "_worker_command", lambda: [sys.executable, "-c", "exit(1)"])
    f = ex.submit(tasks.add, 1, 2)
    with pytest.raises(sitq.SitqSystemError, match="status 1 .5 times in a row"):
        f.result(timeout=WAIT)
    ex.shutdown(wait=True)
    assert queue.get_task_status(f.task_id) == "queued"


def test_executor_whose_worker_cannot_start_is_broken(queue):
    ex = sitq.Executor(queue, max_workers=1, worker_args=["--lease", "1e10"])
    f = ex.submit(tasks.add, 1, 2)
    with pytest.raises(sitq.SitqSystemError, match="exited with status 2 .a usage error"):
        f.result(timeout=WAIT)
    with pytest.raises(sitq.SitqSystemError, match="exited with status 2"):
        ex.submit(tasks.add, 3, 4)
    ex.shutdown(wait=True)
    assert queue.get_task_status(f.task_id) == "queued"  # left for other workers


def test_executor_worker_exits_cleanly_with_its_input_open(db_path):
    # A usage error while the executor still holds the pipe: exit 2 and the
    # message, not an interpreter abort over the thread reading stdin.
    from conftest import subprocess_env
    p = subprocess.Popen([sys.executable, "-m", "sitq._executor_worker", db_path, "--bogus"],
                         env=subprocess_env(), stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        err = p.stderr.read()
        assert p.wait(timeout=WAIT) == 2, err
    finally:
        p.stdin.close()
    assert "unrecognized arguments: --bogus" in err and "Fatal Python error" not in err, err


def test_executor_arguments(queue, db_path):
    for bad in (dict(max_workers=0), dict(threads="2"), dict(colour=1)):
        with pytest.raises(sitq.InvalidArgumentError):
            sitq.Executor(queue, **bad)
    with pytest.raises(sitq.InvalidArgumentError, match="queue"):
        sitq.Executor(42)
    # one unique key for every call: the calls would share one task's result
    with pytest.raises(sitq.InvalidArgumentError, match="unique_key"):
        sitq.Executor(queue, start_workers=False, unique_key="k")
    ex = sitq.Executor(db_path, start_workers=False, priority=5, max_retries=2)
    f = ex.submit(tasks.add, 1, 2)
    snap = ex.queue.peek(f.task_id)
    assert (snap.priority, snap.max_retries) == (5, 2)
    ex.shutdown(wait=False, cancel_futures=True)
    assert f.cancelled()


def test_executor_with_a_decorated_module_function(monkeypatch, db_path):
    monkeypatch.setenv("SITQ_TEST_DECORATED_DB", db_path)
    mod = importlib.reload(pipe)
    try:
        with sitq.Executor(mod.queue, max_workers=1) as ex:
            pid, value = ex.submit(mod.cube, 2).result(timeout=WAIT)
        assert value == 8 and pid != os.getpid()
    finally:
        monkeypatch.delenv("SITQ_TEST_DECORATED_DB")
        importlib.reload(pipe)


def test_executor_workers_stop_when_its_process_dies(db_path):
    # the executor's process ends without shutdown (os._exit: no finalizers)
    script = textwrap.dedent("""
        import os, sys
        import sitq, sitq_test_tasks as tasks
        ex = sitq.Executor(sys.argv[1], max_workers=1)
        assert ex.submit(tasks.add, 2, 3).result(timeout=60) == 5
        print(ex._proc.pid, flush=True)
        os._exit(0)
    """)
    from conftest import subprocess_env
    out = subprocess.run([sys.executable, "-c", script, db_path], env=subprocess_env(),
                         capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stderr
    worker_pid = int(out.stdout.split()[0])
    try:
        fd = os.pidfd_open(worker_pid)
    except ProcessLookupError:
        return  # already gone
    try:
        ready, _, _ = select.select([fd], [], [], WAIT)
        assert ready, "the worker process %d still runs" % worker_pid
    finally:
        os.close(fd)
