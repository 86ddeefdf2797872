"""The log lines of sitq's workers: loggers ``sitq.worker`` and ``sitq.task``.

The library adds only a :class:`logging.NullHandler` to the ``sitq`` logger:
nothing is printed unless the application configures logging (or runs
``python -m sitq worker``, which does). Levels, as Celery and RQ use them:

====================================================  ========  ============
event                                                 level     logger
====================================================  ========  ============
a Worker started / stopped                            DEBUG     sitq.worker
an attempt started                                    INFO      sitq.task
an attempt succeeded                                  INFO      sitq.task
a running task was cancelled                          INFO      sitq.task
an attempt failed and the task will be retried        WARNING   sitq.task
an outcome was dropped: the worker lost the lease     WARNING   sitq.task
an attempt failed for good (no retries left)          ERROR     sitq.task
====================================================  ========  ============

Each record carries ``task_id``, ``function`` and ``attempt`` (``extra``)
for structured handlers.

How the lines are made: the handler thread holds the GIL when an attempt
starts and ends, and logs the start itself. Whether an outcome was recorded
is known only to the worker's dispatcher after its commit; the dispatcher
never takes the GIL, so it hands the outcomes to a buffer in C and one
daemon thread of this module (started with the first worker) writes their
lines. ``Worker.stop()`` writes the outcomes reported so far before it
returns, and an attempt's start first writes the outcomes reported before
it, so that a retry's "failed, will be retried" line always comes before
its next "started" line. Every line checks ``Logger.isEnabledFor`` first, so disabled
levels cost a method call.
"""

import logging
import os
import threading
import time
import traceback

from . import _sitq

logger = logging.getLogger("sitq")
logger.addHandler(logging.NullHandler())
worker_log = logging.getLogger("sitq.worker")
task_log = logging.getLogger("sitq.task")

# Attempts started by workers whose outcome has not been logged yet:
# task id -> list of [function, attempt, max_retries, start (monotonic),
# duration or None, cancel flag seen at the end]. Oldest first: the same id
# may run again (a retry) before the log thread sees the first outcome.
_pending = {}
_PENDING_MAX = 65536          # a bound, should outcomes never come (a crash)
_pending_lock = threading.Lock()
_drain_lock = threading.Lock()  # one writer at a time, so lines keep their order
_thread = None
_stopping = False


def _after_fork_in_child():
    """A forked child has none of its parent's threads: locks they held stay
    held, and their pending outcomes are the parent's to log."""
    global _pending_lock, _drain_lock
    _pending_lock = threading.Lock()
    _drain_lock = threading.Lock()
    _pending.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _extra(task_id, function, attempt):
    return {"task_id": task_id, "function": function, "attempt": attempt}


def task_started(task_id, function, attempt, max_retries, by_worker):
    """An attempt starts on this (handler) thread. Called by the extension."""
    if by_worker:
        # Outcomes already reported (say, this task's previous attempt, which
        # the dispatcher reported before it claimed this one) are written
        # first, so that the lines keep the order of the events.
        flush()
    if by_worker and len(_pending) < _PENDING_MAX:
        with _pending_lock:
            _pending.setdefault(task_id, []).append(
                [function, attempt, max_retries, time.monotonic(), None, False])
    if task_log.isEnabledFor(logging.INFO):
        task_log.info("task %d %s: attempt %d of %d started", task_id, function, attempt,
                      max_retries + 1, extra=_extra(task_id, function, attempt))


def task_ended(task_id, cancelled):
    """The handler of a worker's attempt returned. Called by the extension."""
    with _pending_lock:
        for entry in reversed(_pending.get(task_id, ())):
            if entry[4] is None:
                entry[4] = time.monotonic() - entry[3]
                entry[5] = bool(cancelled)
                return


def task_processed(task_id, function, status, attempts, max_retries, error):
    """The outcome of Worker.process_task, from the stored result (a failed
    attempt that will be retried left the task scheduled or queued)."""
    if status not in ("succeeded", "failed", "cancelled"):
        status = "retry"
    _outcome(task_id, function, attempts, max_retries, None, status, error)


def _outcome(task_id, function, attempt, max_retries, duration, status, error):
    extra = _extra(task_id, function, attempt)
    took = "" if duration is None else " in %.3f s" % duration
    if status == "succeeded":
        if task_log.isEnabledFor(logging.INFO):
            task_log.info("task %d %s: succeeded%s", task_id, function, took, extra=extra)
    elif status == "cancelled":
        if task_log.isEnabledFor(logging.INFO):
            task_log.info("task %d %s: cancelled while running%s: %s", task_id, function, took,
                          error, extra=extra)
    elif status == "retry":
        if task_log.isEnabledFor(logging.WARNING):
            task_log.warning("task %d %s: attempt %d of %d failed%s, will be retried: %s",
                             task_id, function, attempt, max_retries + 1, took, error,
                             extra=extra)
    elif task_log.isEnabledFor(logging.ERROR):
        if attempt is None:
            task_log.error("task %d %s: failed%s: %s", task_id, function, took, error,
                           extra=extra)
        else:
            task_log.error("task %d %s: failed%s after %d attempt%s: %s", task_id, function,
                           took, attempt, "" if attempt == 1 else "s", error, extra=extra)


def _committed(task_id, succeeded, applied, error, retried, resent=False):
    """What a worker's commit did with one outcome (retried: the store
    recorded the failure as to be retried; resent: sent again after a commit
    that lost its answer, which most likely recorded it)."""
    with _pending_lock:
        entries = _pending.get(task_id)
        entry = entries.pop(0) if entries else None
        if entries == []:
            del _pending[task_id]
    function, attempt, max_retries, _, duration, cancelled = entry or ("", None, None, 0, None,
                                                                      False)
    if not applied and resent:
        if task_log.isEnabledFor(logging.WARNING):
            task_log.warning("task %d %s: %s; the commit that carried the outcome lost its "
                             "answer, and the outcome sent again found the task no longer "
                             "held: that commit most likely recorded it (else the lease was "
                             "lost and the task may run again)", task_id, function,
                             "succeeded" if succeeded else "failed",
                             extra=_extra(task_id, function, attempt))
        return
    if not applied:
        if task_log.isEnabledFor(logging.WARNING):
            task_log.warning("task %d %s: %s, but the outcome was dropped: the lease was lost "
                             "(the task was recovered and may run again)", task_id, function,
                             "succeeded" if succeeded else "failed",
                             extra=_extra(task_id, function, attempt))
        return
    if succeeded:
        status = "succeeded"
    elif error and (error == "cancelled before it started"
                    or (cancelled and not error.startswith("timed out after"))):
        # A cancel request reached the handler (its flag is also set by a
        # timeout, whose message says so).
        status = "cancelled"
    elif retried:  # the store's verdict: a sitq.NoRetry fails with retries left
        status = "retry"
    else:
        status = "failed"
    _outcome(task_id, function, attempt, max_retries, duration, status, error)


def flush():
    """Write the lines of every outcome reported so far (any thread)."""
    with _drain_lock:
        events, dropped = _sitq._log_take()
        for event in events:
            try:
                _committed(*event)
            except Exception:   # a failing log handler must not end the log thread
                if logging.raiseExceptions:
                    traceback.print_exc()
        if dropped and task_log.isEnabledFor(logging.WARNING):
            task_log.warning("%d task outcomes were not logged: the log could not keep up",
                             dropped)


def _run():
    while not _stopping:
        if _sitq._log_wait(1.0):
            flush()


def worker_event(event, worker_id, queue, concurrency):
    """A Worker started or stopped. Called by the extension."""
    global _thread
    if event == "started":
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="sitq-log", daemon=True)
            _thread.start()
        if worker_log.isEnabledFor(logging.DEBUG):
            worker_log.debug("worker %s started: queue %r, %d thread%s", worker_id, queue,
                            concurrency, "" if concurrency == 1 else "s")
    else:
        flush()
        if worker_log.isEnabledFor(logging.DEBUG):
            worker_log.debug("worker %s stopped", worker_id)


def at_exit():
    """Write what is left and end the log thread (atexit, after the workers
    were stopped)."""
    global _stopping
    _stopping = True
    _sitq._log_wake()
    if _thread is not None:
        _thread.join(2.0)
    flush()
