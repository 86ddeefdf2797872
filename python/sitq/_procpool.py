"""Task processes: the process mode of ``python -m sitq worker``.

One worker process claims the tasks (a ``sitq.Worker`` with a handler
thread per slot): leases, heartbeats, timeouts, cancel flags and the
recording of outcomes stay with it. Each handler thread hands its task to
its own task process (sitq/_taskproc.py, started on first use and replaced
when it dies) through the task runner hook of the extension, and waits:

- a task past its timeout or cancelled while running gets its cancel flag
  set (``sitq.current_task().cancelled`` in the task process) and a grace
  (``GRACE`` seconds by default) to return; then its process is killed
  (SIGKILL) and replaced, and the attempt fails with "worker process killed
  (SIGKILL) ...", which the worker records as "timed out after S s ..." or
  "cancelled while running: ...";
- a task process that dies (a segfault, ``os._exit``, the OOM killer) fails
  the attempt with "worker process died: signal 11 (SIGSEGV)" or "worker
  process exited with status 3"; the next task gets a new process.

A dead task process therefore costs one attempt (retried per the task's
policy) and never loses or duplicates its task: the claim, the lease and
the outcome belong to the worker process, which does not die with it.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from ._channel import Channel

GRACE = 1.0  # seconds between a task's cancel flag and the kill of its process
_POLL = 0.02  # seconds between looks at the cancel flag while a task runs

_LOG = logging.getLogger("sitq.worker")

# glibc's mallopt() parameters (malloc.h) and the bytes of freed memory the
# worker process keeps for its next buffers (see keep_freed_memory).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_FREED = 32 << 20
# The same for each task process (python -m sitq worker --keep-freed-memory,
# in MiB): the largest thresholds glibc's own adjustment reaches (an mmap
# threshold of at most 32 MiB, a trim threshold of twice that).
TASK_KEEP_FREED = 64 << 20
_MMAP_THRESHOLD_MAX = 32 << 20


def keep_freed_memory(keep=KEEP_FREED, mapped_from=None):
    """Let this process's malloc keep up to keep bytes of freed memory
    (glibc: the trim threshold) and serve blocks under mapped_from bytes
    (default keep; at most 32 MiB, glibc's limit) from its heap instead of
    mappings of their own; True when it was set.

    In process mode the worker process runs no task: it passes every payload
    through a few buffers of its size (the store's read, the bytes given to
    the runner), one after another. glibc's default thresholds hand such
    buffers back to the kernel when they are freed (unmapped, or trimmed
    from a thread's arena), so that each next payload is faulted in again
    page by page: with 60 payloads of 1.75 MB, page faults were most of
    this process's CPU time (0.31-0.44 s, 0.23-0.32 s with the memory
    kept: bench/README.md, the pipeline job). Payloads larger than keep are
    still mapped and given back on their own. The task processes do the
    same with TASK_KEEP_FREED (see _taskproc.main). Elsewhere than glibc (no
    mallopt), nothing is set."""
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mapped = min(keep if mapped_from is None else mapped_from, _MMAP_THRESHOLD_MAX)
    return bool(mallopt(_M_MMAP_THRESHOLD, mapped)) and bool(mallopt(_M_TRIM_THRESHOLD, keep))


def _death_message(code):
    """The attempt's error for a task process that ended with code (Popen)."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return "worker process died: signal %d (%s)" % (-code, name)
    return "worker process exited with status %s" % code


def _start_process(pool):
    """Start a task process for pool; (Popen, Channel)."""
    ours, theirs = socket.socketpair()
    try:
        argv = [sys.executable, "-m", "sitq._taskproc", str(theirs.fileno()),
                "--log-level", logging.getLevelName(pool.log_level)]
        if pool.max_memory:
            argv += ["--max-memory", str(pool.max_memory)]
        if pool.keep_freed:
            argv += ["--keep-freed-memory", str(pool.keep_freed)]
        for d in pool.paths:
            argv += ["--path", d]
        proc = subprocess.Popen(argv, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    _LOG.debug("task process %d started", proc.pid)
    chan = Channel(ours)
    chan.watch_peer(lambda: proc.poll() is None)
    return proc, chan


class _Slot:
    """One handler thread's task process (used by that thread only)."""

    def __init__(self, pool):
        self.pool = pool
        self.proc = None
        self.conn = None

    def _spawn(self):
        """Take a task process started in advance, or start one."""
        spare = self.pool._take_spare()
        self.proc, self.conn = spare if spare else self.pool._start_process()

    def _drop(self, kill):
        """Forget the task process (killed first when kill); its exit code."""
        proc, self.proc = self.proc, None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if proc is None:
            return None
        if kill and proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=None if kill else 5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def _respawn(self):
        """Start the next task process now, so that it starts while this
        outcome is recorded; on failure the next task starts one."""
        try:
            self._spawn()
        except OSError as e:
            _LOG.warning("cannot start a task process now (%s); retrying at the next task", e)

    def _died(self):
        code = self._drop(kill=False)
        self._respawn()
        return (False, _death_message(code), None)

    def _serve(self, ctx, name, args):
        """Answer a task process's call with the real TaskContext. Results
        travel as sitq.Result pickles (their fields and stored value bytes):
        the task process unpickles each value when it reads it."""
        raws = ()
        try:
            if name == "progress":
                ctx.set_progress(*args)
                value = ctx.cancelled
            elif name == "heartbeat":
                ctx.heartbeat()
                value = ctx.cancelled
            elif name == "dep":
                value = ctx._dependency_result(*args)
            elif name == "deprange":
                value = ctx._dependency_range(*args)
            elif name == "depvalues":
                # (each position's size or None, others); the stored pickles
                # follow the reply as raw messages, not pickled again
                values, others = ctx._dependency_values(args[0], args[1], True)
                raws = [v for v in values if v is not None]
                value = ([None if v is None else len(v) for v in values], others)
            elif name == "deps":
                value = ctx.dependency_results()
            else:
                raise ValueError("unknown call %r" % (name,))
            reply = ("reply", True, value, len(raws))
        except Exception as e:
            reply, raws = ("reply", False, e, 0), ()
        try:
            self.conn.send(reply)
        except OSError:
            raise
        except Exception as e:  # an exception that cannot be pickled
            from .errors import SitqError
            self.conn.send(("reply", False, SitqError("%s: %s" % (type(e).__name__, e)), 0))
            return
        for raw in raws:
            self.conn.send_bytes(raw)

    def run(self, payload):
        """Run the current task in this slot's task process; its outcome."""
        import sitq
        ctx = sitq.current_task()
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self._drop(kill=False)
            self._spawn()
        meta = (ctx.id, ctx.attempt, ctx.max_retries, ctx.timeout, ctx.function, ctx.queue)
        try:
            # The payload follows as a raw message: pickled inside the
            # tuple it would be copied once more on each side (a chunk of
            # 1.75 MB: 105 MB per 60 tasks).
            self.conn.send(("run", meta))
            self.conn.send_bytes(payload)
        except OSError:
            return self._died()
        kill_at = None
        while True:
            if self.conn.poll(_POLL):
                try:
                    msg = self.conn.recv()
                except (EOFError, OSError):
                    return self._died()
                if msg[0] == "result":  # the pickled value follows as a raw message
                    try:
                        return (True, self.conn.recv_bytes(), msg[1])
                    except MemoryError as e:  # the channel skipped it and stays usable
                        return (False, "MemoryError: %s (the task's result, in the worker "
                                       "process)" % e, None)
                    except (EOFError, OSError):
                        return self._died()
                if msg[0] == "done":
                    return msg[1:]
                if msg[0] == "call":
                    try:
                        self._serve(ctx, msg[1], msg[2])
                    except OSError:  # the task process is gone
                        return self._died()
                continue
            if self.proc.poll() is not None and not self.conn.poll(0):
                # Dead without an end of file: a process it forked holds a
                # copy of its end of the socket.
                return self._died()
            if kill_at is None:
                try:
                    cancelled = ctx.cancelled
                except sitq.InvalidStateError:
                    cancelled = True
                if cancelled:
                    kill_at = time.monotonic() + self.pool.grace
                    try:
                        self.conn.send(("cancel",))
                    except OSError:
                        return self._died()
            elif time.monotonic() >= kill_at:
                pid = self.proc.pid
                self._drop(kill=True)
                self._respawn()
                return (False, "worker process %d killed (SIGKILL): still running %g s after "
                               "its cancel flag was set" % (pid, self.pool.grace), None)


class TaskProcesses:
    """The task runner of process mode: called with a task's payload on a
    worker's handler thread, it runs the task in that thread's task process
    and returns its outcome (see sitq/_procpool.py's header). Install it with
    ``sitq._sitq._set_task_runner(pool)`` before starting the Worker; call
    ``close()`` after stopping it. Thread-safe (one slot per thread)."""

    def __init__(self, grace=GRACE, max_memory=0, paths=(), log_level=logging.INFO,
                 keep_freed=TASK_KEEP_FREED):
        self.grace = grace
        self.max_memory = max_memory
        self.keep_freed = keep_freed  # bytes each task process keeps, 0: glibc's defaults
        self.paths = list(paths)
        self.log_level = log_level
        self._slots = {}  # thread id -> _Slot
        self._spares = []  # (Popen, Channel) started in advance
        self._lock = threading.Lock()

    def _start_process(self):
        return _start_process(self)

    def prestart(self, n):
        """Start n task processes now, for the first tasks of the slots: a
        task's timeout counts from its start in the worker, so it would
        include the start of a Python interpreter."""
        for _ in range(n):
            spare = self._start_process()
            with self._lock:
                self._spares.append(spare)

    def _take_spare(self):
        with self._lock:
            while self._spares:
                proc, conn = self._spares.pop()
                if proc.poll() is None:
                    return proc, conn
                conn.close()
            return None

    def __call__(self, payload):
        # Keyed by the thread's id, not a threading.local: the worker's
        # handler threads are C threads whose Python thread state (and so
        # their threading.local) lasts one task.
        me = threading.get_ident()
        with self._lock:
            slot = self._slots.get(me)
            if slot is None:
                slot = self._slots[me] = _Slot(self)
        return slot.run(payload)

    def pids(self):
        """The pids of the live task processes."""
        with self._lock:
            return [s.proc.pid for s in self._slots.values() if s.proc is not None]

    def close(self):
        """End every task process (idle once the worker stopped): their
        sockets are closed, which makes them exit; waits for them."""
        with self._lock:
            slots, self._slots = list(self._slots.values()), {}
            spares, self._spares = self._spares, []
        for proc, conn in spares:
            slot = _Slot(self)
            slot.proc, slot.conn = proc, conn
            slots.append(slot)
        for s in slots:
            s._drop(kill=False)


def install(args):
    """Set up process mode for ``python -m sitq worker`` (its parsed args):
    the TaskProcesses installed as the extension's task runner."""
    from . import _sitq
    keep_freed_memory()
    pool = TaskProcesses(grace=args.grace, max_memory=args.max_memory,
                         keep_freed=(TASK_KEEP_FREED if args.keep_freed_memory is None
                                     else args.keep_freed_memory),
                         paths=[os.path.abspath(p) for p in args.path],
                         log_level=logging.getLogger().getEffectiveLevel())
    pool.prestart(args.concurrency * args.threads)
    _sitq._set_task_runner(pool)
    return pool
