"""A task's exception, carried from the worker to ``Result.unwrap()``.

The worker stores a failed attempt's error message and formatted traceback.
When the exception raised by the task's function can be pickled (at most
``MAX_PICKLE`` bytes), it also appends one line to the stored traceback:
``MARKER`` followed by the base64 of the pickle. ``Result.traceback`` hides
that line; ``Result.unwrap()`` unpickles it to re-raise the task's own
exception type. Rows written without the line (by older versions, or for
errors that are not exceptions of the function: timeouts, lost leases,
unloadable payloads) unwrap to ``TaskFailedError`` as before.
"""

import base64
import binascii
import pickle

from .errors import TaskFailedError

MARKER = "sitq-exception-v1:"
MAX_PICKLE = 65536


def exception_line(exc):
    """The traceback line that carries exc, or None when it cannot be
    pickled or is larger than MAX_PICKLE bytes. Called by the worker."""
    if not isinstance(exc, Exception):
        return None  # KeyboardInterrupt, SystemExit: not re-raised elsewhere
    try:
        data = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)  # an exception whose __init__ cannot be re-called is useless
    except BaseException:  # a __reduce__ raising SystemExit: not carried, not fatal
        return None
    if len(data) > MAX_PICKLE:
        return None
    return MARKER + base64.b64encode(data).decode("ascii") + "\n"


def _rebuild(blob):
    try:
        exc = pickle.loads(base64.b64decode(blob.encode("ascii"), validate=True))
    except (Exception, binascii.Error):
        return None
    return exc if isinstance(exc, Exception) else None


def failure(error, traceback, blob, task_id, status):
    """The exception that Result.unwrap() raises for a failed or cancelled
    task: the task's own exception when blob (the stored pickle) rebuilds in
    this process, with the TaskFailedError as its __cause__ and the remote
    traceback as a note; else the TaskFailedError."""
    failed = TaskFailedError(error, traceback, task_id, status)
    exc = _rebuild(blob) if blob and status == "failed" else None
    if exc is None:
        return failed
    exc.__cause__ = failed
    exc.add_note("raised by task %s on a sitq worker; remote traceback:\n%s"
                 % (task_id, (traceback or "").rstrip("\n")))
    return exc
