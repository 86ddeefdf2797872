"""Every public method of the binding, and its error paths."""
import concurrent.futures
import datetime
import functools
import math
import pickle
import threading
import time
import weakref

import pytest

import sitq
import sitq_test_tasks as tasks
from sitq_test_backend import open_backend


def run_all(queue, ids, timeout=30):
    with sitq.Worker(queue, concurrency=2):
        return [queue.get_result(i, timeout=timeout) for i in ids]


# ---------------------------------------------------------------- backend

def test_backend_options_accepted(tmp_path):
    b = sitq.SQLiteBackend(str(tmp_path / "a.db"), connection_pool_size=20, enable_wal=True,
                           synchronous="full", busy_timeout=5)
    assert b.path.endswith("a.db")
    assert "a.db" in repr(b)
    sitq.SQLiteBackend(tmp_path / "b.db", connection_pool_size=0, enable_wal=False,
                       synchronous=0, busy_timeout=0.5)
    sitq.SQLiteBackend(":memory:")


@pytest.mark.parametrize("kwargs, word", [
    (dict(path=None), "path"),
    (dict(path=""), "path"),
    (dict(path="x.db", connection_pool_size=-1), "connection_pool_size"),
    (dict(path="x.db", connection_pool_size=65), "connection_pool_size"),
    (dict(path="x.db", connection_pool_size="4"), "connection_pool_size"),
    (dict(path="x.db", synchronous="sometimes"), "synchronous"),
    (dict(path="x.db", synchronous=7), "synchronous"),
    (dict(path="x.db", busy_timeout=-1), "busy_timeout"),
    (dict(path="x.db", busy_timeout="1"), "busy_timeout"),
])
def test_backend_bad_arguments_name_the_argument(tmp_path, monkeypatch, kwargs, word):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(sitq.InvalidArgumentError, match=word) as ei:
        sitq.SQLiteBackend(**kwargs)
    assert isinstance(ei.value, sitq.SitqError) and isinstance(ei.value, ValueError)
    assert ei.value.code == "SITQ_EINVAL"


def test_backend_unopenable_path_is_storage_error(tmp_path):
    with pytest.raises(sitq.StorageError) as ei:
        sitq.SQLiteBackend(str(tmp_path / "no" / "such" / "dir" / "x.db"))
    assert isinstance(ei.value, OSError)


def test_sitq_objects_refuse_pickling(backend, queue):
    w = sitq.Worker(queue)
    for obj in (backend, queue, w):
        with pytest.raises(TypeError, match="cannot pickle .* open database connections"):
            pickle.dumps(obj)
    # a Task holds no connection: the message says what it is instead
    with pytest.raises(TypeError, match="cannot pickle a sitq.Task: it is a call to enqueue"):
        pickle.dumps(sitq.Task(tasks.add, args=[1, 2]))


# ---------------------------------------------------------------- queue

def test_queue_arguments(backend):
    with pytest.raises(sitq.InvalidArgumentError, match="PostgresBackend"):
        sitq.TaskQueue()
    with pytest.raises(sitq.InvalidArgumentError,
                       match=r"SQLiteBackend or sitq.PostgresBackend .*got str"):
        sitq.TaskQueue(backend="x.db")
    with pytest.raises(sitq.InvalidArgumentError, match="name"):
        sitq.TaskQueue(backend=backend, name=3)
    with pytest.raises(sitq.InvalidArgumentError, match="name"):
        sitq.TaskQueue(backend=backend, name="")
    q = sitq.TaskQueue(backend=backend, name="emails")
    assert q.name == "emails" and q.backend is backend
    assert sitq.TaskQueue(backend=backend).name == "default"
    assert "emails" in repr(q)


def test_queues_are_separate(backend):
    a = sitq.TaskQueue(backend=backend, name="a")
    b = sitq.TaskQueue(backend=backend, name="b")
    tid = a.enqueue(tasks.add, 1, 2)
    assert a.get_task_status(tid) == "queued"
    with pytest.raises(sitq.TaskNotFoundError):
        b.get_task_status(tid)
    assert b.get_stats()["total"] == 0


# ---------------------------------------------------------------- task

@pytest.mark.parametrize("kwargs, word", [
    (dict(function=42), "function"),
    (dict(function=tasks.add, args="ab"), "args"),
    (dict(function=tasks.add, args=5), "args"),
    (dict(function=tasks.add, args={1, 2}), "args"),
    (dict(function=tasks.add, args=bytearray(b"ab")), "args"),
    (dict(function=tasks.add, args=memoryview(b"ab")), "args"),
    (dict(function=tasks.add, kwargs=[1]), "kwargs"),
    (dict(function=tasks.add, kwargs={1: 2}), "kwargs"),
    (dict(function=tasks.add, priority="high"), "priority"),
    (dict(function=tasks.add, priority=2 ** 40), "priority"),
    (dict(function=tasks.add, max_retries=-1), "max_retries"),
    (dict(function=tasks.add, max_retries=1.5), "max_retries"),
    (dict(function=tasks.add, timeout=-2), "timeout"),
    (dict(function=tasks.add, timeout=float("nan")), "timeout"),
    (dict(function=tasks.add, delay="soon"), "delay"),
    (dict(function=tasks.add, eta="tomorrow"), "eta"),
    (dict(function=tasks.add, eta=time.time() + 5, delay=3), "eta and delay"),
    (dict(function=tasks.add, unique_key=5), "unique_key"),
    (dict(function=tasks.add, unique_key=""), "unique_key"),
    (dict(function=tasks.add, depends_on="1"), "depends_on"),
    (dict(function=tasks.add, depends_on=[0]), "depends_on"),
    (dict(function=tasks.add, depends_on=["x"]), r"depends_on\[0\]"),
])
def test_task_bad_arguments_name_the_argument(kwargs, word):
    with pytest.raises(sitq.InvalidArgumentError, match=word):
        sitq.Task(**kwargs)


def test_task_attributes():
    eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    t = sitq.Task(function=tasks.add, args=[1], kwargs={"b": 2}, priority=5, eta=eta,
                  max_retries=3, timeout=2.5, unique_key="k", depends_on=[1, 2])
    assert t.function is tasks.add and t.args == (1,) and t.kwargs == {"b": 2}
    assert (t.priority, t.max_retries, t.timeout, t.unique_key) == (5, 3, 2.5, "k")
    assert t.eta is eta and t.depends_on == (1, 2) and t.delay is None
    assert t.name == "py:sitq_test_tasks.add"
    assert "py:sitq_test_tasks.add" in repr(t)
    d = sitq.Task(tasks.pid)
    assert d.args == () and d.kwargs == {} and d.priority == 0 and d.timeout is None


def test_function_names():
    assert sitq.function_name(tasks.add) == "py:sitq_test_tasks.add"
    assert sitq.function_name(functools.partial(tasks.add, 1)) == "py:sitq_test_tasks.add"
    assert sitq.function_name(len) == "py:builtins.len"
    assert sitq.function_name(lambda: 1).endswith("<lambda>")

    class Holder:
        def method(self):
            pass
    assert sitq.function_name(Holder().method).endswith(
        "test_function_names.<locals>.Holder.method")


# ---------------------------------------------------------------- enqueue

def test_enqueue_forms(queue):
    a = queue.enqueue(sitq.Task(function=tasks.add, args=[1, 2]))
    b = queue.enqueue(tasks.echo, 1, 2, key="v")           # short form
    c = queue.enqueue(sitq.Task(tasks.add, args=[a, 0]), depends_on=[a])
    d = queue.enqueue(task=sitq.Task(tasks.add, args=[4, 4]))
    assert a < b < c < d
    assert queue.get_task_status(c) == "waiting"
    res = run_all(queue, [a, b, c, d])
    assert [r.value for r in res] == [3, ((1, 2), {"key": "v"}), a, 8]
    assert res[2].depends_on == (a,)


def test_enqueue_errors(queue):
    with pytest.raises(sitq.InvalidArgumentError):
        queue.enqueue()
    with pytest.raises(sitq.InvalidArgumentError, match="callable"):
        queue.enqueue(42)
    with pytest.raises(sitq.InvalidArgumentError, match="positional"):
        queue.enqueue(sitq.Task(tasks.add, [1, 2]), 1)
    with pytest.raises(sitq.InvalidArgumentError, match="priority"):
        queue.enqueue(sitq.Task(tasks.add, [1, 2]), priority=3)
    with pytest.raises(sitq.InvalidArgumentError, match="depends_on"):
        queue.enqueue(sitq.Task(tasks.add, [1, 2]), depends_on=[-1])
    with pytest.raises(sitq.DependencyError):
        queue.enqueue(sitq.Task(tasks.add, [1, 2]), depends_on=[999999])
    assert queue.get_stats()["total"] == 0
    assert sitq.held_functions() == 0


def test_enqueue_batch(queue):
    ids = queue.enqueue_batch([sitq.Task(tasks.add, args=[i, i]) for i in range(50)] + [tasks.pid])
    assert len(ids) == 51 and ids == sorted(ids)
    res = run_all(queue, ids)
    assert [r.value for r in res[:50]] == [2 * i for i in range(50)]
    assert queue.enqueue_batch([]) == []
    with pytest.raises(sitq.InvalidArgumentError, match=r"tasks\[1\]"):
        queue.enqueue_batch([sitq.Task(tasks.add, [1, 2]), 5])
    with pytest.raises(sitq.InvalidArgumentError, match="tasks"):
        queue.enqueue_batch(sitq.Task(tasks.add, [1, 2]))
    with pytest.raises(sitq.DependencyError):
        queue.enqueue_batch([sitq.Task(tasks.add, [1, 2], depends_on=[10 ** 9])])
    assert queue.get_stats()["total"] == 51


def test_unique_key(queue):
    a = queue.enqueue(sitq.Task(tasks.add, args=[1, 1], unique_key="once"))
    b = queue.enqueue(sitq.Task(tasks.add, args=[2, 2], unique_key="once"))
    assert a == b


# ---------------------------------------------------------------- results

def test_get_result_timeout_is_a_timeout_error(queue):
    tid = queue.enqueue(tasks.add, 1, 2)
    t0 = time.monotonic()
    with pytest.raises(sitq.TaskTimeoutError) as ei:
        queue.get_result(tid, timeout=0.3)
    assert 0.25 <= time.monotonic() - t0 < 2
    e = ei.value
    assert isinstance(e, TimeoutError) and isinstance(e, concurrent.futures.TimeoutError)
    assert isinstance(e, sitq.SitqError) and e.task_id == tid and e.status == "queued"
    assert "did not finish" in str(e)
    with pytest.raises(sitq.TaskTimeoutError):
        queue.get_result(tid, timeout=0)


def test_get_result_errors(queue):
    with pytest.raises(sitq.TaskNotFoundError):
        queue.get_result(12345, timeout=1)
    with pytest.raises(sitq.InvalidArgumentError, match="task_id"):
        queue.get_result("1")
    with pytest.raises(sitq.InvalidArgumentError, match="task_id"):
        queue.get_result(0)
    tid = queue.enqueue(tasks.add, 1, 2)
    with pytest.raises(sitq.InvalidArgumentError, match="timeout"):
        queue.get_result(tid, timeout=-1)
    with pytest.raises(sitq.InvalidArgumentError, match="timeout"):
        queue.get_result(tid, timeout="1")


def test_result_fields(queue):
    tid = queue.enqueue(sitq.Task(tasks.add, args=[2, 3], priority=7))
    w = sitq.Worker(queue, worker_id="w-fields")
    r = w.process_task(tid)
    assert isinstance(r, sitq.Result)
    assert (r.value, r.is_success, r.is_error, r.is_finished) == (5, True, False, True)
    assert (r.status, r.task_id, r.id, r.attempts, r.priority) == ("succeeded", tid, tid, 1, 7)
    assert r.error is None and r.traceback is None
    assert r.function == "py:sitq_test_tasks.add" and r.queue == "default"
    assert r.worker_id == "w-fields"
    for t in (r.enqueued_at, r.started_at, r.finished_at):
        assert isinstance(t, datetime.datetime) and t.tzinfo == datetime.timezone.utc
    assert r.enqueued_at <= r.started_at <= r.finished_at
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - r.finished_at).total_seconds()) < 60
    assert r.duration >= 0
    assert "value=5" in repr(r) and "succeeded" in repr(r)
    assert r.unwrap() == 5
    again = queue.get_result(tid)
    assert again.value == 5


def test_results_pickle_with_their_stored_value(queue):
    # A Result pickles as its fields and its stored value's bytes (process
    # mode sends dependencies' Results so): equal fields, the value read
    # again on the other side, the failure re-raised with its own type.
    ok = queue.enqueue(sitq.Task(tasks.add, args=[2, 3], priority=7))
    bad = queue.enqueue(tasks.fail, "bad input")
    pending = queue.enqueue(tasks.add, 1, 1)
    w = sitq.Worker(queue, worker_id="w-pickle")
    results = [w.process_task(ok), w.process_task(bad), queue.peek(pending)]
    fields = ("task_id", "status", "priority", "attempts", "max_retries", "function", "queue",
              "worker_id", "unique_key", "depends_on", "enqueued_at", "started_at",
              "finished_at", "eta", "progress", "timeout", "error", "traceback",
              "cancel_requested", "is_error", "is_success", "is_finished")
    for r in results:
        c = pickle.loads(pickle.dumps(r))
        assert type(c) is sitq.Result
        assert [getattr(c, f) for f in fields] == [getattr(r, f) for f in fields]
    assert pickle.loads(pickle.dumps(results[0])).value == 5
    assert pickle.loads(pickle.dumps(results[2])).value is None
    with pytest.raises(ValueError, match="bad input"):
        pickle.loads(pickle.dumps(results[1])).unwrap()


def test_results_pickle_after_their_value_was_read(queue):
    # Reading .value drops the stored bytes (one copy of a large value): a
    # pickle made afterwards carries the value pickled again, not None.
    tid = queue.enqueue(tasks.add, 2, 3)
    w = sitq.Worker(queue)
    r = w.process_task(tid)
    assert r.value == 5
    c = pickle.loads(pickle.dumps(r))
    assert (c.value, c.status, c.unwrap()) == (5, "succeeded", 5)
    got = queue.get_result(tid)
    assert got.value == 5 and pickle.loads(pickle.dumps(got)).value == 5


def test_a_value_read_by_two_threads_at_once(queue):
    # The first read is held inside its unpickling (GatedState) while a
    # second read of the same Result completes: both get the one value, read
    # whole, not the bytes the second read let go of under the first.
    tid = queue.enqueue(tasks.gated_value)
    with sitq.Worker(queue):
        r = queue.get_result(tid, timeout=30)
    entered, release = threading.Event(), threading.Event()
    tasks.SETSTATE_GATE["first-reader"] = (entered, release)
    out = {}
    try:
        first = threading.Thread(target=lambda: out.setdefault("first", r.value),
                                 name="first-reader")
        first.start()
        assert entered.wait(30)
        out["second"] = r.value
    finally:
        release.set()
        first.join(30)
        tasks.SETSTATE_GATE.clear()
    assert out["first"] is out["second"]
    assert out["first"][1] == b"\x01" * 4_000_000
    assert out["first"][2] == list(range(1000))


@pytest.mark.parametrize("state", [
    None, (), ("x",) * 21,
    (1, 9, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0) + (None,) * 7 + ((), None),  # status 9
    (1, 4, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0) + (None,) * 7 + ([], None),  # a list of ids
    (1, 4, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0) + (None,) * 7 + ((), "v"),   # a str value
    (1, 4, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0) + (3,) + (None,) * 6 + ((), None),
])
def test_result_restore_refuses_a_state_it_did_not_write(state):
    with pytest.raises(sitq.InvalidArgumentError, match="Result's pickled state"):
        sitq._sitq._result_restore(state)


def test_peek_and_status_lifecycle(queue, tmp_path):
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    tid = queue.enqueue(sitq.Task(tasks.gated, args=[started, gate, "x"]))
    assert queue.get_task_status(tid) == "queued"
    p = queue.peek(tid)
    assert p.status == "queued" and p.value is None and not p.is_finished
    assert p.started_at is None and p.finished_at is None
    with sitq.Worker(queue):
        tasks.wait_for_path(started)         # the task runs until the gate opens
        assert queue.get_task_status(tid) == "running"
        tasks.open_gate(gate)
        assert queue.get_result(tid, timeout=30).value == "x"
    assert queue.get_task_status(tid) == "succeeded"
    with pytest.raises(sitq.TaskNotFoundError):
        queue.get_task_status(424242)
    with pytest.raises(sitq.InvalidArgumentError, match="task_id"):
        queue.get_task_status(None)


def test_failed_task_error_and_traceback(queue):
    tid = queue.enqueue(tasks.fail, "bad input")
    r = sitq.Worker(queue).process_task(tid)
    assert r.is_error and not r.is_success and r.status == "failed"
    assert r.value is None
    assert r.error == "ValueError: bad input"
    assert r.traceback.startswith("Traceback (most recent call last):")
    assert 'raise ValueError(message)' in r.traceback and "sitq_test_tasks.py" in r.traceback
    assert "error='ValueError: bad input'" in repr(r)
    # unwrap re-raises the task's own exception; the TaskFailedError is its cause
    with pytest.raises(ValueError, match="^bad input$") as ei:
        r.unwrap()
    assert not isinstance(ei.value, sitq.SitqError)
    cause = ei.value.__cause__
    assert isinstance(cause, sitq.TaskFailedError)
    assert cause.error == "ValueError: bad input" and cause.task_id == tid
    assert cause.remote_traceback == r.traceback


def test_unpicklable_exception_still_readable(queue):
    tid = queue.enqueue(tasks.raise_unpicklable)
    r = sitq.Worker(queue).process_task(tid)
    assert r.is_error
    assert r.error == "sitq_test_tasks.Unpicklable: cannot pickle me"
    assert "raise Unpicklable" in r.traceback


def test_exception_with_broken_str(queue):
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no str")

    def f():
        raise Weird()
    r = sitq.Worker(queue).process_task(queue.enqueue(f))
    assert r.is_error and "Weird" in r.error


def test_error_text_keeps_nul_and_lone_surrogates(queue):
    # The stored error is C text: a NUL cut it ("ValueError: a") and a lone
    # surrogate lost all of it ("Python exception (could not be formatted)").
    tids = [queue.enqueue(tasks.fail, "a\0b"), queue.enqueue(tasks.fail, "x\udcffy")]
    w = sitq.Worker(queue)
    nul, sur = (w.process_task(t) for t in tids)
    assert nul.error == "ValueError: a\\x00b"
    assert nul.traceback.rstrip().endswith("ValueError: a\\x00b")
    assert sur.error == "ValueError: x\\udcffy"
    assert "raise ValueError(message)" in sur.traceback


def test_cancel(queue):
    a = queue.enqueue(tasks.add, 1, 1)
    b = queue.enqueue(sitq.Task(tasks.add, args=[1, 1]), depends_on=[a])
    assert queue.cancel(a) == "cancelled"
    ra = queue.get_result(a, timeout=1)
    assert ra.is_error and ra.status == "cancelled"
    assert queue.get_result(b, timeout=1).status == "failed"   # its dependency was cancelled
    with pytest.raises(sitq.InvalidStateError):
        queue.cancel(a)
    with pytest.raises(sitq.TaskNotFoundError):
        queue.cancel(99999)
    with pytest.raises(sitq.InvalidArgumentError):
        queue.cancel("a")


def test_retry(queue, tmp_path):
    flag = tmp_path / "ok"

    def flaky():
        if not flag.exists():
            raise RuntimeError("not yet")
        return "done"
    w = sitq.Worker(queue)
    tid = queue.enqueue(flaky)
    assert w.process_task(tid).error == "RuntimeError: not yet"
    flag.write_text("1")
    queue.retry(tid)
    assert queue.get_task_status(tid) == "queued"
    r = w.process_task(tid)
    assert r.value == "done" and r.attempts == 1
    with pytest.raises(sitq.InvalidStateError):
        queue.retry(tid)
    with pytest.raises(sitq.TaskNotFoundError):
        queue.retry(777777)


def test_max_retries_with_backoff(queue, tmp_path):
    counter = str(tmp_path / "calls")

    def flaky():
        # the function is pickled: state must live outside it (here a file)
        with open(counter, "a") as f:
            f.write("x")
        n = len(open(counter).read())
        if n < 3:
            raise RuntimeError("attempt %d" % n)
        return n
    tid = queue.enqueue(sitq.Task(flaky, max_retries=3, retry_backoff=0.05,
                                  retry_backoff_max=0.1))
    with sitq.Worker(queue):
        r = queue.get_result(tid, timeout=10)
    assert r.value == 3 and r.attempts == 3 and r.max_retries == 3
    tid = queue.enqueue(sitq.Task(tasks.fail, max_retries=1, retry_backoff=0.01))
    with sitq.Worker(queue):
        r = queue.get_result(tid, timeout=10)
    assert r.is_error and r.attempts == 2


def test_get_stats_and_list_tasks(queue):
    ok = queue.enqueue(tasks.add, 1, 2)
    bad = queue.enqueue(tasks.fail)
    queued = queue.enqueue(tasks.add, 5, 5)
    w = sitq.Worker(queue)
    w.process_task(ok)
    w.process_task(bad)
    st = queue.get_stats()
    assert st == {"queued": 1, "waiting": 0, "scheduled": 0, "running": 0, "succeeded": 1,
                  "failed": 1, "cancelled": 0, "total": 3}
    assert set(st) == set(sitq.STATUSES) | {"total"}
    items = queue.list_tasks()
    assert [i["id"] for i in items] == [queued, bad, ok]             # newest first
    assert items[1]["status"] == "failed" and items[1]["error"] == "ValueError: boom"
    assert items[2]["function"] == "py:sitq_test_tasks.add"
    assert isinstance(items[2]["finished_at"], datetime.datetime)
    assert [i["id"] for i in queue.list_tasks(status="failed")] == [bad]
    assert len(queue.list_tasks(limit=1)) == 1
    assert [i["id"] for i in queue.list_tasks(limit=1, offset=1)] == [bad]
    # a list reports each task's dependencies, as get_result does
    after = queue.enqueue(sitq.Task(tasks.add, args=(1, 1), depends_on=[queued, ok]))
    listed = queue.list_tasks(limit=1)[0]
    assert listed["id"] == after and listed["depends_on"] == (queued, ok)
    assert queue.list_tasks(status="failed")[0]["depends_on"] == ()
    queue.cancel(after)
    # 'any' and 'all' are every status, as the sitq command's --status takes them
    everything = [i["id"] for i in queue.list_tasks()]
    assert [i["id"] for i in queue.list_tasks(status="any")] == everything
    assert [i["id"] for i in queue.list_tasks(status="all")] == everything
    assert [i["id"] for i in queue.list_tasks(status="ANY")] == everything  # as "FAILED"
    assert len(everything) == 4
    with pytest.raises(sitq.InvalidArgumentError, match="status"):
        queue.list_tasks(status="broken")
    with pytest.raises(sitq.InvalidArgumentError, match="limit"):
        queue.list_tasks(limit=0)
    with pytest.raises(sitq.InvalidArgumentError, match="offset"):
        queue.list_tasks(offset=-1)
    assert queue.purge(older_than=0) == 3
    assert queue.get_stats()["total"] == 1
    with pytest.raises(sitq.InvalidArgumentError, match="older_than"):
        queue.purge(older_than=-1)


def test_priority_and_delay(queue):
    low = queue.enqueue(sitq.Task(tasks.add, args=[0, 0], priority=0))
    high = queue.enqueue(sitq.Task(tasks.add, args=[0, 1], priority=10))
    later = queue.enqueue(sitq.Task(tasks.add, args=[0, 2], delay=0.6))
    eta = queue.enqueue(sitq.Task(tasks.add, args=[0, 3],
                                  eta=datetime.datetime.now(datetime.timezone.utc)
                                  + datetime.timedelta(seconds=0.6)))
    assert queue.get_task_status(later) == "scheduled"
    assert queue.get_task_status(eta) == "scheduled"
    t0 = time.monotonic()
    with sitq.Worker(queue, concurrency=1, prefetch=0):
        res = {t: queue.get_result(t, timeout=10) for t in (low, high, later, eta)}
    assert res[high].started_at <= res[low].started_at
    assert time.monotonic() - t0 >= 0.5
    assert res[later].started_at >= res[later].enqueued_at + datetime.timedelta(seconds=0.55)
    assert res[eta].value == 3


# ---------------------------------------------------------------- worker

@pytest.mark.parametrize("kwargs, word", [
    (dict(concurrency=0), "concurrency"),
    (dict(concurrency=2000), "concurrency"),
    (dict(concurrency="2"), "concurrency"),
    (dict(worker_id=""), "worker_id"),
    (dict(worker_id=7), "worker_id"),
    (dict(lease=0), "lease"),
    (dict(lease=-5), "lease"),
    (dict(poll_interval=0), "poll_interval"),
    (dict(prefetch=-1), "prefetch"),
    (dict(lease=3, heartbeat_interval=5), "heartbeat_interval"),
])
def test_worker_bad_arguments(queue, kwargs, word):
    with pytest.raises(sitq.InvalidArgumentError, match=word):
        sitq.Worker(queue, **kwargs)


def test_worker_needs_a_queue(backend):
    with pytest.raises(sitq.InvalidArgumentError, match="queue"):
        sitq.Worker(backend)


def test_worker_repr_escapes_its_id(queue):
    # an id is any text: its control characters must not reach a terminal
    w = sitq.Worker(queue, worker_id="w\x1b[2J\n")
    assert repr(w) == "<sitq.Worker id='w\\x1b[2J\\n' concurrency=1 stopped>"


def test_worker_start_stop_states(queue):
    w = sitq.Worker(queue, worker_id="w1", concurrency=3)
    assert (w.worker_id, w.concurrency, w.is_running, w.queue) == ("w1", 3, False, queue)
    w.stop()                       # stopping a stopped worker is fine
    w.start()
    assert w.is_running and repr(w) == "<sitq.Worker id='w1' concurrency=3 running>"
    with pytest.raises(sitq.InvalidStateError):
        w.start()
    tid = queue.enqueue(tasks.add, 2, 2)
    assert queue.get_result(tid, timeout=5).value == 4
    w.stop()
    assert not w.is_running
    w.start()                      # restartable
    tid = queue.enqueue(tasks.add, 3, 3)
    assert queue.get_result(tid, timeout=5).value == 6
    w.stop()
    st = w.stats()
    assert st["succeeded"] == 2 and st["running"] == 0 and st["claimed"] >= 2
    with pytest.raises(sitq.InvalidArgumentError, match="timeout"):
        w.stop(timeout=-3)


def test_worker_context_manager(queue):
    tid = queue.enqueue(tasks.add, 20, 22)
    with sitq.Worker(queue) as w:
        assert w.is_running
        assert queue.get_result(tid, timeout=5).value == 42
    assert not w.is_running


def test_worker_stop_waits_for_running_task(queue, tmp_path):
    # The task signals its start, then runs until the test opens its gate:
    # stop() must not return while it runs ("running" in the database only
    # means claimed, so the test waits for the task's own sign instead).
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    tid = queue.enqueue(tasks.gated, started, gate, "finished")
    w = sitq.Worker(queue)
    w.start()
    tasks.wait_for_path(started)
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    stopper.join(0.2)                # no barrier: stop() cannot end while the gate is shut
    assert stopper.is_alive()
    tasks.open_gate(gate)
    stopper.join(30)
    assert not stopper.is_alive()
    r = queue.get_result(tid, timeout=0)
    assert r.value == "finished"


def test_worker_stop_from_its_own_task_is_refused(queue):
    # The stop would wait for the task that asks for it: refused at once
    # (InvalidStateError), with or without a time limit, and the worker runs
    # on until stopped from another thread.
    w = sitq.Worker(queue, concurrency=2)
    tasks.WORKERS["w"] = w
    try:
        w.start()
        for timeout in (None, 1):
            tid = queue.enqueue(tasks.stop_own_worker, timeout)
            r = queue.get_result(tid, timeout=30)
            assert r.status == "succeeded"
            assert r.value.startswith("refused: ")
            assert "called from one of its own tasks" in r.value
        assert w.is_running
        assert queue.get_result(queue.enqueue(tasks.add, 2, 2), timeout=30).value == 4
        w.stop(timeout=30)
        assert not w.is_running
    finally:
        tasks.WORKERS.clear()


def test_worker_run_from_its_own_task_is_refused(queue):
    # run() would block its own task until the worker stops, which waits for
    # that task: refused at once, as stop() is.
    w = sitq.Worker(queue, concurrency=2)
    tasks.WORKERS["w"] = w
    try:
        w.start()
        r = queue.get_result(queue.enqueue(tasks.run_own_worker), timeout=30)
        assert r.value.startswith("refused: Worker.run() was called from one of the worker's own")
        w.stop(timeout=30)
        assert not w.is_running
    finally:
        tasks.WORKERS.clear()


def test_a_worker_dropped_by_its_own_task(db_path):
    # The worker's stop timed out and its owner let it go; the last
    # references to it, its queue and backend then go inside its own task.
    # The worker is stopped and freed from another thread, and only then its
    # queue closed, not under its dispatcher: the task, which waits for
    # that, is recorded as abandoned.
    queue = sitq.TaskQueue(open_backend(db_path))
    w = sitq.Worker(queue, concurrency=2)
    tasks.EVENTS.update(entered=threading.Event(), release=threading.Event(),
                        queue_freed=threading.Event())
    tid = queue.enqueue(tasks.drop_own_worker)
    tasks.WORKERS.update(w=w, queue_ref=weakref.ref(queue))
    weakref.finalize(queue, tasks.EVENTS["queue_freed"].set)
    w.start()
    try:
        assert tasks.EVENTS["entered"].wait(30)
        with pytest.raises(sitq.TaskTimeoutError):
            w.stop(timeout=0.05)
        del w, queue
        tasks.EVENTS["release"].set()
        other = sitq.TaskQueue(open_backend(db_path))
        r = other.get_result(tid, timeout=30)
        assert r.status == "failed" and r.error.startswith("abandoned: still running"), r
        assert [x.state for x in other.workers(all=True)] == ["stopped"]
    finally:
        tasks.EVENTS["release"].set()
        tasks.WORKERS.clear()
        tasks.EVENTS.clear()


def test_worker_run_until_stopped_from_another_thread(queue):
    w = sitq.Worker(queue)
    tid = queue.enqueue(tasks.add, 1, 1)
    seen = []

    def stop_after_result():
        try:
            seen.append(queue.get_result(tid, timeout=30).value)
        finally:
            w.stop()

    stopper = threading.Thread(target=stop_after_result)
    stopper.start()
    w.run()                        # returns once stop() is called
    stopper.join(30)
    assert seen == [2]
    assert not w.is_running


def test_process_task_errors(queue):
    w = sitq.Worker(queue)
    a = queue.enqueue(tasks.add, 1, 1)
    b = queue.enqueue(sitq.Task(tasks.add, args=[1, 1]), depends_on=[a])
    with pytest.raises(sitq.TaskNotReadyError):
        w.process_task(b)          # waiting for a
    assert w.process_task(a).value == 2
    with pytest.raises(sitq.TaskNotReadyError):
        w.process_task(a)          # finished
    assert w.process_task(b).value == 2
    with pytest.raises(sitq.TaskNotFoundError):
        w.process_task(10 ** 6)
    with pytest.raises(sitq.InvalidArgumentError, match="task_id"):
        w.process_task("x")
    later = queue.enqueue(sitq.Task(tasks.add, [1, 2], delay=60))
    with pytest.raises(sitq.TaskNotReadyError):
        w.process_task(later)


def _sitq_command():
    import os
    import shutil
    build = os.environ.get("SITQ_BUILD_DIR")
    cands = [os.path.join(build, "sitq")] if build else []
    cands += [os.path.join(os.path.dirname(sitq.__file__), "..", "..", "sitq"), shutil.which("sitq")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.skip("the sitq command was not found (set SITQ_BUILD_DIR)")


def test_sitq_list_shows_readable_python_names(db_path, queue):
    import subprocess

    class Pipeline:
        def __init__(self):
            self.queue = queue

        def extract_data(self):
            return 1
    queue.enqueue(sitq.Task(function=Pipeline().extract_data))
    queue.enqueue(tasks.add, 1, 2)
    out = subprocess.run([_sitq_command(), "list", db_path], capture_output=True, text=True,
                         check=True).stdout
    assert "py:sitq_test_tasks.add" in out
    assert "py:test_api.test_sitq_list_shows_readable" in out
    import json
    js = subprocess.run([_sitq_command(), "list", db_path, "--json"], capture_output=True,
                        text=True, check=True).stdout
    names = [t.get("function") for t in json.loads(js)]
    assert ("py:test_api.test_sitq_list_shows_readable_python_names.<locals>.Pipeline."
            "extract_data") in names


def test_shell_task_of_the_sitq_command_has_no_python_handler(db_path, queue):
    import subprocess
    out = subprocess.run([_sitq_command(), "enqueue", db_path, "--", "true"],
                         capture_output=True, text=True, check=True).stdout
    tid = int(out.split()[0])
    with pytest.raises(sitq.NoHandlerError):
        sitq.Worker(queue).process_task(tid)
    assert queue.get_task_status(tid) == "queued"


def test_a_shell_task_value_is_its_stored_bytes(db_path, queue):
    # A task that is not a Python function's (here a shell command of the
    # sitq command) stores bytes that are no pickle: .value gives them as
    # they are, also as a result_of value of a Python dependent.
    import subprocess
    out = subprocess.run([_sitq_command(), "enqueue", db_path, "--", "echo", "hello"],
                         capture_output=True, text=True, check=True).stdout
    tid = int(out.split()[0])
    child = queue.enqueue(sitq.Task(tasks.echo, args=[sitq.result_of(tid)]))
    subprocess.run([_sitq_command(), "worker", db_path, "--burst", "--quiet"], check=True,
                   timeout=60)
    r = queue.get_result(tid, timeout=30)
    assert r.function != "" and not r.function.startswith("py:")
    assert r.value == b"hello\n" and r.unwrap() == b"hello\n"
    assert sitq.Worker(queue).process_task(child).value == ((b"hello\n",), {})


# ---------------------------------------------------------------- functions

def test_lambdas_closures_and_partials(queue):
    k = 10
    ids = [queue.enqueue(lambda x: x + k, 1),
           queue.enqueue(functools.partial(tasks.add, 100), 5),
           queue.enqueue(sorted, [3, 1, 2])]
    res = run_all(queue, ids)
    assert [r.value for r in res] == [11, 105, [1, 2, 3]]


def test_unpicklable_callable_runs_in_process(backend, queue):
    class Holder:                              # holds a queue: cannot be pickled
        def __init__(self):
            self.queue = queue
            self.worker = sitq.Worker(queue)

        def work(self, x):
            return x * 3
    h = Holder()
    before = sitq.held_functions()
    tid = queue.enqueue(sitq.Task(function=h.work, args=[7]))
    assert sitq.held_functions() == before + 1
    assert queue.list_tasks()[0]["function"].endswith("Holder.work")
    assert h.worker.process_task(tid).value == 21
    assert sitq.held_functions() == before     # released once the task succeeded


def test_unpicklable_arguments_run_in_process(queue):
    lock = threading.Lock()
    tid = queue.enqueue(lambda lk: lk.locked(), lock)
    assert sitq.Worker(queue).process_task(tid).value is False


def test_async_function(queue):
    async def coro(x):
        return x + 1
    tid = queue.enqueue(coro, 1)
    assert sitq.Worker(queue).process_task(tid).value == 2


# ---------------------------------------------------------------- values

def test_none_nan_and_rich_values(queue):
    import numpy as np
    import pandas as pd
    w = sitq.Worker(queue)
    r = w.process_task(queue.enqueue(lambda: None))
    assert r.is_success and r.value is None
    r = w.process_task(queue.enqueue(lambda: float("nan")))
    assert r.is_success and math.isnan(r.value)
    r = w.process_task(queue.enqueue(lambda: {"inf": float("inf"), "t": (1, "a", b"\0")}))
    assert r.value == {"inf": float("inf"), "t": (1, "a", b"\0")}
    r = w.process_task(queue.enqueue(lambda a: a * 2, np.arange(5)))
    assert list(r.value) == [0, 2, 4, 6, 8]
    df = pd.DataFrame({"a": [1, 2], "b": [float("nan"), 1.5]})
    r = w.process_task(queue.enqueue(lambda d: d.fillna(0), df))
    assert r.value["b"].tolist() == [0.0, 1.5]


def test_large_result_100_mb(queue):
    size = 100 * 1024 * 1024
    tid = queue.enqueue(sitq.Task(lambda n: b"x" * n, args=[size]))
    r = sitq.Worker(queue).process_task(tid)
    assert r.is_success
    # repr shows the repr the worker stored: it does not unpickle 100 MB
    assert "value=b'xxxxxxxxxx" in repr(r) and len(repr(r)) < 300
    v = r.value
    assert isinstance(v, bytes) and len(v) == size and v[:3] == b"xxx"
    del v, r
    r = queue.get_result(tid, timeout=5)
    assert len(r.value) == size


def test_large_argument(queue):
    data = list(range(2_000_000))
    tid = queue.enqueue(len, data)
    assert sitq.Worker(queue).process_task(tid).value == 2_000_000


def test_unpicklable_result_fails_the_task_readably(queue):
    tid = queue.enqueue(lambda: threading.Lock())
    r = sitq.Worker(queue).process_task(tid)
    assert r.is_error and r.value is None
    assert "cannot be pickled" in r.error and "lock" in r.error


def test_result_that_cannot_be_unpickled_here(queue):
    # a value whose class disappears from its module before it is read
    import types
    import sys
    mod = types.ModuleType("sitq_vanishing")
    exec("class Thing:\n    pass\n", mod.__dict__)
    sys.modules["sitq_vanishing"] = mod
    try:
        tid = queue.enqueue(sitq.Task(pickle.loads, args=[pickle.dumps(mod.Thing())]))
        r = sitq.Worker(queue).process_task(tid)
        assert r.is_success
    finally:
        del sys.modules["sitq_vanishing"]
    r = queue.get_result(tid)
    with pytest.raises(sitq.SerializationError, match="cannot unpickle"):
        r.value


# ---------------------------------------------------------------- errors

def test_exception_hierarchy():
    classes = [sitq.InvalidArgumentError, sitq.TaskNotFoundError, sitq.InvalidStateError,
               sitq.TaskTimeoutError, sitq.DependencyError, sitq.TaskNotReadyError,
               sitq.LeaseLostError, sitq.StorageError, sitq.SchemaError, sitq.NoHandlerError,
               sitq.SitqSystemError, sitq.SerializationError, sitq.TaskFailedError]
    for cls in classes:
        assert issubclass(cls, sitq.SitqError)
    assert issubclass(sitq.TaskTimeoutError, TimeoutError)
    assert issubclass(sitq.InvalidArgumentError, (ValueError, TypeError))
    assert issubclass(sitq.SchemaError, sitq.StorageError)
    e = pickle.loads(pickle.dumps(sitq.TaskNotFoundError("gone", "SITQ_ENOTFOUND")))
    assert str(e) == "gone" and e.code == "SITQ_ENOTFOUND"


def test_docstrings_everywhere():
    for obj in (sitq, sitq.SQLiteBackend, sitq.TaskQueue, sitq.Worker, sitq.Task, sitq.Result):
        assert obj.__doc__ and len(obj.__doc__) > 40, obj
    for cls in (sitq.TaskQueue, sitq.Worker):
        for name in dir(cls):
            if not name.startswith("_"):
                assert getattr(cls, name).__doc__, (cls, name)
    for name in ("value", "is_error", "traceback", "enqueued_at", "attempts"):
        assert getattr(sitq.Result, name).__doc__


def test_a_task_chooses_its_retry(queue):
    # sitq.NoRetry fails the task for good with retries left; sitq.Retry(delay)
    # retries after its own delay instead of the backoff (retries counted).
    never = queue.enqueue(sitq.Task(tasks.no_retry, args=["x1"], max_retries=3))
    with sitq.Worker(queue, concurrency=2):  # on the worker's threads
        r = queue.get_result(never, timeout=30)
    later = queue.enqueue(sitq.Task(tasks.retry_later, args=[3600], max_retries=3,
                                    retry_backoff=0.01))
    policy = queue.enqueue(sitq.Task(tasks.retry_later, args=[None], max_retries=1,
                                     retry_backoff=1000))
    assert r.status == "failed" and r.attempts == 1, r
    assert r.error == "sitq.errors.NoRetry: bad input: x1", r.error
    assert "ValueError: invalid literal for int()" in r.traceback  # the cause is kept
    w = sitq.Worker(queue)  # process_task: each outcome recorded when it returns
    before = time.time()
    info = w.process_task(later)
    after = time.time()
    assert info.status == "scheduled" and info.attempts == 1, info
    assert info.error == "sitq.errors.Retry: retry in 3600 s", info
    assert before + 3600 <= info.eta.timestamp() <= after + 3600
    info = w.process_task(policy)  # delay None: the task's backoff, 1000 s
    assert info.status == "scheduled" and info.error == "sitq.errors.Retry: retry", info
    assert before + 900 <= info.eta.timestamp() <= time.time() + 1100
    totals = queue.totals()
    assert (totals["failed"], totals["retried"]) == (1, 2), totals
    # a bad delay is refused when the exception is made
    for bad in (-1, float("nan"), float("inf"), "5", True):
        with pytest.raises(sitq.InvalidArgumentError, match="delay"):
            sitq.Retry(bad)
    assert pickle.loads(pickle.dumps(sitq.Retry(5, "m"))).delay == 5
    back = pickle.loads(pickle.dumps(tasks.Throttled("api")))  # a subclass, __init__ its own
    assert type(back) is tasks.Throttled and back.service == "api"
    assert str(back) == "throttled by api"
