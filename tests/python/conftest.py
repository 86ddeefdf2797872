"""Shared fixtures of the sitq Python binding tests.

Run with Debian's interpreter and the build tree on the path:
    PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/python
With SITQ_TEST_BACKEND=postgres under tests/pg/with_pg.sh, the db_path and
backend fixtures give a fresh PostgreSQL schema instead of a file (ctest
pg.pytests).
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # sitq_test_tasks, importable by worker processes too

import sitq  # noqa: E402
from sitq_test_backend import ON_PG, fresh_target, open_backend  # noqa: E402,F401


@pytest.fixture
def db_path(tmp_path):
    """The test's database: a SQLite file, or with SITQ_TEST_BACKEND=postgres
    a URI of a fresh PostgreSQL schema (sitq_test_backend)."""
    return fresh_target(tmp_path)


@pytest.fixture
def backend(db_path):
    return open_backend(db_path)


@pytest.fixture
def queue(backend):
    return sitq.TaskQueue(backend=backend)


@pytest.fixture
def worker(queue):
    w = sitq.Worker(queue, concurrency=2)
    yield w
    w.stop()


def subprocess_env():
    """Environment for child interpreters: same sitq, and the task module."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(os.path.join(p, "sitq"))]
    env["PYTHONPATH"] = os.pathsep.join(paths[:1] + [HERE] + [env.get("PYTHONPATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
