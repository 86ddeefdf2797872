"""The warm-up task of bench/python_pipeline_bench.py for sitq's workers.

A task that runs the job on a tiny chunk (pandas and the task's code get
loaded) and returns the id of the process that ran it, so that the benchmark
can wait until every task process has run it: in process mode (the default
of ``python -m sitq worker --concurrency N``) one worker process, whose id
every result carries, feeds N task processes, so the results' worker ids
cannot tell them apart. Importable by the workers: the benchmark passes its
directory on their PYTHONPATH."""
import os

import flights_pipeline


def warm(csv_bytes):
    """transform_chunk(csv_bytes), then this process's id."""
    flights_pipeline.transform_chunk(csv_bytes)
    return os.getpid()
