"""Task functions of test_pipeline_api.py, importable by worker processes.

With SITQ_TEST_DECORATED_DB set (a database path or URI) the module also
opens that database's default queue and decorates ``cube`` with
``@queue.task``, so that a worker importing it finds the TaskFunction.
"""
import os

import sitq


def square(x):
    return x * x


class CustomError(Exception):
    """An exception with several arguments, rebuilt by Result.unwrap()."""


class BadInit(Exception):
    """Pickles, but cannot be rebuilt: __init__ needs two arguments."""

    def __init__(self, a, b):
        super().__init__("%s/%s" % (a, b))


def fail_custom(code):
    raise CustomError("custom failure", code)


def fail_bad_init():
    raise BadInit("x", "y")


def kw_only(*, scale):
    return scale * 2


if os.environ.get("SITQ_TEST_DECORATED_DB"):
    from sitq_test_backend import open_backend

    queue = sitq.TaskQueue(backend=open_backend(os.environ["SITQ_TEST_DECORATED_DB"]))

    @queue.task(priority=4)
    def cube(x):
        return (os.getpid(), x ** 3)
