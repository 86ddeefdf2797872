"""The Python pipeline job timed with the tools Python users would pick, and a
fan-in of many parents into one child.

    /usr/bin/python3 bench/python_pipeline_bench.py --dir DIR [--data CSV] [--rows N]
        [--chunks 60] [--processes 2] [--fanin 10000] [--only LIST] [--run R] [--json FILE]
        [--build DIR]

Part 1, the job: the flights file (``--data``, or $SITQ_FLIGHTS_3M: the
3-million-row file, not shipped; without it the bundled 200,000 rows
replicated 15 times, 3,000,000 rows, and the figures say so) is read and cut
into ``--chunks`` chunks of CSV bytes once; then each system runs
``flights_pipeline.transform_chunk`` (examples/python/flights_pipeline.py:
pandas parsing, validation and groupby, CPU-bound) on every chunk with
``--processes`` worker processes and the partial aggregates are merged.
Timed: from handing over the first chunk to the merged aggregate in the
main process, with the workers already started and warm (their start is
reported apart, as startup_s). Systems, one after another in this order:

  pool           multiprocessing.Pool(P).map(transform_chunk, chunks, chunksize=1)
  ppe            concurrent.futures.ProcessPoolExecutor(P).map(...)
  dask           distributed.LocalCluster(n_workers=P, threads_per_worker=1,
                 processes=True): client.map, then client.gather
  celery         redis-server on 127.0.0.1 (as bench/peers/celery/bench.py) and
                 `celery worker -c P` (prefork); .delay per chunk, then .get
  sitq-executor  sitq.Executor(DB, max_workers=P).map(...) (SQLite, its own
                 worker processes)
  sitq-result_of one enqueue_batch of the chunk tasks and a merge task whose
                 argument is [sitq.result_of(t) for t in chunk tasks]; workers:
                 `python -m sitq worker DB --concurrency P`; timed until the
                 merge task's result is read

Each system runs in a fresh interpreter of its own (so that no thread a
previous system's client left behind shares its process) that reads the
chunks again, untimed. Every system's merged aggregate is compared with the
Pool's (equal, or the run fails). Figures: system, scenario "py_pipeline", variant the data
("3m", "200k-x15"), metrics wall_s, startup_s and cpu_s (the CPU seconds of
all the system's processes over its whole run, start and stop included: on
a loaded machine the wall times spread, this figure much less).

Part 2, fan-in (system "sitq-python", scenario "fanin", variant N): N no-op
tasks enqueued in one batch and drained by sitq.Worker(queue,
concurrency=2) in this process (noop_tasks_per_s, from the worker's start
until all succeeded); then, on a fresh database, N no-op parents and one
child whose argument is [sitq.result_of(p) for p in parents], drained the
same way until the child succeeded (graph_tasks_per_s, N + 1 tasks), and
child_start_ms: the child's stored started_at minus the latest finished_at
of its parents (the child's start is stamped when its function is called,
after its 10,000 argument values were read); graph_vs_noop is their ratio of
rates. Then the same graph with a child that only names the parents in
depends_on (no values): depends_on_child_start_ms and
depends_on_graph_tasks_per_s, the engine's join alone.
"""
import argparse
import gc
import json
import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples", "python")
CELERY_DIR = os.path.join(HERE, "peers", "celery")
SYSTEMS = ("pool", "ppe", "dask", "celery", "sitq-executor", "sitq-result_of")


def noop():
    return None


def count(values):
    return len(values)


def merge_equal(a, b):
    """True when two merged aggregates (flights_pipeline.merge_partials) agree."""
    return (a["rows"], a["bad"]) == (b["rows"], b["bad"]) and all(
        a[k].equals(b[k]) for k in ("by_origin", "by_day"))


def _cpu_s():
    """CPU seconds (user + system) of this process and of its ended children
    (and theirs): around a system's run, the CPU its processes used, start,
    warm-up and stop included, whatever else runs on the machine."""
    import resource
    t = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        t += r.ru_utime + r.ru_stime
    return t


def load_chunks(a):
    import flights_pipeline as fp
    path = a.data or os.environ.get("SITQ_FLIGHTS_3M") or ""
    if path:
        data, variant = fp.read_bytes(path), "3m"
    else:
        data = fp.read_bytes(os.path.join(ROOT, "data", "flights-200k.csv.gz"))
        header, body = data.split(b"\n", 1)
        data, variant = header + b"\n" + body * 15, "200k-x15"
    if a.rows:
        cut = 0
        for _ in range(a.rows + 1):
            cut = data.find(b"\n", cut) + 1
            if cut == 0:
                cut = len(data)
                break
        data = data[:cut]
        variant += "-first%d" % a.rows
    _, chunks = fp.split_records(data, a.chunks)
    rows = sum(c.count(b"\n") - 1 for c in chunks)
    return chunks, variant, rows


# ---- the systems ------------------------------------------------------------------
# Each returns (startup_s, wall_s, merged); the workers are started and warmed
# (each has run transform_chunk on a 2-row chunk, so that pandas and the
# task's code are loaded) before the clock starts and stopped after it stopped.

def run_pool(chunks, p, a):
    import flights_pipeline as fp
    t = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(p) as pool:
        pool.map(fp.transform_chunk, [_tiny_chunk(chunks)] * (4 * p), chunksize=1)
        startup = time.perf_counter() - t
        t0 = time.perf_counter()
        parts = pool.map(fp.transform_chunk, chunks, chunksize=1)
        merged = fp.merge_partials(parts)
        wall = time.perf_counter() - t0
    return startup, wall, merged


def run_ppe(chunks, p, a):
    import concurrent.futures
    import flights_pipeline as fp
    t = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(p) as ex:
        list(ex.map(fp.transform_chunk, [_tiny_chunk(chunks)] * (4 * p)))
        startup = time.perf_counter() - t
        t0 = time.perf_counter()
        parts = list(ex.map(fp.transform_chunk, chunks, range(len(chunks))))
        merged = fp.merge_partials(parts)
        wall = time.perf_counter() - t0
    return startup, wall, merged


def run_dask(chunks, p, a):
    import flights_pipeline as fp
    from distributed import Client, LocalCluster
    warnings.filterwarnings("ignore", module="distributed")
    t = time.perf_counter()
    cluster = LocalCluster(n_workers=p, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR,
                           local_directory=a.dir)
    client = Client(cluster)
    try:
        client.run(fp.transform_chunk, _tiny_chunk(chunks))  # on every worker
        startup = time.perf_counter() - t
        t0 = time.perf_counter()
        futures = client.map(fp.transform_chunk, chunks, range(len(chunks)), pure=False)
        merged = fp.merge_partials(client.gather(futures))
        wall = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
    return startup, wall, merged


def _celery_env(url):
    env = dict(os.environ, SITQ_BENCH_REDIS=url)
    env["PYTHONPATH"] = os.pathsep.join([CELERY_DIR, EXAMPLES] + sys.path[1:])
    return env


def run_celery(chunks, p, a):
    import flights_pipeline as fp
    sys.path.insert(0, CELERY_DIR)
    from bench import free_port  # bench/peers/celery/bench.py
    tmp = tempfile.mkdtemp(prefix="celery-pipeline-", dir=a.dir)
    port = free_port()
    url = "redis://127.0.0.1:%d" % port
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp, "--daemonize", "no"],
        stdout=open(os.path.join(tmp, "redis.log"), "w"), stderr=subprocess.STDOUT)
    worker = None
    pending = []
    try:
        os.environ["SITQ_BENCH_REDIS"] = url
        import pipeline_tasks
        t = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "pipeline_tasks", "worker", "-c", str(p),
             "--pool", "prefork", "-l", "WARNING", "--without-gossip", "--without-mingle"],
            cwd=CELERY_DIR, env=_celery_env(url), stdout=open(os.path.join(tmp, "worker.log"), "w"),
            stderr=subprocess.STDOUT)
        pids = set()
        while len(pids) < p:
            tiny = _tiny_chunk(chunks).decode("utf-8")
            pids.update(r.get(timeout=120) for r in
                        [pipeline_tasks.warm.delay(tiny) for _ in range(2 * p)])
        startup = time.perf_counter() - t
        texts = [c.decode("utf-8") for c in chunks]
        t0 = time.perf_counter()
        pending = [pipeline_tasks.transform.delay(x, i) for i, x in enumerate(texts)]
        merged = fp.merge_partials([r.get(timeout=1800) for r in pending])
        wall = time.perf_counter() - t0
    finally:
        # An AsyncResult unsubscribes when it is freed: free them (some are
        # in reference cycles) while redis still runs.
        del pending[:]
        gc.collect()
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        redis.send_signal(signal.SIGTERM)
        try:
            redis.wait(10)
        except subprocess.TimeoutExpired:
            redis.kill()
            redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return startup, wall, merged


def _fresh_db(a, name):
    path = os.path.join(a.dir, "%s-%d.db" % (name, os.getpid()))
    _remove_db(path)
    return path


def _remove_db(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def _tiny_chunk(chunks):
    head = chunks[0].split(b"\n", 3)
    return b"\n".join(head[:3]) + b"\n"


def run_sitq_executor(chunks, p, a):
    import flights_pipeline as fp
    import pipeline_warm
    import sitq
    db = _fresh_db(a, "pipeline-executor")
    t = time.perf_counter()
    with sitq.Executor(db, max_workers=p) as ex:
        seen = set()
        while len(seen) < p:  # every task process has imported pandas and the task module
            fs = [ex.submit(pipeline_warm.warm, _tiny_chunk(chunks)) for _ in range(2 * p)]
            seen.update(f.result(timeout=120) for f in fs)
        startup = time.perf_counter() - t
        t0 = time.perf_counter()
        parts = list(ex.map(fp.transform_chunk, chunks, range(len(chunks))))
        merged = fp.merge_partials(parts)
        wall = time.perf_counter() - t0
    _remove_db(db)
    return startup, wall, merged


def run_sitq_result_of(chunks, p, a):
    import flights_pipeline as fp
    import pipeline_warm
    import sitq
    db = _fresh_db(a, "pipeline-result-of")
    queue = sitq.TaskQueue(backend=sitq.SQLiteBackend(db))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p_ for p_ in sys.path if p_)
    t = time.perf_counter()
    workers = subprocess.Popen([sys.executable, "-m", "sitq", "worker", db, "--concurrency",
                                str(p), "--path", EXAMPLES, "--quiet"], env=env)
    try:
        seen = set()
        while len(seen) < p:  # every task process has imported pandas and the task module
            ids = queue.enqueue_batch([sitq.Task(pipeline_warm.warm, args=[_tiny_chunk(chunks)])
                                       for _ in range(2 * p)])
            seen.update(queue.get_result(i, timeout=120).unwrap() for i in ids)
        startup = time.perf_counter() - t
        t0 = time.perf_counter()
        parts = [sitq.Task(fp.transform_chunk, args=[c, i]) for i, c in enumerate(chunks)]
        merge = sitq.Task(fp.aggregate_partials, args=[[sitq.result_of(x) for x in parts]])
        ids = queue.enqueue_batch(parts + [merge])
        merged = queue.get_result(ids[-1], timeout=1800).unwrap()
        wall = time.perf_counter() - t0
    finally:
        workers.send_signal(signal.SIGTERM)
        try:
            workers.wait(60)
        except subprocess.TimeoutExpired:
            workers.kill()
            workers.wait()
    del queue
    _remove_db(db)
    return startup, wall, merged


RUNNERS = {"pool": run_pool, "ppe": run_ppe, "dask": run_dask, "celery": run_celery,
           "sitq-executor": run_sitq_executor, "sitq-result_of": run_sitq_result_of}


# ---- fan-in --------------------------------------------------------------------------

def _drain(sitq, queue, wait_id, n_total):
    worker = sitq.Worker(queue, concurrency=2)
    t0 = time.perf_counter()
    worker.start()
    queue.get_result(wait_id, timeout=600)
    while queue.get_stats()["succeeded"] < n_total:
        time.sleep(0.001)
    t = time.perf_counter() - t0
    worker.stop()
    return t


def fanin(a, emit):
    import sitq
    n = a.fanin
    db = _fresh_db(a, "fanin-noop")
    queue = sitq.TaskQueue(backend=sitq.SQLiteBackend(db))
    ids = queue.enqueue_batch([sitq.Task(noop) for _ in range(n)])
    noop_rate = n / _drain(sitq, queue, ids[-1], n)
    del queue
    _remove_db(db)

    db = _fresh_db(a, "fanin-graph")
    queue = sitq.TaskQueue(backend=sitq.SQLiteBackend(db))
    parents = [sitq.Task(noop) for _ in range(n)]
    child = sitq.Task(count, args=[[sitq.result_of(x) for x in parents]])
    t0 = time.perf_counter()
    ids = queue.enqueue_batch(parents + [child])
    enqueue_s = time.perf_counter() - t0
    graph_rate = (n + 1) / _drain(sitq, queue, ids[-1], n + 1)
    res = queue.get_result(ids[-1])
    if res.value != n:
        raise SystemExit("fan-in: the child saw %r values, not %d" % (res.value, n))
    last_parent = max(queue.get_result(i).finished_at for i in ids[:-1])
    start_ms = (res.started_at - last_parent).total_seconds() * 1000.0
    del queue
    _remove_db(db)

    # The same graph with a plain depends_on child (no values passed): the
    # engine's join alone, without reading the parents' results.
    db = _fresh_db(a, "fanin-deps")
    queue = sitq.TaskQueue(backend=sitq.SQLiteBackend(db))
    parents = [sitq.Task(noop) for _ in range(n)]
    ids = queue.enqueue_batch(parents + [sitq.Task(noop, depends_on=parents)])
    deps_rate = (n + 1) / _drain(sitq, queue, ids[-1], n + 1)
    last_parent = max(queue.get_result(i).finished_at for i in ids[:-1])
    deps_start_ms = (queue.get_result(ids[-1]).started_at - last_parent).total_seconds() * 1000.0
    del queue
    _remove_db(db)
    emit("sitq-python", "fanin", str(n), "noop_tasks_per_s", noop_rate, "tasks/s")
    emit("sitq-python", "fanin", str(n), "graph_tasks_per_s", graph_rate, "tasks/s")
    emit("sitq-python", "fanin", str(n), "graph_vs_noop", graph_rate / noop_rate, "ratio")
    emit("sitq-python", "fanin", str(n), "child_start_ms", start_ms, "ms")
    emit("sitq-python", "fanin", str(n), "child_run_ms", res.duration * 1000.0, "ms")
    emit("sitq-python", "fanin", str(n), "graph_enqueue_s", enqueue_s, "s")
    emit("sitq-python", "fanin", str(n), "depends_on_child_start_ms", deps_start_ms, "ms")
    emit("sitq-python", "fanin", str(n), "depends_on_graph_tasks_per_s", deps_rate, "tasks/s")


def one_system(a):
    """--system NAME: run that system once in this fresh interpreter and
    pickle its figures and merged aggregate to --result-out."""
    import pickle
    t = time.perf_counter()
    chunks, variant, rows = load_chunks(a)
    print("python_pipeline_bench: %s: %d rows (%s) in %d chunks, read in %.1f s"
          % (a.system, rows, variant, len(chunks), time.perf_counter() - t), file=sys.stderr)
    cpu0 = _cpu_s()
    startup, wall, merged = RUNNERS[a.system](chunks, a.processes, a)
    cpu = _cpu_s() - cpu0
    with open(a.result_out, "wb") as f:
        pickle.dump({"variant": variant, "rows": rows, "startup": startup, "wall": wall,
                     "cpu": cpu, "merged": merged}, f)


def _isolated(a, name):
    """Run one system in its own interpreter (nothing a previous system
    left behind, such as a client's threads, shares its process); its
    figures, or None when it failed."""
    import pickle
    out = os.path.join(a.dir, "pipeline-result-%d.pickle" % os.getpid())
    cmd = [sys.executable, os.path.abspath(__file__), "--system", name, "--result-out", out,
           "--dir", a.dir, "--rows", str(a.rows), "--chunks", str(a.chunks),
           "--processes", str(a.processes), "--build", a.build]
    if a.data:
        cmd += ["--data", a.data]
    try:
        os.remove(out)
    except FileNotFoundError:
        pass
    proc = subprocess.run(cmd)
    if proc.returncode != 0 or not os.path.exists(out):
        print("python_pipeline_bench: %s failed (exit status %s)" % (name, proc.returncode),
              file=sys.stderr)
        return None
    with open(out, "rb") as f:
        result = pickle.load(f)
    os.remove(out)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=os.path.join(HERE, "work"))
    ap.add_argument("--data", help="flights CSV (default $SITQ_FLIGHTS_3M, else the bundled "
                                   "file replicated 15 times)")
    ap.add_argument("--rows", type=int, default=0, help="only the first N rows (0: all)")
    ap.add_argument("--chunks", type=int, default=60)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--fanin", type=int, default=10000)
    ap.add_argument("--only", default=",".join(SYSTEMS + ("fanin",)),
                    help="comma list of %s,fanin" % ",".join(SYSTEMS))
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--system", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--result-out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.dir = os.path.abspath(a.dir)
    a.build = os.path.abspath(a.build)
    a.variant = None
    os.makedirs(a.dir, exist_ok=True)
    sys.path[1:1] = [os.path.join(os.path.abspath(a.build), "python"), EXAMPLES]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(os.path.abspath(a.build), "python"), EXAMPLES]
        + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x])

    def emit(system, scenario, variant, metric, value, unit):
        line = json.dumps({"system": system, "scenario": scenario, "variant": variant,
                           "metric": metric, "value": value, "unit": unit, "run": a.run})
        print(line, flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(line + "\n")

    only = [s for s in a.only.split(",") if s]
    unknown = set(only) - set(SYSTEMS) - {"fanin"}
    if unknown:
        ap.error("unknown part(s): %s" % ", ".join(sorted(unknown)))
    systems = [s for s in SYSTEMS if s in only]
    if a.system:
        return one_system(a)
    if systems:
        reference = None
        for name in systems:
            result = _isolated(a, name)
            if result is None:  # a peer that cannot run is left out, with its reason
                emit(name, "py_pipeline", a.variant or "?", "available", 0, "bool")
                continue
            variant = result["variant"]
            if reference is None:
                reference = result["merged"]
                emit("pipeline", "py_pipeline", variant, "rows", result["rows"], "rows")
            elif not merge_equal(reference, result["merged"]):
                raise SystemExit("python_pipeline_bench: %s computed another aggregate" % name)
            a.variant = variant
            print("python_pipeline_bench: %-15s %.2f s (workers ready in %.2f s, %.1f CPU s)"
                  % (name, result["wall"], result["startup"], result["cpu"]), file=sys.stderr)
            emit(name, "py_pipeline", variant, "wall_s", result["wall"], "s")
            emit(name, "py_pipeline", variant, "startup_s", result["startup"], "s")
            emit(name, "py_pipeline", variant, "cpu_s", result["cpu"], "s")
    if "fanin" in only:
        fanin(a, emit)


if __name__ == "__main__":
    main()
