"""Shared fixtures of the sitq Python binding tests.

Run with Debian's interpreter and the build tree on the path:
    PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/python
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # sitq_test_tasks, importable by worker processes too

import sitq  # noqa: E402


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "test.db")


@pytest.fixture
def backend(db_path):
    return sitq.SQLiteBackend(db_path)


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
