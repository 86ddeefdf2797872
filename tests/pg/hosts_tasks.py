"""hosts_tasks.py - the data pipeline of docs/data-processing.md as task
functions for worker processes on several "hosts" (tests/pg/test_hosts.py):
chunks processed in parallel, then aggregate_data (which depends on every
chunk) and load_data (which depends on the aggregate).

A worker process learns which host it plays from SITQ_TEST_HOST and reaches
the database the way that host does through SITQ_TEST_HOST_DB (directly or
through the delaying proxy). Values are integers, so that the results are
exact.
"""
import json
import os
import time

import sitq

_QUEUE = None


def _queue():
    """This host's queue (opened once per process)."""
    global _QUEUE
    if _QUEUE is None:
        _QUEUE = sitq.TaskQueue(backend=sitq.PostgresBackend(os.environ["SITQ_TEST_HOST_DB"]))
    return _QUEUE


def make_records(pipeline, n):
    """The pipeline's input: n records with integer values and 3 categories."""
    return [{"id": i, "value": (i * 7919 + pipeline * 104729) % 1000 - 500,
             "category": "ABC"[i % 3]} for i in range(n)]


def process_chunk(chunk_data, chunk_id):
    """Process one chunk: about 50 ms of work, then its partial sums."""
    time.sleep(0.05)
    categories = {}
    for record in chunk_data:
        categories[record["category"]] = categories.get(record["category"], 0) + 1
    values = [record["value"] for record in chunk_data]
    return {"chunk_id": chunk_id, "processed_count": len(chunk_data), "sum": sum(values),
            "min": min(values), "max": max(values), "categories": categories,
            "host": os.environ["SITQ_TEST_HOST"], "pid": os.getpid()}


def aggregate_data(chunk_task_ids):
    """Combine the chunks' results, read from the queue (they all succeeded:
    this task depends on them)."""
    queue = _queue()
    chunks = [queue.get_result(i, timeout=0).value for i in chunk_task_ids]
    categories = {}
    for c in chunks:
        for k, v in c["categories"].items():
            categories[k] = categories.get(k, 0) + v
    return {"total_records": sum(c["processed_count"] for c in chunks),
            "value_stats": {"sum": sum(c["sum"] for c in chunks),
                            "min": min(c["min"] for c in chunks),
                            "max": max(c["max"] for c in chunks)},
            "category_distribution": categories,
            "chunks": sorted(c["chunk_id"] for c in chunks),
            "host": os.environ["SITQ_TEST_HOST"]}


def load_data(aggregate_task_id, destination):
    """Write the aggregate to destination (JSON); returns the records loaded."""
    aggregate = _queue().get_result(aggregate_task_id, timeout=0).value
    with open(destination + ".tmp", "w") as f:
        json.dump(aggregate, f, sort_keys=True)
    os.replace(destination + ".tmp", destination)
    return aggregate["total_records"]
