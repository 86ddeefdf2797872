"""sitq - a durable task queue with a C core, for Python.

The types are implemented in C (the ``sitq._sitq`` extension, on top of
libsitq); this package adds the exception hierarchy (:mod:`sitq.errors`)
and the ``python -m sitq worker`` command (:mod:`sitq.__main__`).

Quick start::

    import sitq

    backend = sitq.SQLiteBackend("tasks.db")
    queue = sitq.TaskQueue(backend=backend)

    def add(a, b):
        return a + b

    task_id = queue.enqueue(sitq.Task(function=add, args=[1, 2]))
    with sitq.Worker(queue, concurrency=4):
        result = queue.get_result(task_id, timeout=10)
    print(result.value)            # 3

Tasks, results and options are documented on each class; see also
docs/python.md. Durations are seconds; times are datetimes in UTC.

``@queue.task(...)`` makes a function enqueueable (``add.delay(1, 2)``,
``add.map(items)``; :class:`sitq.TaskFunction`), and ``sitq.Executor(queue)``
is a ``concurrent.futures.Executor`` whose calls are durable tasks.

Inside a task, ``sitq.current_task()`` gives its id, attempt, queue,
cancel flag and ``dependency_results()``; ``sitq.result_of(task)`` passes a
task's result to another as an argument (:mod:`sitq._result_of`). Workers log on the ``sitq.worker`` and ``sitq.task`` loggers
(:mod:`sitq._tasklog` lists the lines and levels); the library itself adds
only a NullHandler.

``sitq.cron_next(expr, after, timezone=...)`` computes a cron expression's
next fire time in a time zone (:mod:`sitq._cron`).
"""

import atexit as _atexit

from .errors import (  # noqa: F401  (re-exported)
    SitqError,
    InvalidArgumentError,
    TaskNotFoundError,
    InvalidStateError,
    TaskTimeoutError,
    DependencyError,
    TaskNotReadyError,
    LeaseLostError,
    StorageError,
    SchemaError,
    DatabaseBusyError,
    NoHandlerError,
    SitqSystemError,
    SerializationError,
    TaskFailedError,
    Retry,
    NoRetry,
)
from . import _sitq
from . import _tasklog
from ._sitq import (  # noqa: F401
    SQLiteBackend,
    PostgresBackend,
    TaskQueue,
    Worker,
    Task,
    Result,
    TaskContext,
    current_task,
    function_name,
    held_functions,
    status_names,
    LIBSITQ_VERSION,
)

from ._decorator import TaskFunction  # noqa: E402,F401
from ._result_of import result_of  # noqa: E402,F401
from ._executor import Executor, Future  # noqa: E402,F401
from ._cron import cron_next  # noqa: E402,F401
from ._workers import WorkerInfo  # noqa: E402,F401

__version__ = LIBSITQ_VERSION

#: Status names, in the order of their stored values.
STATUSES = status_names()

# Stop running workers before the interpreter finalises, so that no worker
# thread calls into a dying interpreter; then write the last log lines
# (atexit runs the last registered first).
_atexit.register(_tasklog.at_exit)
_atexit.register(_sitq._shutdown)

__all__ = [
    "SQLiteBackend", "PostgresBackend", "TaskQueue", "Worker", "Task", "Result", "TaskContext",
    "current_task", "result_of", "TaskFunction", "Executor", "Future",
    "SitqError", "InvalidArgumentError", "TaskNotFoundError", "InvalidStateError",
    "TaskTimeoutError", "DependencyError", "TaskNotReadyError", "LeaseLostError",
    "StorageError", "SchemaError", "DatabaseBusyError", "NoHandlerError",
    "SitqSystemError", "SerializationError", "TaskFailedError", "Retry", "NoRetry",
    "function_name", "held_functions", "status_names", "STATUSES", "cron_next", "WorkerInfo",
]
