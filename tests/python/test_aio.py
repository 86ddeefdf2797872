"""sitq.aio on a real event loop (asyncio.run inside each test): the
coroutine TaskQueue (round trip, timeouts, cancelling a wait, errors), 10,000
concurrent awaits served by one completion watch, and the async Worker
(async and sync tasks, its concurrency bound, timeouts and cancels that
cancel the coroutine). Both backends: SITQ_TEST_BACKEND=postgres runs them
on PostgreSQL."""
import asyncio
import os
import threading

import pytest

import sitq
import sitq.aio as aio
import sitq_test_tasks as tasks

# ---- tasks (module level: run by workers of this process) ----------------

state = {}


def reset_state(n_bound):
    state.clear()
    state.update(active=0, max_active=0, threads=set(), bound=n_bound, event=None,
                 cancelled=[], loop_thread=None)


async def bounded_async(value):
    """Counts the tasks running at once; the first `bound` wait for each
    other, which proves they run concurrently on the loop."""
    if state["event"] is None:
        state["event"] = asyncio.Event()
    state["threads"].add(threading.get_ident())
    state["active"] += 1
    state["max_active"] = max(state["max_active"], state["active"])
    try:
        if state["active"] >= state["bound"]:
            state["event"].set()
        await asyncio.wait_for(state["event"].wait(), 30)
        await asyncio.sleep(0)
        return ("async", value)
    finally:
        state["active"] -= 1


def plain_sync(value):
    return ("sync", value, threading.get_ident())


async def sleeps_until_cancelled(marker_path, seconds):
    """Marks its start, then sleeps; records a CancelledError it sees."""
    open(marker_path, "w").close()
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        state["cancelled"].append(aio.current_task().id)
        raise
    return "slept"


async def context_id():
    ctx = aio.current_task()
    return (ctx.id, ctx.attempt)


# ---- helpers --------------------------------------------------------------


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def wait_path(path, timeout=30):
    """Wait (on the loop) until a task created path."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, tasks.wait_for_path, path, timeout)


def waiters(q):
    """Futures still registered with q's watches (a watch itself is released
    once a check in flight ends)."""
    return sum(len(w.futures) for w in q._waits.values())


def os_threads():
    return len(os.listdir("/proc/self/task"))


# ---- the queue ------------------------------------------------------------


def test_round_trip_and_the_sync_api_mirrored(backend):
    async def main():
        q = aio.TaskQueue(backend)
        assert q.name == "default" and q.sync.name == "default"
        tid = await q.enqueue(tasks.add, 2, 3)
        ids = await q.enqueue_batch([sitq.Task(tasks.add, args=[i, i]) for i in range(3)])
        assert await q.get_task_status(tid) == "queued"
        assert (await q.peek(tid)).status == "queued"
        assert (await q.get_stats())["queued"] == 4
        assert len(await q.list_tasks(status="queued")) == 4
        with sitq.Worker(q.sync, concurrency=2):
            r = await q.get_result(tid, timeout=30)
            values = [(await q.get_result(i, timeout=30)).value for i in ids]
        assert r.status == "succeeded" and r.value == 5
        assert values == [0, 2, 4]
        # a finished task returns at once, also with timeout 0
        assert (await q.get_result(tid, timeout=0)).value == 5
        assert (await q.get_result(tid)).value == 5
        # cancel and retry
        other = await q.enqueue(tasks.add, 1, 1)
        assert await q.cancel(other) == "cancelled"
        assert (await q.get_result(other, timeout=5)).status == "cancelled"
        await q.retry(other)
        assert await q.get_task_status(other) == "queued"
        assert await q.purge(older_than=0) == 4
        assert waiters(q) == 0
        q.close()
    run(main())


def test_wrapping_a_sync_queue_and_async_with(queue):
    async def main():
        async with aio.TaskQueue(queue, executor_threads=1) as q:
            assert q.sync is queue
            tid = await q.enqueue(tasks.add, 1, 2)
            assert await q.get_task_status(tid) == "queued"
    run(main())


def test_timeout_raises_the_sync_exception(backend):
    async def main():
        q = aio.TaskQueue(backend)
        tid = await q.enqueue(tasks.add, 1, 2)
        with pytest.raises(sitq.TaskTimeoutError) as ei:
            await q.get_result(tid, timeout=0.2)
        assert ei.value.task_id == tid and ei.value.status == "queued"
        assert isinstance(ei.value, TimeoutError)
        with pytest.raises(sitq.TaskTimeoutError) as e0:
            await q.get_result(tid, timeout=0)
        assert e0.value.status == "queued"
        # the sync API raises the same type
        with pytest.raises(sitq.TaskTimeoutError):
            q.sync.get_result(tid, timeout=0)
        assert waiters(q) == 0
        q.close()
    run(main())


def test_a_loop_closed_with_a_wait_pending_leaves_no_watch(backend):
    # Each loop's waits hold a watch (a thread and an eventfd); a loop
    # closed while a wait is pending does not keep its watch for good.
    def eventfds():
        n = 0
        for f in os.listdir("/proc/self/fd"):
            try:
                n += "eventfd" in os.readlink("/proc/self/fd/" + f)
            except FileNotFoundError:  # the listing's own descriptor
                pass
        return n
    q = aio.TaskQueue(backend)
    tid = q.sync.enqueue(tasks.add, 1, 2)  # no worker: every wait stays pending
    before = eventfds()
    for _ in range(10):
        loop = asyncio.new_event_loop()
        loop.create_task(q.get_result(tid, timeout=30))
        loop.run_until_complete(asyncio.sleep(0.02))
        loop.close()  # the wait still pending
    assert eventfds() > before  # the last closed loop's watch, until the next wait
    with pytest.raises(sitq.TaskTimeoutError):  # the next wait releases it
        run(q.get_result(tid, timeout=0))
    q.close()  # joins the pool, which closed the watches
    assert eventfds() == before and q._waits == {}
    # close() itself releases what a closed loop left
    q = aio.TaskQueue(backend)
    loop = asyncio.new_event_loop()
    loop.create_task(q.get_result(tid, timeout=30))
    loop.run_until_complete(asyncio.sleep(0.02))
    loop.close()
    assert eventfds() == before + 1
    q.close()
    assert eventfds() == before and q._waits == {}


def test_use_after_close_raises_invalid_state(queue):
    async def main():
        q = aio.TaskQueue(queue, executor_threads=1)
        tid = await q.enqueue(tasks.add, 2, 3)
        pending = asyncio.ensure_future(q.get_result(tid, timeout=60))
        while waiters(q) == 0:  # the wait is registered with the watch
            await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, q.close)
        q.close()  # idempotent
        calls = [q.enqueue(tasks.add, 1, 1), q.enqueue_batch([sitq.Task(tasks.add, (1, 1))]),
                 q.get_result(tid, timeout=5), q.get_result(tid, timeout=0), q.get_result(tid),
                 q.get_task_status(tid), q.peek(tid), q.cancel(tid), q.retry(tid),
                 q.get_stats(), q.list_tasks(), q.purge()]
        for call in calls:
            with pytest.raises(sitq.InvalidStateError, match="is closed") as ei:
                await call
            assert ei.value.code == "SITQ_ESTATE" and isinstance(ei.value, RuntimeError)
        # a wait pending at close fails with the same error at its next check
        # (the latest: when its task finishes)
        with sitq.Worker(q.sync, concurrency=1):
            with pytest.raises(sitq.InvalidStateError, match="is closed"):
                await pending
            assert q.sync.get_result(tid, timeout=30).value == 5  # the sync queue stays usable
    run(main())


def test_bad_arguments(backend, queue):
    async def main():
        q = aio.TaskQueue(backend)
        with pytest.raises(sitq.TaskNotFoundError):
            await q.get_result(987654, timeout=5)
        with pytest.raises(sitq.InvalidArgumentError, match="timeout"):
            await q.get_result(1, timeout=-1)
        with pytest.raises(sitq.InvalidArgumentError, match="timeout"):
            await q.get_result(1, timeout="soon")
        with pytest.raises(sitq.InvalidArgumentError, match="task_id"):
            await q.get_result("1", timeout=1)
        with pytest.raises(sitq.TaskNotFoundError):
            await q.get_task_status(987654)
        q.close()
    run(main())
    with pytest.raises(sitq.InvalidArgumentError, match="executor_threads"):
        aio.TaskQueue(backend, executor_threads=0)
    with pytest.raises(sitq.InvalidArgumentError, match="name"):
        aio.TaskQueue(queue, "other")
    with pytest.raises(sitq.InvalidStateError, match="outside"):
        aio.current_task()


def test_cancelling_the_wait_leaves_the_task_running(backend, tmp_path):
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")

    async def main():
        q = aio.TaskQueue(backend)
        tid = await q.enqueue(tasks.gated, started, gate, "done")
        with sitq.Worker(q.sync, concurrency=1):
            try:
                waiter = asyncio.ensure_future(q.get_result(tid))
                await wait_path(started)
                waiter.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter
                assert waiters(q) == 0
                assert await q.get_task_status(tid) == "running"
                # the loop is free: another wait on the same task, then the gate
                again = asyncio.ensure_future(q.get_result(tid, timeout=30))
                await asyncio.sleep(0)
            finally:
                tasks.open_gate(gate)
            r = await again
        assert r.status == "succeeded" and r.value == "done"
        q.close()
    run(main())


def test_ten_thousand_concurrent_awaits_one_watch(backend, monkeypatch):
    n = 10000
    checks = []  # (ids asked, finished found) of each batched check
    real_check = aio._Waits.check

    def counting_check(self, ids):
        out = real_check(self, ids)
        checks.append((len(ids), len(out)))
        return out
    monkeypatch.setattr(aio._Waits, "check", counting_check)

    async def main():
        q = aio.TaskQueue(backend)
        ids = await q.enqueue_batch([sitq.Task(tasks.add, args=[i, 1]) for i in range(n)])
        before = os_threads()
        waits = [asyncio.ensure_future(q.get_result(i, timeout=600)) for i in ids]
        await asyncio.sleep(0)
        assert len(q._waits) == 1  # one watch for this loop
        # no thread per wait: the watch's thread and the pool's at most
        assert os_threads() <= before + 1 + 4
        with sitq.Worker(q.sync, concurrency=4):
            results = await asyncio.gather(*waits)
        assert [r.value for r in results] == [i + 1 for i in range(n)]
        assert all(r.status == "succeeded" for r in results)
        # completions coalesce: each check serves many waits, and each
        # result is read once
        assert sum(found for _, found in checks) == n
        assert len(checks) < n // 10, len(checks)
        assert waiters(q) == 0
        q.close()
    run(main())


# ---- the worker -----------------------------------------------------------


def test_worker_runs_async_on_the_loop_and_sync_in_threads_within_the_bound(backend):
    bound = 3
    reset_state(bound)

    async def main():
        q = aio.TaskQueue(backend)
        async_ids = await q.enqueue_batch([sitq.Task(bounded_async, args=[i]) for i in range(9)])
        sync_ids = await q.enqueue_batch([sitq.Task(plain_sync, args=[i]) for i in range(4)])
        w = aio.Worker(q, concurrency=bound)
        async with w:
            assert w.is_running and w.concurrency == bound
            a = [(await q.get_result(i, timeout=60)) for i in async_ids]
            s = [(await q.get_result(i, timeout=60)) for i in sync_ids]
        assert not w.is_running
        loop_thread = threading.get_ident()
        assert [r.value for r in a] == [("async", i) for i in range(9)]
        assert state["threads"] == {loop_thread}  # every async task ran on this loop
        assert state["max_active"] == bound  # reached (they waited for each other), never over
        assert [r.value[:2] for r in s] == [("sync", i) for i in range(4)]
        assert all(r.value[2] != loop_thread for r in s)
        ctx_id = await q.enqueue(context_id)
        async with aio.Worker(q, concurrency=1):
            r = await q.get_result(ctx_id, timeout=60)
        assert r.value == (ctx_id, 1)
        q.close()
    run(main())


def test_async_task_timeout_cancels_the_coroutine(backend, tmp_path):
    reset_state(1)
    marker = str(tmp_path / "m")

    async def main():
        q = aio.TaskQueue(backend)
        tid = await q.enqueue(sitq.Task(sleeps_until_cancelled, args=[marker, 60], timeout=0.5))
        async with aio.Worker(q, concurrency=1):
            r = await q.get_result(tid, timeout=60)
        assert r.status == "failed"
        assert r.error.startswith("timed out after 0.5 s"), r.error
        assert "CancelledError: the coroutine was cancelled at the task's timeout (0.5 s)" \
            in r.error, r.error
        assert state["cancelled"] == [tid]
        q.close()
    run(main())


def test_cancel_of_a_running_async_task(backend, tmp_path):
    reset_state(1)
    marker = str(tmp_path / "m")

    async def main():
        q = aio.TaskQueue(backend)
        tid = await q.enqueue(sleeps_until_cancelled, marker, 60)
        async with aio.Worker(q, concurrency=1, heartbeat_interval=0.1):
            await wait_path(marker)
            assert await q.cancel(tid) == "running"
            r = await q.get_result(tid, timeout=60)
        assert r.status == "cancelled", (r.status, r.error)
        assert "the coroutine was cancelled (the task was cancelled" in r.error, r.error
        assert state["cancelled"] == [tid]
        q.close()
    run(main())


def test_burst_run_drains(backend):
    async def main():
        q = aio.TaskQueue(backend)
        ids = await q.enqueue_batch([sitq.Task(context_id) for _ in range(3)]
                                    + [sitq.Task(tasks.add, args=[1, 2])])
        w = aio.Worker([q], concurrency=2)
        await w.run(until_empty=True)
        assert [(await q.peek(i)).status for i in ids] == ["succeeded"] * 4
        with pytest.raises(sitq.InvalidStateError, match="already"):
            async with w:
                await w.run()
        q.close()
    run(main())


def test_the_documented_example_runs(tmp_path):
    """docs/python.md's sitq.aio example, run as written (a SQLite file in
    the working directory, whatever the test backend)."""
    import re
    import subprocess
    import sys
    from conftest import subprocess_env
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python.md")
    section = open(doc).read().split("## asyncio: `sitq.aio`")[1]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    (tmp_path / "example.py").write_text(code)
    p = subprocess.run([sys.executable, "example.py"], cwd=str(tmp_path), env=subprocess_env(),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str([n * n for n in range(20)] + [499500])


async def gated_async(started_path, gate_path):
    """Marks its start, then waits (on the loop) for the test's gate."""
    open(started_path, "w").close()
    while not os.path.exists(gate_path):
        await asyncio.sleep(0.01)
    return "gated"


def test_cancelling_run_stops_gracefully(backend, tmp_path):
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")

    async def main():
        q = aio.TaskQueue(backend)
        tid = await q.enqueue(gated_async, started, gate)
        w = aio.Worker(q, concurrency=2)
        runner = asyncio.ensure_future(w.run())
        try:
            await wait_path(started)
            # a second async worker of the same queue is refused meanwhile
            with pytest.raises(sitq.InvalidStateError, match="already served"):
                await aio.Worker(q).run()
            runner.cancel()
            await asyncio.sleep(0.05)
            assert not runner.done()  # waits for the running task
        finally:
            tasks.open_gate(gate)
        with pytest.raises(asyncio.CancelledError):
            await runner
        assert not w.is_running
        r = await q.peek(tid)
        assert r.status == "succeeded" and r.value == "gated"
        q.close()
    run(main())


def test_async_task_on_a_sync_worker_still_runs(queue):
    tid = queue.enqueue(context_id)
    with sitq.Worker(queue, concurrency=1):
        r = queue.get_result(tid, timeout=60)
    # no sitq.aio.Worker: asyncio.run in the worker's thread, no loop context
    assert r.status == "failed" and "outside" in r.error


def test_command_line_asyncio_worker(db_path, backend):
    import subprocess
    import sys
    from conftest import subprocess_env
    q = sitq.TaskQueue(backend)
    ids = [q.enqueue(context_id) for _ in range(4)] + [q.enqueue(tasks.add, 2, 2)]
    p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--asyncio",
                        "--threads", "2", "--burst"], env=subprocess_env(),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "async tasks on one event loop" in p.stderr
    values = [q.get_result(i, timeout=0).value for i in ids]
    assert values == [(i, 1) for i in ids[:4]] + [4]
    bad = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--asyncio",
                          "--concurrency", "2"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--threads" in bad.stderr


async def raises_base(kind):
    await asyncio.sleep(0)
    raise SystemExit(3) if kind == "exit" else KeyboardInterrupt()


async def sleeps_then_returns(value):
    await asyncio.sleep(0.05)
    return value


@pytest.mark.parametrize("kind", ["exit", "interrupt"])
def test_systemexit_in_an_async_task_fails_only_that_task(backend, kind):
    # asyncio lets SystemExit and KeyboardInterrupt out of the loop: the
    # worker must turn them into the task's failure and keep serving the rest
    async def main():
        q = aio.TaskQueue(backend)
        good = await q.enqueue_batch([sitq.Task(sleeps_then_returns, args=[i]) for i in range(3)])
        bad = await q.enqueue(sitq.Task(raises_base, args=[kind]))
        later = await q.enqueue(sitq.Task(sleeps_then_returns, args=[9]))
        w = aio.Worker([q], concurrency=4)
        await w.run(until_empty=True)
        results = [await q.get_result(i, timeout=30) for i in good + [bad, later]]
        q.close()
        return results
    results = run(main())
    assert [r.value for r in results[:3]] == [0, 1, 2]
    assert all(r.attempts == 1 for r in results[:3])
    assert results[3].status == "failed"
    assert ("SystemExit" if kind == "exit" else "KeyboardInterrupt") in results[3].error
    assert results[4].value == 9


def test_an_async_task_chooses_its_retry(backend):
    # sitq.NoRetry raised by a coroutine fails its task for good, as in a
    # thread (the coroutine's exception reaches the same recording).
    async def main():
        q = aio.TaskQueue(backend)
        tid = await q.enqueue(sitq.Task(tasks.async_no_retry, args=["no"], max_retries=2))
        async with aio.Worker(q, concurrency=1):
            r = await q.get_result(tid, timeout=60)
        assert (r.status, r.attempts, r.error) == ("failed", 1, "sitq.errors.NoRetry: no"), r
        q.close()
    run(main())
