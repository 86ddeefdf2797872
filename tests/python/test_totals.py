"""TaskQueue.totals(): the store's counters that only grow, after a
scripted sequence of outcomes; a purge leaves them unchanged."""
import asyncio
import time

import sitq
import sitq.aio
import sitq_test_tasks as tasks


def wait_for(cond, timeout=30):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_totals_after_outcomes_and_purge(queue, tmp_path):
    assert queue.totals() == {
        "enqueued": 0, "succeeded": 0, "failed": 0, "retried": 0, "lost": 0, "cancelled": 0,
    }
    queue.enqueue(sitq.Task(tasks.add, (1, 2)))
    queue.enqueue(sitq.Task(tasks.add, (3, 4)))
    marker = str(tmp_path / "first")
    queue.enqueue(sitq.Task(tasks.fail_first, (marker,), max_retries=1, retry_backoff=0.01))
    queue.enqueue(sitq.Task(tasks.fail, ("no retry left",)))
    cancelled = queue.enqueue(sitq.Task(tasks.add, (5, 6), delay=3600))
    assert queue.cancel(cancelled) == "cancelled"
    with sitq.Worker(queue, concurrency=2):
        wait_for(lambda: queue.totals()["succeeded"] == 3 and queue.totals()["failed"] == 1)
    want = {"enqueued": 5, "succeeded": 3, "failed": 1, "retried": 1, "lost": 0, "cancelled": 1}
    assert queue.totals() == want
    assert queue.get_stats()["succeeded"] == 3
    assert queue.purge(older_than=0) == 5
    assert queue.get_stats()["total"] == 0
    assert queue.totals() == want

    async def from_aio():
        async with sitq.aio.TaskQueue(queue, executor_threads=1) as q:
            return await q.totals()

    assert asyncio.run(from_aio()) == want


def test_totals_after_close_raises(queue):
    async def closed():
        q = sitq.aio.TaskQueue(queue, executor_threads=1)
        q.close()
        await q.totals()

    try:
        asyncio.run(closed())
    except sitq.InvalidStateError as e:
        assert e.code == "SITQ_ESTATE"
    else:
        raise AssertionError("totals() after close() did not raise")
