"""Bad arguments of the Python API raise a sitq exception (InvalidArgumentError,
a ValueError) naming the Python argument: never OverflowError,
UnicodeEncodeError, a silently accepted value, or a refusal at enqueue that
names a C option."""
import datetime
import os
import time

import pytest

import sitq
import sitq_test_tasks as tasks

HUGE = 10 ** 30
LONE = "bad\udc80name"          # a lone surrogate: str, but not encodable UTF-8


def refused(word, call, *args, **kwargs):
    with pytest.raises(sitq.InvalidArgumentError, match=word) as ei:
        call(*args, **kwargs)
    assert ei.value.code == "SITQ_EINVAL"
    assert "options." not in ei.value.message and "_s " not in ei.value.message
    return ei.value


# ---------------------------------------------------------------- Task

@pytest.mark.parametrize("name", ["delay", "timeout", "retry_backoff", "retry_backoff_max"])
@pytest.mark.parametrize("value", [1e20, float("inf"), float("nan"), -1.0])
def test_task_seconds_out_of_range_refused_at_construction(name, value):
    e = refused(r"\b%s must be a finite number of seconds 0\.\.3155760000" % name,
                sitq.Task, tasks.add, **{name: value})
    assert name in e.message


def test_task_seconds_at_the_limit_are_accepted(queue):
    t = sitq.Task(tasks.add, args=[1, 2], delay=sitq_seconds_max(), timeout=sitq_seconds_max(),
                  retry_backoff=sitq_seconds_max(), retry_backoff_max=sitq_seconds_max())
    tid = queue.enqueue(t)
    assert queue.get_task_status(tid) == "scheduled"


def sitq_seconds_max():
    return 100 * 365.25 * 86400


@pytest.mark.parametrize("eta", [time.time() + 101 * 365.25 * 86400, 253402300800, 1e13,
                                 float("inf")])
def test_task_eta_beyond_100_years_refused(eta):
    refused(r"\beta must be a time after 1970 and at most 100 years from now", sitq.Task,
            tasks.add, eta=eta)


@pytest.mark.parametrize("eta", [datetime.datetime.min, datetime.datetime.max])
def test_task_eta_datetime_without_timestamp_refused(eta):
    refused(r"\beta must be a time after 1970", sitq.Task, tasks.add, eta=eta)


def test_task_eta_99_years_ahead_round_trips(queue):
    year = datetime.datetime.now(datetime.timezone.utc).year + 99
    eta = datetime.datetime(year, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    tid = queue.enqueue(sitq.Task(tasks.add, args=[1, 2], eta=eta))
    r = queue.peek(tid)
    assert r.status == "scheduled" and r.eta == eta


def test_task_unique_key_with_lone_surrogate():
    refused(r"unique_key must be text that UTF-8 can encode", sitq.Task, tasks.add,
            unique_key=LONE)


def test_function_name_with_lone_surrogate_is_replaced(queue, worker):
    def f():
        return "ran"
    f.__qualname__ = LONE
    t = sitq.Task(f)
    assert t.name.endswith("bad?name")
    tid = queue.enqueue(t)
    worker.start()
    assert queue.get_result(tid, timeout=30).value == "ran"


# ---------------------------------------------------------------- backend

def test_backend_connection_pool_size_huge(tmp_path):
    refused(r"connection_pool_size .* must be 0\.\.64, got 1000", sitq.SQLiteBackend,
            str(tmp_path / "a.db"), connection_pool_size=HUGE)


@pytest.mark.parametrize("value", ["yes", "no", 1, 0, None, 1.0])
def test_backend_enable_wal_takes_booleans_only(tmp_path, value):
    refused(r"enable_wal must be True or False", sitq.SQLiteBackend, str(tmp_path / "a.db"),
            enable_wal=value)
    assert not os.path.exists(tmp_path / "a.db")


def test_backend_enable_wal_false_still_works(tmp_path):
    q = sitq.TaskQueue(backend=sitq.SQLiteBackend(str(tmp_path / "a.db"), enable_wal=False))
    q.enqueue(tasks.add, 1, 2)
    assert not os.path.exists(tmp_path / "a.db-wal")


@pytest.mark.parametrize("value", [HUGE, -HUGE])
def test_backend_synchronous_huge_int(tmp_path, value):
    refused(r"synchronous .* must be 0\.\.3", sitq.SQLiteBackend, str(tmp_path / "a.db"),
            synchronous=value)


def test_backend_synchronous_lone_surrogate(tmp_path):
    refused(r"synchronous must be text", sitq.SQLiteBackend, str(tmp_path / "a.db"),
            synchronous=LONE)


def test_backend_path_not_encodable(tmp_path):
    refused(r"path must be a file name the filesystem encoding can encode",
            sitq.SQLiteBackend, str(tmp_path / "x\ud800.db"))


def test_backend_path_that_is_not_utf8_opens_that_file(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.db"        # not UTF-8
    b = sitq.SQLiteBackend(os.fsdecode(raw))                  # surrogate-escaped str
    sitq.TaskQueue(backend=b).enqueue(tasks.add, 1, 2)
    assert os.path.exists(raw)
    assert b.path == os.fsdecode(raw)
    b2 = sitq.SQLiteBackend(raw)                              # bytes name the same file
    assert sitq.TaskQueue(backend=b2).get_stats()["total"] == 1


# ---------------------------------------------------------------- queue

def test_queue_name_with_lone_surrogate(backend):
    refused(r"\bname must be text that UTF-8 can encode", sitq.TaskQueue, backend=backend,
            name=LONE)


def test_list_tasks_status_with_lone_surrogate(queue):
    refused(r"status must be text", queue.list_tasks, status=LONE)


def test_enqueue_unexpected_keyword_with_lone_surrogate(queue):
    refused(r"unexpected keyword argument '", queue.enqueue, sitq.Task(tasks.add, [1, 2]),
            **{LONE: 1})


@pytest.mark.parametrize("call", ["get_result", "purge"])
def test_queue_seconds_out_of_range(queue, call):
    tid = queue.enqueue(tasks.add, 1, 2)
    if call == "get_result":
        refused(r"\btimeout must be a finite number of seconds 0\.\.3155760000",
                queue.get_result, tid, timeout=1e20)
    else:
        refused(r"\bolder_than must be a finite number of seconds 0\.\.3155760000",
                queue.purge, older_than=1e20)


# ---------------------------------------------------------------- worker

def test_worker_id_with_lone_surrogate(queue):
    refused(r"worker_id must be text that UTF-8 can encode", sitq.Worker, queue,
            worker_id=LONE)


@pytest.mark.parametrize("kwargs, word", [
    (dict(lease=0.01), r"\blease must be 0\.05\.\.604800"),
    (dict(lease=1e7), r"\blease must be 0\.05\.\.604800"),
    (dict(lease=1e20), r"\blease must be a finite number"),
    (dict(poll_interval=1e-6), r"\bpoll_interval must be 0\.0001\.\.3600"),
    (dict(poll_interval=7200), r"\bpoll_interval must be 0\.0001\.\.3600"),
    (dict(heartbeat_interval=1e20), r"\bheartbeat_interval must be"),
    (dict(prefetch=HUGE), r"\bprefetch must be 0\.\.65536"),
    (dict(concurrency=-HUGE), r"\bconcurrency must be 1\.\.1024"),
])
def test_worker_options_out_of_range_name_the_python_argument(queue, kwargs, word):
    refused(word, sitq.Worker, queue, **kwargs)


@pytest.mark.parametrize("value", ["no", "false", 0, 1, None])
def test_flags_take_booleans_only(queue, value, tmp_path):
    # A truthy "no" must not mean True: Worker(retention="no") kept
    # purging, workers(all="no") listed every worker, run(until_empty="no")
    # returned once the queue was empty.
    refused(r"\bretention must be True or False", sitq.Worker, queue, retention=value)
    refused(r"\ball must be True or False", queue.workers, all=value)
    w = sitq.Worker(queue)
    refused(r"\buntil_empty must be True or False", w.run, until_empty=value)
    assert not w.is_running
    refused(r"\ballow_foreign must be True or False", sitq.SQLiteBackend,
            str(tmp_path / "a.db"), allow_foreign=value)
    assert not os.path.exists(tmp_path / "a.db")


def test_flags_still_take_booleans(queue):
    tid = queue.enqueue(tasks.add, 1, 2)
    w = sitq.Worker(queue, retention=False)
    w.run(until_empty=True)
    assert queue.get_result(tid, timeout=10).value == 3
    assert [(i.id, i.succeeded) for i in queue.workers(all=True)] == [(w.worker_id, 1)]
    assert queue.workers(all=False) == []


def test_worker_stop_timeout_out_of_range(queue):
    w = sitq.Worker(queue)
    refused(r"\btimeout must be a finite number of seconds 0\.\.3155760000", w.stop,
            timeout=1e20)


# ---------------------------------------------------------------- NUL inside a name

def test_nul_in_a_name_is_refused_not_cut_short(queue):
    """A NUL would end the text on the C side: "nightly\\0x" acting on the
    schedule "nightly", "queued\\0x" listing queued tasks."""
    queue.schedule(tasks.add, args=[1, 2], cron="0 3 * * *", name="nightly")
    refused(r"\bname must not contain NUL", queue.pause_schedule, "nightly\x00other")
    refused(r"\bname must not contain NUL", queue.unschedule, "nightly\x00other")
    for call in (queue.unschedule, queue.pause_schedule, queue.resume_schedule):
        for bad in (b"nightly", 5, None):
            refused(r"\bname must be a str, got", call, bad)
    assert [(s["name"], s["paused"]) for s in queue.schedules()] == [("nightly", False)]
    queue.enqueue(tasks.add, 1, 2)
    refused(r"\bstatus must not contain NUL", queue.list_tasks, status="queued\x00x")
    refused(r"\brate must not contain NUL", queue.set_limit, tasks.add, rate="10/s\x00x")
    refused(r"\brate must be a str", queue.set_limit, tasks.add, rate=10)
    assert queue.limits() == []
    refused(r"\border must be 'priority' or 'round-robin', got 'priority\\x00zz'",
            sitq.Worker, [queue], order="priority\x00zz")


def test_nul_in_backend_options_is_refused(tmp_path):
    refused(r"\bsynchronous must not contain NUL", sitq.SQLiteBackend,
            str(tmp_path / "a.db"), synchronous="normal\x00zzz")
    assert not os.path.exists(tmp_path / "a.db")
    if hasattr(sitq, "PostgresBackend"):
        # Refused before any connection: the address is never dialled.
        refused(r"\bschema must not contain NUL", sitq.PostgresBackend,
                "postgresql://nobody@127.0.0.1:1/none", schema="nul\x00evil")


@pytest.mark.skipif(not hasattr(sitq, "PostgresBackend"), reason="built without PostgreSQL")
def test_password_hidden_in_a_uri_libpq_cannot_parse():
    """libpq quotes such a URI whole; nothing is dialled (the parse fails)."""
    with pytest.raises(sitq.StorageError) as ei:
        sitq.PostgresBackend("postgresql://u:Secr3tPw@[zz/x")
    assert "u:***@" in str(ei.value) and "Secr3tPw" not in str(ei.value)
