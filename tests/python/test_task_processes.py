"""Process mode of python -m sitq worker (--pool process): tasks run in task
processes that are killed at their timeout or cancel (after a grace) and
replaced; a task process that crashes, exits or runs out of memory fails
its own attempt only; sitq.current_task() works in a task process."""
import ctypes
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import sitq
import sitq_test_tasks as tasks
from conftest import HERE, subprocess_env

DEADLINE = 60


@pytest.fixture
def cli(db_path):
    """Start `python -m sitq worker DB --pool process ...`; stopped (SIGTERM,
    then SIGKILL if it hangs) at the end of the test."""
    started = []

    def start(*extra):
        p = subprocess.Popen(
            [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE, "--pool",
             "process", *extra],
            env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        started.append(p)
        return p
    yield start
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


def gone(pid):
    """Whether no process has this pid (the worker reaps its task processes)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def read_pid(path):
    """The pid a task wrote to path (the file exists before it is written)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        with open(path) as f:
            text = f.read()
        if text or time.monotonic() > deadline:
            return int(text)
        time.sleep(0.01)


def test_timeout_kills_the_task_and_the_slot_runs_the_next(queue, cli, tmp_path):
    marker = str(tmp_path / "started")
    # (a timeout of 3 s leaves time to start a task process on a busy host:
    # it counts from the attempt's start in the worker)
    slow = queue.enqueue(sitq.Task(tasks.never_returns, args=[marker], timeout=3))
    nxt = queue.enqueue(tasks.pid)
    cli("--concurrency", "1")
    a = queue.get_result(slow, timeout=DEADLINE)
    b = queue.get_result(nxt, timeout=DEADLINE)
    assert a.status == "failed" and a.error.startswith("timed out after 3 s (attempt 1)"), a
    killed = read_pid(marker)
    assert gone(killed)
    # the next task ran in a new task process, once the slow one was killed
    # (3 s timeout + 1 s grace), long before that one would have returned
    assert b.is_success and b.value != killed
    gap = (b.started_at - a.started_at).total_seconds()
    assert 3.0 <= gap < 20.0, gap


def test_retries_follow_the_policy_after_a_timeout(queue, cli, tmp_path):
    # attempt 1 sleeps past its timeout and is killed; attempt 2 returns
    marker = str(tmp_path / "started")
    tid = queue.enqueue(sitq.Task(tasks.once_slow, args=[marker, 60], timeout=3,
                                  max_retries=1, retry_backoff=0.01))
    cli("--concurrency", "1")
    r = queue.get_result(tid, timeout=DEADLINE)
    assert r.status == "succeeded" and r.attempts == 2, r
    killed = read_pid(marker)
    assert r.value.startswith("recovered by ") and r.value != "recovered by %d" % killed
    assert gone(killed)


def test_timeouts_use_up_the_retries(queue, cli):
    tid = queue.enqueue(sitq.Task(tasks.never_returns, timeout=0.5, max_retries=1,
                                  retry_backoff=0.01))
    cli("--concurrency", "1", "--grace", "0.2")
    r = queue.get_result(tid, timeout=DEADLINE)
    assert r.status == "failed" and r.attempts == 2, r
    assert r.error.startswith("timed out after 0.5 s (attempt 2)"), r.error


def test_cancel_kills_a_task_that_does_not_look(queue, cli, tmp_path):
    marker = str(tmp_path / "started")
    tid = queue.enqueue(tasks.never_returns, marker)
    cli("--concurrency", "1")
    tasks.wait_for_path(marker, timeout=DEADLINE)
    pid = read_pid(marker)
    assert queue.cancel(tid) == "running"
    r = queue.get_result(tid, timeout=DEADLINE)
    assert r.status == "cancelled", r
    assert r.error == ("cancelled while running: worker process %d killed (SIGKILL): still "
                       "running 1 s after its cancel flag was set" % pid), r.error
    assert gone(pid)


def test_cancel_reaches_a_task_that_looks(queue, cli, tmp_path):
    # the task sees current_task().cancelled and raises within the grace:
    # no kill, and its task process serves the next task
    marker = str(tmp_path / "started")
    tid = queue.enqueue(tasks.until_cancelled, marker)
    cli("--concurrency", "1", "--grace", "30")
    tasks.wait_for_path(marker, timeout=DEADLINE)
    assert queue.peek(tid).progress == 0.25       # set_progress went through the worker
    assert queue.cancel(tid) == "running"
    r = queue.get_result(tid, timeout=DEADLINE)
    assert r.status == "cancelled", r
    assert r.error == "cancelled while running: RuntimeError: stopped on request at attempt 1"
    nxt = queue.enqueue(tasks.pid)
    assert queue.get_result(nxt, timeout=DEADLINE).value == read_pid(marker)


@pytest.mark.parametrize("crash,error", [
    ((ctypes.string_at, 0), "worker process died: signal 11 (SIGSEGV)"),
    ((os._exit, 3), "worker process exited with status 3"),
    ((tasks.allocate, 1 << 30), "MemoryError"),
], ids=["segfault", "exit", "memory"])
def test_a_dying_task_fails_alone(queue, cli, tmp_path, crash, error):
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    other = queue.enqueue(tasks.gated, started, gate, "fine")
    w = cli("--concurrency", "2", "--max-memory", "256")
    tasks.wait_for_path(started, proc=w, timeout=DEADLINE)
    bad = queue.enqueue(*crash)
    r = queue.get_result(bad, timeout=DEADLINE)
    assert r.status == "failed" and r.attempts == 1, r
    assert r.error == error, r.error
    assert queue.get_task_status(other) == "running"   # not touched by the crash
    tasks.open_gate(gate)
    assert queue.get_result(other, timeout=DEADLINE).value == "fine"
    # the slot goes on with a new task process
    assert queue.get_result(queue.enqueue(tasks.add, 2, 3), timeout=DEADLINE).value == 5


def test_a_death_is_seen_while_a_forked_child_lives(queue, cli, tmp_path):
    # A task forked a child that outlives it, holding a copy of the task
    # process's end of the socket: no end of file when that process dies.
    # The next task's crash must still fail it at once, not once the child
    # exits (it waits for the gate, opened only after the check).
    gate = str(tmp_path / "gate")
    helper = queue.enqueue(tasks.fork_helper, gate)
    cli("--concurrency", "1")
    child = queue.get_result(helper, timeout=DEADLINE).value
    try:
        bad = queue.enqueue(ctypes.string_at, 0)
        r = queue.get_result(bad, timeout=DEADLINE)
        assert r.status == "failed" and r.error == "worker process died: signal 11 (SIGSEGV)", r
        assert os.path.exists("/proc/%d" % child), "the forked child already exited"
        assert queue.get_result(queue.enqueue(tasks.add, 2, 3), timeout=DEADLINE).value == 5
    finally:
        tasks.open_gate(gate)
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_death_in_the_middle_of_the_result_is_seen_while_a_forked_child_lives(
        queue, cli, tmp_path):
    # Killed while sending its result, with a forked child holding the
    # socket: the worker must not wait for the rest of the message.
    gate = str(tmp_path / "gate")
    bad = queue.enqueue(tasks.big_result_killed_midway, gate, 64)
    cli("--concurrency", "1")
    try:
        r = queue.get_result(bad, timeout=DEADLINE)
        assert r.status == "failed" and r.error == "worker process died: signal 9 (SIGKILL)", r
        assert not os.path.exists(gate)  # the child still holds the socket
        assert queue.get_result(queue.enqueue(tasks.add, 2, 3), timeout=DEADLINE).value == 5
    finally:
        tasks.open_gate(gate)


@pytest.mark.parametrize("pool", ["process", "thread"])
def test_a_child_forked_by_a_task_ends_without_answering_for_it(queue, db_path, pool, cli):
    # The child returned into sitq's task loop: in process mode its outcome
    # was taken as the task's (SystemExit: 0) and every later result of that
    # task process came one task late; in thread mode it waited for ever in
    # a copy of the worker, and so did its parent's waitpid.
    ids = [queue.enqueue(tasks.fork_and_wait, how) for how in ("return", "exit", "raise")]
    after = queue.enqueue(tasks.add, 2, 3)
    if pool == "process":
        cli("--concurrency", "1")
        results = [queue.get_result(i, timeout=DEADLINE) for i in ids + [after]]
    else:
        with sitq.Worker(queue, concurrency=1):
            results = [queue.get_result(i, timeout=DEADLINE) for i in ids + [after]]
    assert [(r.status, r.value) for r in results] == [
        ("succeeded", ["parent", 0]), ("succeeded", ["parent", 3]),
        ("succeeded", ["parent", 1]), ("succeeded", 5)], results


@pytest.mark.parametrize("pool", ["process", "thread"])
def test_a_context_shared_by_threads_of_the_task(queue, db_path, pool, cli):
    # Calls from two threads at once each get their own answer (in process
    # mode they shared the socket: a dependency read got the heartbeat's
    # False, and a heartbeat that got a list set cancelled); and a thread's
    # call that races the end of its attempt never reaches the next task
    # (in process mode it was served for it: progress it never set).
    dep = queue.enqueue(tasks.add, 1, 2)
    shared = queue.enqueue(sitq.Task(tasks.context_from_two_threads, priority=100),
                           depends_on=[dep])
    pairs = [(queue.enqueue(sitq.Task(tasks.leave_a_thread_setting_progress, priority=50 - 2 * i)),
              queue.enqueue(sitq.Task(tasks.sleep_and_return, args=[0.05, i],
                                      priority=49 - 2 * i)))
             for i in range(20)]
    if pool == "process":
        cli("--concurrency", "1")
        r = queue.get_result(shared, timeout=DEADLINE)
        after = [queue.get_result(b, timeout=DEADLINE) for _, b in pairs]
    else:
        with sitq.Worker(queue, concurrency=1):
            r = queue.get_result(shared, timeout=DEADLINE)
            after = [queue.get_result(b, timeout=DEADLINE) for _, b in pairs]
    assert r.value == (0, False), r
    assert [(x.value, x.progress) for x in after] == [(i, None) for i in range(20)]


@pytest.mark.parametrize("pool", ["process", "thread"])
def test_the_processes_a_task_starts_stop_on_sigterm(queue, db_path, pool, cli):
    # They inherited SIG_IGN from the task process (process mode) or the
    # worker's graceful stop (thread mode): Pool.terminate() hung.
    tid = queue.enqueue(tasks.children_stop_on_sigterm)
    if pool == "process":
        cli("--concurrency", "1")
    else:
        p = subprocess.Popen([sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE,
                              "--pool", "thread", "--concurrency", "1"],
                             env=subprocess_env(), cwd=HERE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        r = queue.get_result(tid, timeout=DEADLINE)
    finally:
        if pool == "thread":
            p.terminate()
            assert p.wait(DEADLINE) == 0
    assert (r.status, r.value) == ("succeeded", [-15, -15]), r


def test_the_task_api_works_in_a_task_process(queue, cli):
    first = sitq.Task(tasks.add, args=[2, 3])
    second = sitq.Task(tasks.add, args=[sitq.result_of(first), 10])
    fields = sitq.Task(tasks.context_fields, max_retries=2, timeout=20)
    ids = queue.enqueue_batch([first, second, fields])
    failing = queue.enqueue(tasks.fail, "bad input")
    cli("--concurrency", "2")
    assert queue.get_result(ids[1], timeout=DEADLINE).value == 15
    assert queue.get_result(ids[2], timeout=DEADLINE).value == (
        ids[2], 1, 2, "default", "py:sitq_test_tasks.context_fields", 20.0, False)
    r = queue.get_result(failing, timeout=DEADLINE)
    with pytest.raises(ValueError, match="bad input"):   # the task's own exception
        r.unwrap()


def test_result_of_values_are_unpickled_by_the_task_process(queue, cli):
    # The value's class exists only in the task process that made it (one
    # slot: the same process runs all three); the worker process passes
    # the stored pickle on without reading it. Once the class is gone, the
    # dependent's read names the dependency it could not unpickle.
    made = sitq.Task(tasks.local_value, args=[7])
    read = sitq.Task(tasks.read_local_value, args=[sitq.result_of(made)])
    forget = sitq.Task(tasks.forget_local_values, depends_on=[read])
    late = sitq.Task(tasks.read_local_value, args=[sitq.result_of(made), sitq.result_of(forget)])
    ids = queue.enqueue_batch([made, read, forget, late])
    cli("--concurrency", "1")
    assert queue.get_result(ids[1], timeout=DEADLINE).value == (tasks.LOCAL_MODULE, 7)
    assert queue.get_result(ids[2], timeout=DEADLINE).value is True
    r = queue.get_result(ids[3], timeout=DEADLINE)
    assert r.is_error
    assert ("SerializationError: cannot unpickle the result of dependency 0 of task %d in this "
            "process: ModuleNotFoundError: No module named '%s'" % (ids[3], tasks.LOCAL_MODULE)
            in r.error), r.error


def test_a_finalizer_in_a_task_process_gets_results(queue, cli):
    # A failed dependency reaches a finalizer's result_of argument as a
    # sitq.Result, as in a thread worker, and dependency_results() too.
    good = sitq.Task(tasks.add, args=[1, 2])
    bad = sitq.Task(tasks.fail, args=["bad part"])
    fin = sitq.Task(tasks.describe_inputs, args=[[sitq.result_of(good), sitq.result_of(bad)]],
                    finalizer=True)
    ids = queue.enqueue_batch([good, bad, fin])
    cli("--concurrency", "1")
    r = queue.get_result(ids[2], timeout=DEADLINE)
    assert r.is_success, r.error
    assert r.value == ([3, ("Result", ids[1], "failed", "ValueError: bad part", "ValueError")],
                       [("Result", ids[0], "succeeded", None, 3),
                        ("Result", ids[1], "failed", "ValueError: bad part", "ValueError")])


def test_grace_and_memory_need_process_mode(db_path):
    for opt in (["--grace", "2"], ["--max-memory", "100"], ["--keep-freed-memory", "8"]):
        p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--pool", "thread",
                            *opt], env=subprocess_env(), capture_output=True, text=True,
                           timeout=DEADLINE)
        assert p.returncode == 2, p.stderr
        assert ("--grace, --max-memory and --keep-freed-memory apply to --pool process only"
                in p.stderr)
    for bad in ("-1", "2048", "lots"):
        p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path,
                            "--keep-freed-memory", bad], env=subprocess_env(),
                           capture_output=True, text=True, timeout=DEADLINE)
        assert p.returncode == 2 and "--keep-freed-memory" in p.stderr, p.stderr
    p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--grace", "0"],
                       env=subprocess_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert p.returncode == 2 and "must be > 0 seconds" in p.stderr, p.stderr


def test_task_processes_end_with_a_killed_worker(queue, cli, tmp_path):
    # kill -9 of the worker: its task process sees the end of its socket and
    # exits at once; the task's lease lapses as after any crash
    marker = str(tmp_path / "started")
    tid = queue.enqueue(tasks.never_returns, marker)
    w = cli("--concurrency", "1")
    tasks.wait_for_path(marker, proc=w, timeout=DEADLINE)
    pid = read_pid(marker)
    w.kill()
    w.wait(timeout=DEADLINE)
    deadline = time.monotonic() + DEADLINE
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gone(pid)
    assert queue.get_task_status(tid) == "running"


def test_the_lease_is_renewed_while_a_task_process_works(queue, cli):
    # the worker process renews the lease while its task process sleeps
    # three leases long: the attempt is neither recovered nor run twice
    tid = queue.enqueue(sitq.Task(tasks.sleep_and_return, args=[3, "kept"], max_retries=2))
    cli("--concurrency", "1", "--lease", "1")
    r = queue.get_result(tid, timeout=DEADLINE)
    assert r.status == "succeeded" and r.value == "kept" and r.attempts == 1, r


def test_error_text_keeps_nul_and_lone_surrogates(queue, cli):
    # the task process's message reaches the store whole (a NUL cut it)
    tids = [queue.enqueue(tasks.fail, "a\0b"), queue.enqueue(tasks.fail, "x\udcffy")]
    cli("--concurrency", "1")
    nul, sur = (queue.get_result(t, timeout=DEADLINE) for t in tids)
    assert nul.error == "ValueError: a\\x00b", nul
    assert sur.error == "ValueError: x\\udcffy", sur
    assert "raise ValueError(message)" in nul.traceback


def test_a_returned_generator_is_a_value_not_a_coroutine(queue, backend, cli):
    # asyncio.iscoroutine also accepts generators: the task process ran this
    # one as a coroutine and recorded its return value; threads refuse it
    tid = queue.enqueue(tasks.generator_returning, "from the generator")
    cli("--concurrency", "1")
    r = queue.get_result(tid, timeout=DEADLINE)
    assert r.is_error, r
    assert r.error.startswith("SerializationError: the return value of "
                              "py:sitq_test_tasks.generator_returning (a generator) cannot be "
                              "pickled"), r.error
    # threads: on a queue the running task-process worker does not serve
    other = sitq.TaskQueue(backend=backend, name="threads")
    thread = sitq.Worker(other).process_task(
        other.enqueue(tasks.generator_returning, "from the generator"))
    assert thread.error == r.error, (thread.error, r.error)


def test_pickling_that_raises_system_exit_fails_the_task_alone(queue, backend, cli):
    # A value or exception whose pickling raises SystemExit or KeyboardInterrupt
    # ended the task process ("worker process exited with status 3"), and the
    # task's own error was lost; it is recorded as in thread mode.
    fns = (tasks.return_exit_on_pickle, tasks.return_interrupt_on_pickle)
    tids = [queue.enqueue(f) for f in fns] + [queue.enqueue(tasks.raise_exit_on_pickle, "mine")]
    tids.append(queue.enqueue(tasks.add, 1, 2))  # the same task process runs on
    cli("--concurrency", "1")
    rs = [queue.get_result(t, timeout=DEADLINE) for t in tids]
    assert [r.status for r in rs] == ["failed", "failed", "failed", "succeeded"], rs
    assert rs[0].error.endswith("cannot be pickled: SystemExit: 3"), rs[0].error
    assert rs[1].error.endswith("cannot be pickled: KeyboardInterrupt: pickling"), rs[1].error
    assert rs[2].error == "sitq_test_tasks.ExitOnPickleError: mine", rs[2].error
    assert rs[3].value == 3
    # thread mode records the same texts
    # (on a worker's own threads: process_task on this thread lets a
    # KeyboardInterrupt through, as Ctrl-C)
    other = sitq.TaskQueue(backend=backend, name="threads")
    again = [other.enqueue(f) for f in fns] + [other.enqueue(tasks.raise_exit_on_pickle, "mine")]
    with sitq.Worker(other):
        errors = [other.get_result(t, timeout=DEADLINE).error for t in again]
    assert errors == [r.error for r in rs[:3]]


def test_large_payloads_reach_the_task_process_whole(queue, cli):
    # The payload crosses to the task process as a raw message after the
    # task's fields: sizes around the socket's buffer and a few MiB, several
    # in a row through the same slot, each arrives byte for byte in order.
    import hashlib
    sizes = [0, 1, 65535, 65536, 262145, 3 * 1024 * 1024 + 7, 5 * 1024 * 1024]
    blobs = [os.urandom(n) for n in sizes]
    ids = [queue.enqueue(sitq.Task(tasks.digest, args=[b, i])) for i, b in enumerate(blobs)]
    cli("--concurrency", "1")
    for i, (tid, b) in enumerate(zip(ids, blobs)):
        r = queue.get_result(tid, timeout=DEADLINE)
        assert r.is_success, r.error
        assert r.value == (len(b), hashlib.sha256(b).hexdigest(), i)


def test_a_payload_past_max_memory_fails_its_attempt_alone(queue, cli):
    # The task process cannot allocate the payload's buffer under its
    # address-space limit: the message is read and dropped, the attempt
    # fails with MemoryError, and the same process runs the next task.
    before = queue.enqueue(tasks.pid)
    big = queue.enqueue(tasks.digest, b"x" * (300 << 20), 0)
    after = queue.enqueue(tasks.pid)
    cli("--concurrency", "1", "--max-memory", "256")
    r = queue.get_result(big, timeout=DEADLINE)
    assert r.status == "failed" and r.attempts == 1, r
    assert re.fullmatch(r"MemoryError: out of memory for a message of 3145\d{5} bytes "
                        r"\(the task's payload\)", r.error), r.error
    assert queue.get_result(after, timeout=DEADLINE).value == \
        queue.get_result(before, timeout=DEADLINE).value


def test_a_value_past_max_memory_fails_its_reader_alone(queue, cli):
    # A result_of value the task process cannot allocate fails the reader's
    # attempt with MemoryError; the channel stays in step for the next task.
    parent = queue.enqueue(tasks.blob, 300 << 20)
    with sitq.Worker(queue):  # made in this process, without the limit
        assert queue.get_result(parent, timeout=DEADLINE).is_success
    before = queue.enqueue(tasks.pid)
    child = queue.enqueue(tasks.digest, sitq.result_of(parent), 1)
    after = queue.enqueue(tasks.pid)
    cli("--concurrency", "1", "--max-memory", "256")
    r = queue.get_result(child, timeout=DEADLINE)
    assert r.status == "failed" and r.attempts == 1, r
    assert re.fullmatch(r"cannot read the sitq.result_of arguments of "
                        r"py:sitq_test_tasks.digest: MemoryError: out of memory for a message "
                        r"of 3145\d{5} bytes", r.error), r.error
    assert queue.get_result(after, timeout=DEADLINE).value == \
        queue.get_result(before, timeout=DEADLINE).value


def test_the_worker_keeps_freed_memory_on_glibc():
    from sitq import _procpool
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        pytest.skip("not glibc: the worker leaves malloc's thresholds as they are")
    # in a child process: the thresholds are the whole process's
    code = "from sitq import _procpool; print(_procpool.keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), cwd=HERE,
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    assert _procpool.KEEP_FREED == 32 << 20


@pytest.mark.parametrize("keep", [None, "0"])
def test_task_processes_keep_freed_memory(cli, queue, keep):
    # 40 MiB built and dropped: kept by default (64 MiB), so the task
    # faults almost none of it in again; with 0, glibc hands it back
    # (its trim threshold stays a few MiB) and every page faults again
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        pytest.skip("not glibc: task processes leave malloc's thresholds as they are")
    tid = queue.enqueue(tasks.refaults, 40)
    cli("--concurrency", "1", *(["--keep-freed-memory", keep] if keep else []))
    r = queue.get_result(tid, timeout=DEADLINE)
    assert r.is_success, r.error
    pages = 40 * (1 << 20) // os.sysconf("SC_PAGE_SIZE")
    if keep is None:
        assert r.value < pages // 10, r.value
    else:
        assert r.value > pages // 2, r.value


def test_a_task_process_chooses_its_retry(queue, cli):
    # sitq.NoRetry and sitq.Retry(delay) cross from the task process to the
    # worker that records the attempt
    later = queue.enqueue(sitq.Task(tasks.retry_later, args=[3600], max_retries=3))
    never = queue.enqueue(sitq.Task(tasks.no_retry, args=["x2"], max_retries=3))
    before = time.time()
    cli("--concurrency", "1")  # one slot: later's attempt is recorded before never's
    r = queue.get_result(never, timeout=DEADLINE)
    assert (r.status, r.attempts, r.error) == ("failed", 1, "sitq.errors.NoRetry: bad input: x2")
    info = queue.peek(later)
    assert info.status == "scheduled", info
    assert info.error == "sitq.errors.Retry: retry in 3600 s", info
    assert before + 3600 <= info.eta.timestamp() <= time.time() + 3600


def test_a_retry_without_a_delay_fails_as_in_threads(queue, backend, cli):
    # a sitq.Retry subclass with no .delay: the task's backoff (here: no
    # retry left, so failed), not a task process that exits with the error lost
    tid = queue.enqueue(sitq.Task(tasks.throttled, args=["api"], max_retries=0))
    cli("--concurrency", "1")
    r = queue.get_result(tid, timeout=DEADLINE)
    assert (r.status, r.error) == ("failed", "sitq_test_tasks.Throttled: throttled by api"), r
    other = sitq.TaskQueue(backend=backend, name="threads")
    with sitq.Worker(other):
        t = other.get_result(other.enqueue(sitq.Task(tasks.throttled, args=["api"])),
                             timeout=DEADLINE)
    assert t.error == r.error
