"""sitq.aio: event-loop latency while 10,000 coroutines await results.

    PYTHONPATH=build/python /usr/bin/python3 bench/aio_latency.py [--db TARGET]
        [--awaits N] [--seconds S] [--json FILE]

A 1 ms ticker (asyncio.sleep(0.001) in a loop) measures how late the event
loop runs each tick, in two phases of one run:
  baseline   the ticker alone for S seconds (default 5);
  awaiting   the ticker while N (default 10,000) coroutines await
             queue.get_result(id) of tasks that a worker in another process
             (a thread-mode sitq.Worker, 2 threads) completes one by one
             (each sleeps 1 ms), until every await resolved.
Printed per phase: ticks, p50, p99 and max lateness (ms), and the ratio of
the awaiting p99 to the baseline p99. TARGET is a SQLite file (default: a
temporary one) or a postgresql:// URI. --json writes every figure."""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

WORKER = r"""
import sys, signal, sitq
target = sys.argv[1]
b = sitq.PostgresBackend(target) if target.startswith("postgres") else sitq.SQLiteBackend(target)
w = sitq.Worker(sitq.TaskQueue(b), concurrency=2)
signal.signal(signal.SIGTERM, lambda *a: w.stop())
w.run(until_empty=True, eta_bound=0)
"""


def tiny(x):
    time.sleep(0.001)
    return x


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


async def ticker(stop, late_ms, threads=None):
    """Tick until stop; threads (a list) gets the most OS threads seen."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(0.001)
        late_ms.append((loop.time() - t0 - 0.001) * 1000.0)
        if threads is not None and len(late_ms) % 100 == 0:
            threads[0] = max(threads[0], len(os.listdir("/proc/self/task")))


def summary(name, late):
    return {"phase": name, "ticks": len(late), "p50_ms": statistics.median(late),
            "p99_ms": pct(late, 99), "max_ms": max(late)}


async def measure(target, n, seconds):
    import sitq
    import sitq.aio as aio

    backend = (sitq.PostgresBackend(target) if target.startswith("postgres")
               else sitq.SQLiteBackend(target))
    q = aio.TaskQueue(backend)
    ids = await q.enqueue_batch([sitq.Task(tiny, args=[i]) for i in range(n)])

    stop = asyncio.Event()
    base = []
    t = asyncio.ensure_future(ticker(stop, base))
    await asyncio.sleep(seconds)
    stop.set()
    await t

    stop = asyncio.Event()
    busy = []
    waits = [asyncio.ensure_future(q.get_result(i, timeout=3600)) for i in ids]
    threads_awaiting = [0]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", WORKER, target], env=env)
    t = asyncio.ensure_future(ticker(stop, busy, threads_awaiting))
    results = await asyncio.gather(*waits)
    elapsed = time.monotonic() - t0
    stop.set()
    await t
    proc.wait(timeout=60)
    assert all(r.status == "succeeded" for r in results)
    q.close()
    return [summary("baseline", base), summary("awaiting", busy)], elapsed, threads_awaiting[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db")
    ap.add_argument("--awaits", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--json")
    a = ap.parse_args()
    sys.path.insert(0, HERE)  # this module, for the worker process to load `tiny`
    with tempfile.TemporaryDirectory() as d:
        target = a.db or os.path.join(d, "aio.db")
        import aio_latency  # noqa: F401 - so that tasks name aio_latency.tiny
        phases, elapsed, threads = asyncio.run(aio_latency.measure(target, a.awaits, a.seconds))
    for p in phases:
        print("%-9s ticks %6d  p50 %.3f ms  p99 %.3f ms  max %.3f ms"
              % (p["phase"], p["ticks"], p["p50_ms"], p["p99_ms"], p["max_ms"]))
    ratio = phases[1]["p99_ms"] / phases[0]["p99_ms"] if phases[0]["p99_ms"] > 0 else float("nan")
    print("%d awaits resolved in %.2f s; most OS threads of this process while awaiting: %d; "
          "p99 ratio awaiting/baseline %.2f" % (a.awaits, elapsed, threads, ratio))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"phases": phases, "awaits": a.awaits, "elapsed_s": elapsed,
                       "os_threads": threads, "p99_ratio": ratio}, f, indent=1)


if __name__ == "__main__":
    main()
