"""Thread safety, GIL release, and no reference leaks (flat memory)."""
import gc
import os
import threading
import time

import sitq
import sitq_test_tasks as tasks


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def test_many_threads_enqueue_and_wait(queue):
    errors = []
    results = {}

    def client(n):
        try:
            ids = [queue.enqueue(tasks.add, n, i) for i in range(100)]
            ids += queue.enqueue_batch([sitq.Task(tasks.add, args=[n, -i]) for i in range(100)])
            vals = [queue.get_result(t, timeout=60).value for t in ids]
            results[n] = vals
            queue.get_stats()
            queue.list_tasks(limit=5)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
    with sitq.Worker(queue, concurrency=4):
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    for n in range(8):
        assert results[n] == [n + i for i in range(100)] + [n - i for i in range(100)]
    assert queue.get_stats()["succeeded"] == 1600


def test_process_task_from_many_threads(queue):
    ids = queue.enqueue_batch([sitq.Task(tasks.add, args=[i, 1]) for i in range(400)])
    w = sitq.Worker(queue)
    out, errors = {}, []

    def run(chunk):
        try:
            for t in chunk:
                out[t] = w.process_task(t).value
        except BaseException as e:  # pragma: no cover
            errors.append(e)
    threads = [threading.Thread(target=run, args=(ids[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [out[t] for t in ids] == [i + 1 for i in range(400)]


def test_sleeping_tasks_run_in_parallel_threads(queue):
    ids = queue.enqueue_batch([sitq.Task(tasks.sleep_and_return, args=[0.5, i]) for i in range(8)])
    t0 = time.monotonic()
    with sitq.Worker(queue, concurrency=8):
        vals = [queue.get_result(t, timeout=30).value for t in ids]
    assert vals == list(range(8))
    assert time.monotonic() - t0 < 2.5      # 8 x 0.5 s in parallel, not 4 s


def test_gil_released_while_waiting(queue):
    tid = queue.enqueue(tasks.add, 1, 1)     # no worker yet
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1
    t = threading.Thread(target=spin)
    t.start()
    try:
        before = counter[0]
        try:
            queue.get_result(tid, timeout=0.5)
        except sitq.TaskTimeoutError:
            pass
        assert counter[0] - before > 1000    # the other thread ran during the wait
    finally:
        stop.set()
        t.join()


def test_100k_tasks_through_one_worker_keep_memory_flat(queue):
    """A leak check, not a timing test: 100,000 tasks (enqueue, run, result,
    get_result) through one worker must not grow the process's memory."""
    def round_trip(n, base):
        ids = queue.enqueue_batch([sitq.Task(tasks.add, args=[base + i, 1]) for i in range(n)])
        for k, t in enumerate(ids):
            if k % 97 == 0 or k == n - 1:
                r = queue.get_result(t, timeout=300)
                assert r.value == base + k + 1
        last = queue.get_result(ids[-1], timeout=300)
        assert last.is_success
        return ids

    held = sitq.held_functions()
    w = sitq.Worker(queue)
    w.start()
    try:
        round_trip(10_000, 0)                # warm-up: caches, pools, arenas
        gc.collect()
        before = rss_mb()
        objs_before = len(gc.get_objects())
        for k in range(9):
            round_trip(10_000, (k + 1) * 10_000)
            queue.purge(older_than=0)
        gc.collect()
        after = rss_mb()
        objs_after = len(gc.get_objects())
    finally:
        w.stop()
    stats = w.stats()
    assert stats["succeeded"] == 100_000 and stats["failed"] == 0
    print("RSS %.1f MB -> %.1f MB after 100k tasks; gc objects %d -> %d"
          % (before, after, objs_before, objs_after))
    with open(os.path.join(os.environ.get("SITQ_MEASURE_DIR", "/tmp"),
                           "sitq_py_memory.txt"), "w") as f:
        f.write("%.1f %.1f %d %d\n" % (before, after, objs_before, objs_after))
    assert after - before < 25, (before, after)
    assert objs_after - objs_before < 1000, (objs_before, objs_after)
    assert sitq.held_functions() == held
