"""Celery peer of the Python pipeline benchmark (bench/python_pipeline_bench.py).

The same job as every other system: the flights pipeline's transform_chunk
(examples/python/flights_pipeline.py, on the worker's PYTHONPATH) on one
chunk. The chunk travels as text (the JSON serializer, as in bench/peers/celery/
tasks.py, carries no bytes); the result is the chunk's partial aggregate, plain
lists. Broker and result backend: the redis-server the benchmark starts
(URL from SITQ_BENCH_REDIS)."""
import os

from celery import Celery

import flights_pipeline

_url = os.environ.get("SITQ_BENCH_REDIS", "redis://127.0.0.1:6379")
app = Celery("sitq_pipeline_bench", broker=_url + "/0", backend=_url + "/1")
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                broker_connection_retry_on_startup=True)


@app.task
def transform(text, index):
    return flights_pipeline.transform_chunk(text.encode("utf-8"), index)


@app.task
def warm(text):
    """Run the job on a tiny chunk (loads pandas and the code); the process id."""
    flights_pipeline.transform_chunk(text.encode("utf-8"))
    return os.getpid()
