"""The sitq exception hierarchy.

Every error raised by sitq is a :class:`SitqError`. Each class also derives
from the built-in exception a Python programmer would expect, so existing
``except`` clauses keep working:

========================  ==============================  =====================
class                     libsitq code                    also a
========================  ==============================  =====================
InvalidArgumentError      SITQ_EINVAL                     ValueError, TypeError
TaskNotFoundError         SITQ_ENOTFOUND                  LookupError
InvalidStateError         SITQ_ESTATE                     RuntimeError
TaskTimeoutError          SITQ_ETIMEDOUT                  TimeoutError
DependencyError           SITQ_EDEPENDENCY                ValueError
TaskNotReadyError         SITQ_ENOTREADY                  RuntimeError
LeaseLostError            SITQ_ELEASE                     RuntimeError
StorageError              SITQ_ESTORAGE                   OSError
SchemaError               SITQ_ESCHEMA                    StorageError
DatabaseBusyError         SITQ_EBUSY                      StorageError
NoHandlerError            SITQ_ENOHANDLER                 LookupError
SitqSystemError           SITQ_ESYSTEM                    OSError
SerializationError        (pickling in the binding)       TypeError
========================  ==============================  =====================

``TaskTimeoutError`` is a :class:`TimeoutError`, which is also
``concurrent.futures.TimeoutError`` (Python >= 3.11), so code written for
futures catches it. Out-of-memory is reported as :class:`MemoryError`.

Every instance has ``code`` (the libsitq code name, e.g. ``"SITQ_EINVAL"``)
and ``message`` (the readable message, which names the offending argument
for bad arguments).
"""

__all__ = [
    "SitqError", "InvalidArgumentError", "TaskNotFoundError", "InvalidStateError",
    "TaskTimeoutError", "DependencyError", "TaskNotReadyError", "LeaseLostError",
    "StorageError", "SchemaError", "DatabaseBusyError", "NoHandlerError", "SitqSystemError",
    "SerializationError",
]


class SitqError(Exception):
    """Base class of every sitq error.

    Arguments: message (str), code (str, the libsitq code name, optional).
    Attributes: ``message``, ``code``.
    """

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else type(self)._default_code

    _default_code = "SITQ_ERROR"

    def __str__(self):
        return str(self.message)

    def __reduce__(self):
        return (type(self), (self.message, self.code))


class InvalidArgumentError(SitqError, ValueError, TypeError):
    """An argument is invalid (wrong type or out of range); the message names it."""
    _default_code = "SITQ_EINVAL"


class TaskNotFoundError(SitqError, LookupError):
    """No task with that id exists in the queue."""
    _default_code = "SITQ_ENOTFOUND"


class InvalidStateError(SitqError, RuntimeError):
    """The operation is not allowed in the task's (or worker's) current state."""
    _default_code = "SITQ_ESTATE"


class TaskTimeoutError(SitqError, TimeoutError):
    """A wait (``get_result(timeout=...)``) ended before the task finished.

    Attributes: ``task_id`` and ``status`` (the task's status when the wait
    ended) when raised by ``get_result``.
    """
    _default_code = "SITQ_ETIMEDOUT"
    task_id = None
    status = None


class DependencyError(SitqError, ValueError):
    """A dependency id does not exist, or the dependencies form a cycle."""
    _default_code = "SITQ_EDEPENDENCY"


class TaskNotReadyError(SitqError, RuntimeError):
    """``Worker.process_task``: the task is waiting, scheduled, running elsewhere or finished."""
    _default_code = "SITQ_ENOTREADY"


class LeaseLostError(SitqError, RuntimeError):
    """The task's lease was lost (another worker took it over)."""
    _default_code = "SITQ_ELEASE"


class StorageError(SitqError, OSError):
    """The database failed (I/O error, corrupt file, full disk, lock timeout)."""
    _default_code = "SITQ_ESTORAGE"

    def __init__(self, message="", code=None):
        SitqError.__init__(self, message, code)


class SchemaError(StorageError):
    """The database file was made by an incompatible version of sitq."""
    _default_code = "SITQ_ESCHEMA"


class DatabaseBusyError(StorageError):
    """Another process held a lock on the database for longer than
    ``busy_timeout`` (SQLite has a single writer: a stopped or hung process
    that holds the write lock blocks every writer). Nothing was written; the
    call may be retried."""
    _default_code = "SITQ_EBUSY"


class NoHandlerError(SitqError, LookupError):
    """No handler is registered for the task's function name (not a Python task)."""
    _default_code = "SITQ_ENOHANDLER"


class SitqSystemError(SitqError, OSError):
    """An operating-system call failed (threads, clock)."""
    _default_code = "SITQ_ESYSTEM"

    def __init__(self, message="", code=None):
        SitqError.__init__(self, message, code)


class SerializationError(SitqError, TypeError):
    """A value could not be pickled or unpickled (e.g. ``Result.value`` of a
    result whose class cannot be imported in this process)."""
    _default_code = "SITQ_ESERIALIZE"


def _by_code():
    """Map each libsitq code name to its class: the ``_default_code`` of
    each class, plus out-of-memory to :class:`MemoryError`. The extension
    checks at import that every code of libsitq's table (SITQ_ERRNO_MAP) is
    here, so a code added in C without a class fails at once."""
    table = {"SITQ_ENOMEM": MemoryError}
    for cls in (InvalidArgumentError, TaskNotFoundError, InvalidStateError, TaskTimeoutError,
                DependencyError, TaskNotReadyError, LeaseLostError, StorageError, SchemaError,
                DatabaseBusyError, NoHandlerError, SitqSystemError):
        table[cls._default_code] = cls
    return table


# Used by the C extension to map libsitq codes to classes.
BY_CODE = _by_code()


class TaskFailedError(SitqError):
    """Raised by ``Result.unwrap()`` for a task that failed or was cancelled.

    Attributes: ``error`` ('ExceptionType: message'), ``remote_traceback``
    (the formatted traceback of the failing attempt), ``task_id``, ``status``.
    """
    _default_code = "SITQ_ETASKFAILED"

    def __init__(self, error=None, traceback=None, task_id=None, status="failed"):
        SitqError.__init__(self, "task %s %s: %s" % (task_id, status, error))
        self.error = error
        self.remote_traceback = traceback
        self.task_id = task_id
        self.status = status

    def __reduce__(self):
        return (type(self), (self.error, self.remote_traceback, self.task_id, self.status))


__all__.append("TaskFailedError")

# The longest delay sitq takes (SITQ_SECONDS_MAX: 100 years).
_SECONDS_MAX = 3155760000.0


class Retry(Exception):
    """Raise it from a task to retry the attempt after ``delay`` seconds
    instead of the task's backoff (Celery's ``self.retry(countdown=...)``,
    arq's ``Retry(defer=...)``): for a rate limit, or a service that says when
    to come back. Retries are still counted: with none left (``max_retries``)
    the task fails. ``delay=None``: the task's own backoff.

    The attempt's error is the message (``"retry in 30 s"`` by default);
    ``raise sitq.Retry(30) from exc`` keeps ``exc`` in the traceback.
    ``delay`` must be 0..3155760000 seconds (else InvalidArgumentError, when
    the exception is made).
    """

    def __init__(self, delay=None, message=None):
        if delay is not None:
            if isinstance(delay, bool) or not isinstance(delay, (int, float)):
                raise InvalidArgumentError(
                    "delay must be None or a number of seconds, got %s" % type(delay).__name__)
            if not 0 <= delay <= _SECONDS_MAX:  # NaN fails too
                raise InvalidArgumentError(
                    "delay must be 0..%.0f seconds, got %r" % (_SECONDS_MAX, delay))
        if message is None:
            message = "retry in %g s" % delay if delay is not None else "retry"
        Exception.__init__(self, message)
        self.delay = delay
        self.message = message

    def __reduce__(self):
        # Rebuilt without calling __init__, whose arguments a subclass may change.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls, args, state):
    """An exception of class cls with args and attributes, __init__ not called."""
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class NoRetry(Exception):
    """Raise it from a task to fail it for good, whatever retries are left
    (Dramatiq's ``throws``, Celery's ``Reject``): for an error no retry can
    mend, such as bad input. The attempt's error is the message;
    ``raise sitq.NoRetry("bad row 12") from exc`` keeps ``exc`` in the
    traceback.
    """


__all__ += ["Retry", "NoRetry"]
