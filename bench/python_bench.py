"""sitq through its Python binding: no-op Python tasks end-to-end and enqueue.

    /usr/bin/python3 bench/python_bench.py --tasks N --dir DIR [--run R] [--json FILE]

Imports `sitq` from build/python (the CPython extension built by CMake). When
the binding cannot be imported, prints one "available = 0" figure and exits 0,
so that the report shows "not available" instead of failing the whole run.

Figures (system "sitq-python", synchronous NORMAL):
  enqueue_single  queue.enqueue(Task) one call (one commit) at a time
                  (stops after 2 s on a slow disk)
  enqueue_batch   queue.enqueue_batch of N Tasks in one call
  e2e             N no-op tasks enqueued with enqueue_batch, then drained by
                  sitq.Worker(queue, concurrency=2) in this process: from
                  worker.start() until every task is recorded succeeded.

With --pg URI (bench/pg_part.sh), only the PostgreSQL end-to-end drain runs,
against that server (schema sitq_bench_py, made afresh): figures of system
"sitq-python", scenario "pg_e2e", variant "durable": tasks_per_s,
tasks_per_worker_commit and commits_per_task (the database's transactions
over the drain, pg_stat_database.xact_commit, read through psql)."""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def noop():
    return None


def pg_xacts(uri):
    """Transactions committed so far in the URI's database, read from template1
    once no client session is left in it (each flushes its counts as it ends)."""
    db = urllib.parse.urlsplit(uri).path.lstrip("/") or "postgres"
    other = urllib.parse.urlsplit(uri)._replace(path="/template1").geturl()

    def q(sql):
        return int(subprocess.check_output(["psql", "-XAtq", "-d", other, "-c", sql]).strip())
    end = time.monotonic() + 10
    while q("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
            "AND backend_type = 'client backend'" % db) and time.monotonic() < end:
        time.sleep(0.005)
    time.sleep(0.02)
    return q("SELECT xact_commit FROM pg_stat_database WHERE datname = '%s'" % db)


def pg_e2e(sitq, uri, n, emit):
    schema = "sitq_bench_py"
    subprocess.check_call(["psql", "-XAtq", "-d", uri, "-c",
                           "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE" % schema])
    backend = sitq.PostgresBackend(uri, schema=schema)
    queue = sitq.TaskQueue(backend=backend)
    ids = queue.enqueue_batch([sitq.Task(function=noop, args=[]) for _ in range(n)])
    del queue, backend
    x0 = pg_xacts(uri)
    backend = sitq.PostgresBackend(uri, schema=schema)
    queue = sitq.TaskQueue(backend=backend)
    worker = sitq.Worker(queue, concurrency=2)
    t1 = time.perf_counter()
    worker.start()
    queue.get_result(ids[-1], timeout=600)
    while queue.get_stats()["succeeded"] < n:
        time.sleep(0.001)
    worker.stop()
    t2 = time.perf_counter()
    stats = worker.stats()
    del worker, queue, backend
    emit("pg_e2e", "tasks_per_s", n / (t2 - t1), "tasks/s")
    emit("pg_e2e", "tasks_per_worker_commit", n / max(1, stats.get("commits", 1)), "tasks")
    emit("pg_e2e", "commits_per_task", (pg_xacts(uri) - x0) / n, "commits")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--dir", default=".")
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--pg", help="PostgreSQL URI: run only the PostgreSQL end-to-end drain")
    a = ap.parse_args()

    def emit(scenario, metric, value, unit):
        line = json.dumps({"system": "sitq-python", "scenario": scenario,
                           "variant": "durable" if a.pg else "NORMAL",
                           "metric": metric, "value": value, "unit": unit, "run": a.run})
        print(line, flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(line + "\n")

    sys.path.insert(0, os.path.join(os.path.abspath(a.build), "python"))
    try:
        import sitq
        sitq.SQLiteBackend, sitq.TaskQueue, sitq.Task, sitq.Worker  # noqa: B018
    except Exception as e:  # ImportError, AttributeError: binding not built yet
        print("sitq Python binding not available: %s" % e, file=sys.stderr)
        emit("e2e", "available", 0, "bool")
        return

    n = a.tasks
    if a.pg:
        pg_e2e(sitq, a.pg, n, emit)
        return
    os.makedirs(a.dir, exist_ok=True)

    def remove(path):
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass

    def fresh(name):
        path = os.path.join(a.dir, "%s-%d.db" % (name, os.getpid()))
        remove(path)
        return path

    # One enqueue call at a time.
    path = fresh("py-enqueue")
    backend = sitq.SQLiteBackend(path, synchronous="normal")
    queue = sitq.TaskQueue(backend=backend)
    t0 = time.perf_counter()
    end = t0 + 2.0
    done = 0
    while done < n and (done & 15 or time.perf_counter() < end):
        queue.enqueue(sitq.Task(function=noop, args=[]))
        done += 1
    emit("enqueue_single", "tasks_per_s", done / (time.perf_counter() - t0), "tasks/s")
    del queue, backend
    remove(path)

    # A batch, then drained by a 2-thread worker.
    path = fresh("py-e2e")
    backend = sitq.SQLiteBackend(path, synchronous="normal")
    queue = sitq.TaskQueue(backend=backend)
    tasks = [sitq.Task(function=noop, args=[]) for _ in range(n)]
    t0 = time.perf_counter()
    ids = queue.enqueue_batch(tasks)
    t1 = time.perf_counter()
    emit("enqueue_batch", "tasks_per_s", n / (t1 - t0), "tasks/s")
    worker = sitq.Worker(queue, concurrency=2)
    t1 = time.perf_counter()
    worker.start()
    # Tasks run about in FIFO order: wait for the last (a condition variable
    # wakes this at its commit), then for any stragglers.
    queue.get_result(ids[-1], timeout=600)
    while queue.get_stats()["succeeded"] < n:
        time.sleep(0.001)
    t2 = time.perf_counter()
    worker.stop()
    stats = worker.stats()
    emit("e2e", "available", 1, "bool")
    emit("e2e", "tasks_per_s", n / (t2 - t1), "tasks/s")
    emit("e2e", "tasks_per_commit", n / max(1, stats.get("commits", 1)), "tasks")
    del worker, queue, backend
    remove(path)


if __name__ == "__main__":
    main()
