"""Celery peer of the sitq benchmark: one no-op task.

The broker and the result backend are the redis-server that bench.py starts
on 127.0.0.1 (URL from SITQ_BENCH_REDIS). Results are stored (as sitq stores
its tasks' results), so a finished task is visible as a key in database 1."""
import os

from celery import Celery

_url = os.environ.get("SITQ_BENCH_REDIS", "redis://127.0.0.1:6379")
app = Celery("sitq_bench", broker=_url + "/0", backend=_url + "/1")
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                broker_connection_retry_on_startup=True)


@app.task
def noop():
    return None
