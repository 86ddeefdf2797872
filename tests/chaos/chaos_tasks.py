"""Python tasks of the chaos harness.

Worker processes import this module by name (``python -m sitq worker --path
DIR``), so the functions are pickled by reference.
"""

import os

_fds = {}


def _append(log_path, line):
    # One O_APPEND write per line: the file order is the order of events
    # across all worker processes.
    fd = _fds.get(log_path)
    if fd is None:
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _fds[log_path] = fd
    os.write(fd, line.encode())


def record(log_path, key):
    """Append "S KEY PID" and "E KEY PID" to the execution log; return key."""
    pid = os.getpid()
    _append(log_path, "S %d %d\n" % (key, pid))
    _append(log_path, "E %d %d\n" % (key, pid))
    return key
