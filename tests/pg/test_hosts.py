"""Several hosts on one PostgreSQL queue: two groups of worker processes
(`python -m sitq worker URI --concurrency 2 --pool thread`: two claiming
worker processes each), host A connected directly and
host B through a proxy on 127.0.0.1 that delays each direction by 1 ms (a
round trip 2 ms longer, as to another machine), run the data pipeline of
docs/data-processing.md: chunks processed in parallel, then an aggregate
that depends on every chunk, then a load that depends on the aggregate. One
pipeline is enqueued from each host. Run under tests/pg/with_pg.sh."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

import sitq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hosts_tasks as tasks  # noqa: E402

PG_URI = os.environ.get("SITQ_TEST_PG_URI")
pytestmark = pytest.mark.skipif(not PG_URI, reason="needs tests/pg/with_pg.sh")

DELAY_MS = 1
CHUNKS = 24
CHUNK_SIZE = 50


def with_port(uri, port):
    parts = urlsplit(uri)
    netloc = "%s@127.0.0.1:%d" % (parts.username, port)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture
def proxy_port():
    port = urlsplit(PG_URI).port
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "link_proxy.py"), str(port),
                             "--delay-ms", str(DELAY_MS)], stdout=subprocess.PIPE, text=True)
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()


def min_call_s(queue, task_id, n=20):
    """The quickest of n reads of a task's status: at least one round trip
    to the server each."""
    best = None
    for _ in range(n):
        t0 = time.perf_counter()
        queue.get_task_status(task_id)
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return best


class Host:
    """A group of worker processes: one `python -m sitq worker` with a pool
    of two, all reaching the server by db."""

    def __init__(self, name, db):
        self.name, self.db = name, db
        env = dict(os.environ, SITQ_TEST_HOST=name, SITQ_TEST_HOST_DB=db)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sitq", "worker", db, "--path", HERE, "--concurrency", "2",
             "--pool", "thread"],
            env=env, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.serving = threading.Semaphore(0)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if "serving queue" in line:
                self.serving.release()

    def wait_serving(self, n, timeout=60):
        for _ in range(n):
            assert self.serving.acquire(timeout=timeout), "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # a graceful stop of the pool
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.reader.join(timeout=10)
        return code


def enqueue_pipeline(queue, pipeline, destination):
    records = tasks.make_records(pipeline, CHUNKS * CHUNK_SIZE)
    chunks = [records[i:i + CHUNK_SIZE] for i in range(0, len(records), CHUNK_SIZE)]
    chunk_ids = queue.enqueue_batch(
        [sitq.Task(tasks.process_chunk, args=[c, i]) for i, c in enumerate(chunks)])
    agg = queue.enqueue(sitq.Task(tasks.aggregate_data, args=[chunk_ids], depends_on=chunk_ids))
    load = queue.enqueue(sitq.Task(tasks.load_data, args=[agg, destination], depends_on=[agg]))
    return records, chunk_ids, agg, load


def expected_aggregate(records):
    values = [r["value"] for r in records]
    cats = {}
    for r in records:
        cats[r["category"]] = cats.get(r["category"], 0) + 1
    return {"total_records": len(records),
            "value_stats": {"sum": sum(values), "min": min(values), "max": max(values)},
            "category_distribution": cats, "chunks": list(range(CHUNKS))}


def check_pipeline(queue, records, chunk_ids, agg, load, destination):
    load_r = queue.get_result(load, timeout=60)
    assert load_r.status == "succeeded", load_r.error
    assert load_r.value == CHUNKS * CHUNK_SIZE
    chunk_rs = [queue.get_result(i, timeout=0) for i in chunk_ids]
    assert [r.status for r in chunk_rs] == ["succeeded"] * CHUNKS
    assert [r.value["chunk_id"] for r in chunk_rs] == list(range(CHUNKS))
    assert all(r.value["processed_count"] == CHUNK_SIZE and r.attempts == 1 for r in chunk_rs)
    agg_r = queue.get_result(agg, timeout=0)
    assert agg_r.status == "succeeded" and agg_r.attempts == 1
    value = dict(agg_r.value)
    assert value.pop("host") in ("A", "B")
    assert value == expected_aggregate(records)
    # The chain's order (the hosts share this machine's clock).
    assert agg_r.started_at >= max(r.finished_at for r in chunk_rs)
    assert load_r.started_at >= agg_r.finished_at
    with open(destination) as f:
        assert json.load(f) == agg_r.value
    return chunk_rs


def test_two_hosts_one_behind_2ms_run_the_pipeline(proxy_port, tmp_path):
    schema = "hosts_" + uuid.uuid4().hex[:12]
    sep = "&" if "?" in PG_URI else "?"
    db_a = PG_URI + sep + "sitq_schema=" + schema
    db_b = with_port(PG_URI, proxy_port) + sep + "sitq_schema=" + schema
    queue_a = sitq.TaskQueue(backend=sitq.PostgresBackend(db_a))     # creates the schema
    queue_b = sitq.TaskQueue(backend=sitq.PostgresBackend(db_b))
    # Host B's path really is 2 ms longer per round trip.
    probe = queue_a.enqueue(tasks.make_records, 0, 1)
    direct_s, proxied_s = min_call_s(queue_a, probe), min_call_s(queue_b, probe)
    assert proxied_s >= 2 * DELAY_MS / 1000.0, (direct_s, proxied_s)
    assert queue_a.cancel(probe) == "cancelled"

    t0 = time.monotonic()
    hosts = [Host("A", db_a), Host("B", db_b)]
    try:
        for h in hosts:
            h.wait_serving(2)
        t1 = time.monotonic()
        dests = [str(tmp_path / "load_a.json"), str(tmp_path / "load_b.json")]
        runs = [enqueue_pipeline(queue_a, 1, dests[0]), enqueue_pipeline(queue_b, 2, dests[1])]
        chunk_rs = []
        for q, run, dest in zip((queue_a, queue_b), runs, dests):
            chunk_rs += check_pipeline(q, *run, dest)
        t2 = time.monotonic()
    finally:
        codes = [h.stop() for h in hosts]
    out = "".join(hosts[0].lines + hosts[1].lines)
    assert codes == [0, 0], out
    by_host = {}
    for r in chunk_rs:
        by_host.setdefault(r.value["host"], set()).add(r.value["pid"])
    # Both hosts ran chunks, each from its own two processes at most.
    assert set(by_host) == {"A", "B"}, by_host
    assert all(1 <= len(p) <= 2 for p in by_host.values()), by_host
    assert not by_host["A"] & by_host["B"]
    stats = queue_a.get_stats()
    assert (stats["succeeded"], stats["cancelled"], stats["total"]) == (2 * (CHUNKS + 2), 1,
                                                                         2 * (CHUNKS + 2) + 1)
    print("hosts: a status read takes %.2f ms direct, %.2f ms via the proxy; %d tasks; workers "
          "up in %.2f s, pipelines done in %.2f s; chunks per host %s" % (
              direct_s * 1000, proxied_s * 1000, 2 * (CHUNKS + 2), t1 - t0, t2 - t1,
              {h: sum(1 for r in chunk_rs if r.value["host"] == h) for h in by_host}))
