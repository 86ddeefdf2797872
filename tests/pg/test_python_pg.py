"""sitq.PostgresBackend: the Python binding on a PostgreSQL schema, with the
same queue and worker as SQLiteBackend. Run under tests/pg/with_pg.sh
(SITQ_TEST_PG_URI); each test uses its own schema."""
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest

import sitq


def add(a, b):
    return a + b


def boom():
    raise ValueError("nope")


@pytest.fixture
def backend():
    b = sitq.PostgresBackend(os.environ["SITQ_TEST_PG_URI"],
                             schema="py_" + uuid.uuid4().hex[:12])
    yield b


def test_round_trip_and_failure(backend):
    q = sitq.TaskQueue(backend=backend)
    ok = q.enqueue(sitq.Task(function=add, args=[2, 3]))
    bad = q.enqueue(sitq.Task(function=boom))
    with sitq.Worker(q, concurrency=2):
        r = q.get_result(ok, timeout=20)
        assert r.status == "succeeded"
        assert r.value == 5
        r = q.get_result(bad, timeout=20)
        assert r.status == "failed"
        assert "ValueError: nope" in r.error


def test_missing_schema_and_bad_arguments():
    dsn = os.environ["SITQ_TEST_PG_URI"]
    with pytest.raises(sitq.SchemaError, match="create_schema"):
        sitq.PostgresBackend(dsn, schema="py_missing", create_schema=False)
    with pytest.raises(sitq.InvalidArgumentError, match="schema"):
        sitq.PostgresBackend(dsn, schema="no-dashes")
    with pytest.raises(sitq.InvalidArgumentError, match="create_schema"):
        sitq.PostgresBackend(dsn, create_schema="yes")
    with pytest.raises(sitq.StorageError, match="connect"):
        sitq.PostgresBackend("postgresql://postgres@127.0.0.1:1/postgres", connect_timeout=2)


def test_dsn_names_the_schema():
    dsn = os.environ["SITQ_TEST_PG_URI"] + "?sitq_schema=py_dsn_" + uuid.uuid4().hex[:8]
    q = sitq.TaskQueue(backend=sitq.PostgresBackend(dsn))
    tid = q.enqueue(sitq.Task(function=add, args=[1, 1]))
    # the same schema again, by the dsn alone or with schema= agreeing
    schema = dsn.rsplit("=", 1)[1]
    for b in (sitq.PostgresBackend(dsn, create_schema=False),
              sitq.PostgresBackend(dsn, schema=schema, create_schema=False)):
        assert sitq.TaskQueue(backend=b).peek(tid).status == "queued"
    with pytest.raises(sitq.InvalidArgumentError, match="differ"):
        sitq.PostgresBackend(dsn, schema="py_other")


def test_path_and_repr_hide_the_password():
    # The cluster trusts the role, so any password opens it; none may show.
    from urllib.parse import urlsplit
    u = urlsplit(os.environ["SITQ_TEST_PG_URI"])
    schema = "py_pw_" + uuid.uuid4().hex[:8]
    secret = "Zq9-secret"
    cases = [
        (f"postgresql://{u.username}:{secret}@{u.netloc.split('@')[1]}{u.path}"
         f"?sitq_schema={schema}",
         f"postgresql://{u.username}:***@{u.netloc.split('@')[1]}{u.path}"
         f"?sitq_schema={schema}"),
        (f"postgres://{u.username}:{secret}@{u.netloc.split('@')[1]}{u.path}"
         f"?password={secret}&sitq_schema={schema}&application_name=x",
         f"postgres://{u.username}:***@{u.netloc.split('@')[1]}{u.path}"
         f"?password=***&sitq_schema={schema}&application_name=x"),
        (f"host={u.hostname} port={u.port} user={u.username} "
         f"password = '{secret} \\' q' dbname={u.path[1:]}",
         f"host={u.hostname} port={u.port} user={u.username} "
         f"password = *** dbname={u.path[1:]}"),
        (f"password={secret} host={u.hostname} port={u.port} user={u.username} "
         f"dbname={u.path[1:]}",
         f"password=*** host={u.hostname} port={u.port} user={u.username} "
         f"dbname={u.path[1:]}"),
    ]
    for dsn, shown in cases:
        b = sitq.PostgresBackend(dsn, schema=schema)
        assert b.path == shown
        assert repr(b) == f"<sitq.PostgresBackend path={shown!r}>"
        assert secret not in b.path and secret not in repr(b)
        q = sitq.TaskQueue(backend=b)  # it is the database it names
        q.enqueue(sitq.Task(function=add, args=[1, 2]))
    # Without a password, the string is shown as given.
    plain = os.environ["SITQ_TEST_PG_URI"]
    b = sitq.PostgresBackend(plain, schema=schema)
    assert b.path == plain
    assert sitq.TaskQueue(backend=b).get_stats()["total"] == len(cases)


def _session_pids(app):
    """The server processes of the sessions named app."""
    psql = os.path.join(os.environ.get("SITQ_TEST_PGBIN", "/usr/bin"), "psql")
    out = subprocess.run([psql, os.environ["SITQ_TEST_PG_URI"], "-AtX", "-c",
                          "SELECT pid FROM pg_stat_activity WHERE application_name = '%s'" % app],
                         check=True, capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in out]


def _signal_sessions(app, sig):
    """Send sig to the server processes of the sessions named app."""
    pids = _session_pids(app)
    for pid in pids:
        os.kill(pid, sig)
    return len(pids)


def test_poll_only_keyword():
    # poll_only=True (PgBouncer in transaction mode): a get_result wait polls
    # and never opens the LISTEN connection, yet sees another backend's
    # cancel; with the default it listens. A non-bool is refused.
    with pytest.raises(sitq.InvalidArgumentError, match="poll_only must be True or False"):
        sitq.PostgresBackend(os.environ["SITQ_TEST_PG_URI"], poll_only="yes")
    admin = ["psql", "-X", "-qAt", os.environ["SITQ_TEST_PG_URI"], "-c"]
    for poll_only in (True, False):
        app = "sitq_py_poll_" + uuid.uuid4().hex[:8]
        dsn = os.environ["SITQ_TEST_PG_URI"] + "?application_name=" + app
        schema = "py_" + uuid.uuid4().hex[:12]
        q = sitq.TaskQueue(backend=sitq.PostgresBackend(dsn, schema=schema, poll_only=poll_only))
        tid = q.enqueue(sitq.Task(function=add, args=[1, 2], delay=3600))
        with pytest.raises(sitq.TaskTimeoutError):
            q.get_result(tid, timeout=0.5)
        listening = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' "
                     "AND query LIKE 'LISTEN%%'" % app)
        deadline = time.monotonic() + 20
        while True:
            n = subprocess.run(admin + [listening], capture_output=True, text=True,
                               check=True).stdout.strip()
            if poll_only or n != "0" or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert n == ("0" if poll_only else "1"), (poll_only, n)
        other = sitq.TaskQueue(backend=sitq.PostgresBackend(os.environ["SITQ_TEST_PG_URI"],
                                                            schema=schema))
        threading.Timer(0.3, other.cancel, args=[tid]).start()
        assert _outcome(q, tid) == "cancelled"


def test_writes_after_the_server_ended_idle_sessions():
    # The server ended every session of this backend while it was idle (a
    # restart, a failover): the next writes reconnect first; they failed,
    # an enqueue saying it "may or may not have been committed".
    app = "sitq_py_ended_" + uuid.uuid4().hex[:8]
    dsn = os.environ["SITQ_TEST_PG_URI"] + "?application_name=" + app
    q = sitq.TaskQueue(backend=sitq.PostgresBackend(dsn, schema="py_" + uuid.uuid4().hex[:12]))
    first = q.enqueue(sitq.Task(function=add, args=[1, 2]))
    assert q.get_task_status(first) == "queued"
    admin = ["psql", "-X", "-qAt", os.environ["SITQ_TEST_PG_URI"], "-c"]
    for _ in range(2):
        ended = subprocess.run(admin + ["SELECT count(pg_terminate_backend(pid)) FROM "
                                        "pg_stat_activity WHERE application_name = '%s'" % app],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert int(ended) >= 1
        deadline = time.monotonic() + 20
        while subprocess.run(admin + ["SELECT count(*) FROM pg_stat_activity WHERE "
                                      "application_name = '%s'" % app],
                             capture_output=True, text=True, check=True).stdout.strip() != "0":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = q.enqueue(sitq.Task(function=add, args=[3, 4]))
        assert q.cancel(second) == "cancelled"
    assert q.get_stats()["total"] == 3


def test_get_result_rides_out_a_lost_connection():
    # Every session of this backend is ended by the server (a restart, a
    # failover, an administrator) while get_result waits: the wait
    # reconnects and returns the task's outcome, not a StorageError.
    app = "sitq_py_lost_" + uuid.uuid4().hex[:8]
    dsn = os.environ["SITQ_TEST_PG_URI"] + "?application_name=" + app
    schema = "py_" + uuid.uuid4().hex[:12]
    q = sitq.TaskQueue(backend=sitq.PostgresBackend(dsn, schema=schema))
    tid = q.enqueue(sitq.Task(function=add, args=[1, 2], delay=3600))
    out = {}
    waiter = threading.Thread(target=lambda: out.update(r=_outcome(q, tid)))
    waiter.start()
    admin = ["psql", "-X", "-qAt", os.environ["SITQ_TEST_PG_URI"], "-c"]
    listening = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' "
                 "AND query LIKE 'LISTEN%%'" % app)
    deadline = time.monotonic() + 20
    while subprocess.run(admin + [listening], capture_output=True, text=True,
                         check=True).stdout.strip() == "0":
        assert time.monotonic() < deadline, "the wait did not start listening"
        time.sleep(0.02)
    ended = subprocess.run(admin + ["SELECT count(pg_terminate_backend(pid)) FROM "
                                    "pg_stat_activity WHERE application_name = '%s'" % app],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert int(ended) >= 2  # the reader and the listener at least
    other = sitq.TaskQueue(backend=sitq.PostgresBackend(os.environ["SITQ_TEST_PG_URI"],
                                                        schema=schema))
    other.cancel(tid)
    waiter.join(40)
    assert not waiter.is_alive()
    assert out["r"] == "cancelled"


def test_aio_get_result_rides_out_a_lost_connection():
    # The same with sitq.aio: the completion watch's reads reconnect.
    import asyncio
    import sitq.aio
    app = "sitq_py_alost_" + uuid.uuid4().hex[:8]
    dsn = os.environ["SITQ_TEST_PG_URI"] + "?application_name=" + app
    schema = "py_" + uuid.uuid4().hex[:12]
    backend = sitq.PostgresBackend(dsn, schema=schema)
    tid = sitq.TaskQueue(backend=backend).enqueue(
        sitq.Task(function=add, args=[1, 2], delay=3600))
    aq = sitq.aio.TaskQueue(backend)
    admin = ["psql", "-X", "-qAt", os.environ["SITQ_TEST_PG_URI"], "-c"]

    async def main():
        with pytest.raises(sitq.TaskTimeoutError):
            await aq.get_result(tid, timeout=0.3)  # the watch and its reads connect
        waiter = asyncio.ensure_future(aq.get_result(tid, timeout=30))
        ended = subprocess.run(admin + ["SELECT count(pg_terminate_backend(pid)) FROM "
                                        "pg_stat_activity WHERE application_name = '%s'" % app],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert int(ended) >= 1
        other = sitq.TaskQueue(backend=sitq.PostgresBackend(os.environ["SITQ_TEST_PG_URI"],
                                                            schema=schema))
        other.cancel(tid)
        return (await asyncio.wait_for(waiter, 40)).status

    assert asyncio.run(main()) == "cancelled"
    aq.close()


def _outcome(q, tid):
    try:
        return q.get_result(tid, timeout=30).status
    except sitq.SitqError as e:
        return repr(e)


def test_get_result_timeout_bounds_a_frozen_server():
    # The server's processes of this backend stop answering (SIGSTOP: TCP
    # cannot tell): get_result(timeout=1) fails soon after its timeout,
    # not after the 90 s reply limit of a statement.
    app = "sitq_py_frozen_" + uuid.uuid4().hex[:8]
    dsn = os.environ["SITQ_TEST_PG_URI"] + "?application_name=" + app
    q = sitq.TaskQueue(backend=sitq.PostgresBackend(dsn, schema="py_" + uuid.uuid4().hex[:12]))
    tid = q.enqueue(sitq.Task(function=add, args=[1, 2], delay=3600))
    with pytest.raises(sitq.TaskTimeoutError):
        q.get_result(tid, timeout=0.3)  # connects the reader and the listener
    done = threading.Event()
    thaw = threading.Thread(target=lambda: (done.wait(15), _signal_sessions(app, signal.SIGCONT)))
    thaw.start()
    try:
        assert _signal_sessions(app, signal.SIGSTOP) >= 1
        t0 = time.monotonic()
        with pytest.raises(sitq.StorageError, match="did not answer by the end of the wait"):
            q.get_result(tid, timeout=1)
        waited = time.monotonic() - t0
    finally:
        done.set()
        thaw.join()
    assert 0.9 < waited < 4
    with pytest.raises(sitq.TaskTimeoutError):
        q.get_result(tid, timeout=0.3)


def test_aio_get_result_timeout_bounds_a_frozen_server():
    # sitq.aio: once the timeout has passed, the status it reads for the
    # TaskTimeoutError is bounded too (it waited for a connection or a
    # reply for as long as libpq's connect_timeout or the reply limit). The
    # server accepts no new session either: its postmaster is stopped too.
    import asyncio
    import sitq.aio
    app = "sitq_py_frozen_" + uuid.uuid4().hex[:8]
    dsn = os.environ["SITQ_TEST_PG_URI"] + "?application_name=" + app
    backend = sitq.PostgresBackend(dsn, schema="py_" + uuid.uuid4().hex[:12])
    tid = sitq.TaskQueue(backend=backend).enqueue(
        sitq.Task(function=add, args=[1, 2], delay=3600))
    aq = sitq.aio.TaskQueue(backend)

    async def main():
        with pytest.raises(sitq.TaskTimeoutError):
            await aq.get_result(tid, timeout=0.3)  # connects before the freeze
        done = threading.Event()
        with open(os.path.join(os.environ["SITQ_TEST_PGDATA"], "postmaster.pid")) as f:
            postmaster = int(f.readline())
        pids = _session_pids(app) + [postmaster]

        def thaw_later():
            done.wait(15)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        thaw = threading.Thread(target=thaw_later)
        thaw.start()
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            t0 = time.monotonic()
            with pytest.raises(sitq.StorageError):
                await aq.get_result(tid, timeout=1)
            return time.monotonic() - t0
        finally:
            done.set()
            await asyncio.get_running_loop().run_in_executor(None, thaw.join)

    waited = asyncio.run(main())
    assert 0.9 < waited < 4
    aq.close()
