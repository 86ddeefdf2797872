"""A task process of ``python -m sitq worker --pool process``.

    python -m sitq._taskproc FD [--max-memory BYTES] [--log-level LEVEL] [--path DIR]...

Started by the worker (sitq/_procpool.py) with one end of a socket pair as
file descriptor FD; it runs one task at a time, as the worker asks:

- worker -> task process: ``("run", meta)`` (meta: id, attempt,
  max_retries, timeout, function, queue) followed by the payload as a raw
  message (``send_bytes``: not pickled again), ``("cancel",)`` (the running
  task's cancel flag is set: a cancel was asked, or its timeout passed),
  ``("reply", ok, value, k)`` (the answer to a call) followed by k raw
  messages (the stored pickles of ``result_of`` values; value gives each
  position's size or None).
- task process -> worker: ``("call", name, args)`` (set_progress, heartbeat
  and the dependency reads of ``sitq.current_task()``, which only the
  worker that holds the task's lease can do), ``("result", repr)`` followed
  by the pickled return value as a raw message (the worker stores both
  together) or ``("done", False, message, traceback)``, with a fifth item
  when the function raised sitq.NoRetry (``"none"``) or sitq.Retry with a
  delay (its seconds).

Large values cross as raw messages of their own (sitq/_channel.py), so that
they are neither pickled again inside a message nor copied out of one: a
pickle of 400 MB inside a tuple took a second to copy on each side.

A reader thread receives while the task runs, so that a cancel reaches
``current_task().cancelled`` at once. The worker owns the task's lease and
records its outcome: it kills this process when the task outlives its grace
and reports a death (a segfault, ``os._exit``, the OOM killer) as the
attempt's error. End of file on the socket means the worker is gone or
stopping: the process exits at once, even in the middle of a task (its
lease then lapses as after a crash).

SIGINT and SIGTERM are ignored: the worker decides about stops (a Ctrl-C at
the terminal reaches its whole process group) and waits for running tasks.
The processes a task starts get them back as usual.
``--max-memory`` caps this process's address space (RLIMIT_AS): a task that
allocates past it gets a MemoryError, and its attempt fails with it.
"""

import argparse
import asyncio
import collections.abc
import faulthandler
import logging
import os
import pickle
import queue as _queue
import re
import resource
import signal
import sys
import threading
import traceback

from . import _valuerepr
from ._channel import Channel

_TOKEN = re.compile(r"([1-9][0-9]{0,9})-[0-9a-fA-F]{1,16}-[0-9]{1,20}")


class TaskContext:
    """``sitq.current_task()`` in a task process: the fields of the running
    attempt; ``cancelled`` is set by the worker, the other methods ask it.
    Valid during the attempt, on the thread that runs it."""

    def __init__(self, proc, meta):
        self._proc = proc
        self._ended = False
        (self.id, self.attempt, self.max_retries, self.timeout, self.function,
         self.queue) = meta

    def _check(self):
        if self._ended:
            import sitq
            raise sitq.InvalidStateError(
                "the attempt of task %d has ended: its TaskContext no longer reaches the "
                "worker" % self.id)

    def _call_raw(self, name, *args):
        """Ask the worker for this attempt, from any thread of the task: one
        request and its answer at a time on the socket, and counted, so that
        the attempt's end waits for the calls in flight (main) and no call
        starts after it (it would be served for the next task)."""
        proc = self._proc
        with proc.calls_cv:
            self._check()
            proc.calls += 1
        try:
            with proc.call_lock:
                return proc.call_raw(name, *args)
        finally:
            with proc.calls_cv:
                proc.calls -= 1
                proc.calls_cv.notify_all()

    def _call(self, name, *args):
        return self._call_raw(name, *args)[0]

    def _end(self):
        """The attempt is over: refuse new calls, wait for those in flight."""
        proc = self._proc
        with proc.calls_cv:
            self._ended = True
            while proc.calls:
                proc.calls_cv.wait()

    @property
    def cancelled(self):
        """True once the task should stop: a cancel was asked, its timeout
        passed, or its worker is stopping it. The worker kills this process
        a grace after setting it."""
        self._check()
        return self._proc.cancel.is_set()

    def set_progress(self, fraction):
        """Store the task's progress (0..1) and renew its lease (through
        the worker). Raises as TaskContext.set_progress does."""
        if self._call("progress", fraction):
            self._proc.cancel.set()

    def heartbeat(self):
        """Renew the task's lease now (through the worker) and refresh
        ``cancelled``. Raises LeaseLostError, StorageError."""
        if self._call("heartbeat"):
            self._proc.cancel.set()

    def dependency_results(self):
        """Each dependency's sitq.Result, in the declared order (read by
        the worker, its value unpickled here on access)."""
        return self._call("deps")

    def _dependency_result(self, index):
        return self._call("dep", index)

    def _dependency_range(self, first, n):
        return self._call("deprange", first, n)

    def _dependency_values(self, first, n):
        # The worker sends each value's pickle as it is stored and this
        # process unpickles it: the worker process, which serves every task
        # process, neither unpickles nor pickles the values again, and a
        # value whose class only this process can import still arrives.
        (sizes, others), raws = self._call_raw("depvalues", first, n, True)
        values = [None] * len(sizes)
        k = 0
        for i, size in enumerate(sizes):
            if size is None:
                continue
            raw, raws[k] = raws[k], None  # each pickle freed once loaded
            k += 1
            try:
                values[i] = pickle.loads(raw)
            except Exception as e:  # not the worker's to explain: it did not unpickle
                from .errors import SerializationError
                raise SerializationError(
                    "cannot unpickle the result of dependency %d of task %d in this process: "
                    "%s: %s" % (first + i, self.id, type(e).__name__, e)) from e
        return values, others

    def __repr__(self):
        return "<sitq.TaskContext id=%d attempt=%d function=%r queue=%r%s>" % (
            self.id, self.attempt, self.function, self.queue, " ended" if self._ended else "")


class _Process:
    """This process's end of the socket and the task running now."""

    def __init__(self, conn):
        self.conn = conn
        self.tasks = _queue.SimpleQueue()
        self.replies = _queue.SimpleQueue()
        self.cancel = threading.Event()
        self.call_lock = threading.Lock()  # one call on the socket at a time
        self.calls_cv = threading.Condition()  # guards calls, the contexts' _ended
        self.calls = 0  # calls of the running attempt in flight
        self.current = None
        self.main_thread = threading.get_ident()

    def read(self):
        """Reader thread: dispatch the worker's messages; exit at its end."""
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the worker is gone or stopping
            if msg[0] == "run":
                try:
                    payload = self.conn.recv_bytes()
                except MemoryError as e:  # --max-memory: the attempt fails with it
                    payload = e
                except (EOFError, OSError):
                    os._exit(0)
                self.tasks.put((msg[1], payload))
            elif msg[0] == "cancel":
                self.cancel.set()
            elif msg[0] == "reply":
                ok, value, raws = msg[1], msg[2], []
                try:
                    for _ in range(msg[3]):
                        try:
                            raws.append(self.conn.recv_bytes())
                        except MemoryError as e:  # the rest is still read, then dropped
                            ok, value = False, e
                except (EOFError, OSError):
                    os._exit(0)
                self.replies.put((ok, value, raws if ok else []))

    def call(self, name, *args):
        """Ask the worker (for the running task); its value, or raise its error."""
        return self.call_raw(name, *args)[0]

    def call_raw(self, name, *args):
        """call(), and the raw messages that followed its answer (a list)."""
        if os.getpid() != _OWN_PID:
            from .errors import InvalidStateError
            raise InvalidStateError("sitq.current_task() works in the task's own process only, "
                                    "not in a process its function forked")
        self.conn.send(("call", name, args))
        ok, value, raws = self.replies.get()
        if not ok:
            raise value
        return value, raws

    def current_task(self):
        """sitq.current_task() in this process."""
        if self.current is None or threading.get_ident() != self.main_thread:
            import sitq
            raise sitq.InvalidStateError(
                "sitq.current_task() was called outside a task: it works only in a task "
                "function run by a sitq Worker, on the thread that runs it")
        return self.current


def _failure(exc, prefix=None):
    """("done", False, message, traceback) for exc: "[prefix: ]Type: msg";
    when the function itself raised (no prefix), the pickled exception rides
    along for Result.unwrap()."""
    # BaseException: a __str__ or __reduce__ that raises SystemExit must not
    # end this process with the task's outcome untold (thread mode records it).
    try:
        msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    except BaseException:
        msg = "%s: <exception could not be formatted>" % type(exc).__qualname__
    try:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except BaseException:
        tb = None
    if prefix is None and tb is not None:
        from . import _remote
        line = _remote.exception_line(exc)
        if line:
            tb += line
    if prefix is None:  # the function's own sitq.Retry / sitq.NoRetry: its choice rides along
        from .errors import _SECONDS_MAX, NoRetry, Retry
        if isinstance(exc, NoRetry):
            return (False, msg, tb, "none")
        if isinstance(exc, Retry):
            try:  # a subclass may lack .delay or change it: then the task's backoff, as in threads
                delay = float(exc.delay)
            except BaseException:
                delay = None
            if delay is not None and 0 <= delay <= _SECONDS_MAX:
                return (False, msg, tb, delay)
    return (False, "%s: %s" % (prefix, msg) if prefix else msg, tb)


def _memory_token_error(fname, token, args_only=False):
    """args_only: the function itself was pickled, its arguments were held."""
    m = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if m is None:
        return "names a malformed memory token"
    if args_only:
        return ("the arguments of %s are held in the memory of process %s (they could not be "
                "pickled, e.g. a lock or an open file) and cannot be used here, in process %d: "
                "run the task on a worker of that process, or pass picklable arguments"
                % (fname, m.group(1), os.getpid()))
    return ("function %s is held in the memory of process %s (it could not be pickled, e.g. a "
            "bound method of an object holding a sitq queue or worker) and cannot be run here, "
            "in process %d: run it on a worker of that process, or enqueue a picklable function "
            "(module-level, or a method of a picklable object)" % (fname, m.group(1), os.getpid()))


def _load(ctx, payload):
    """(function, args, kwargs) of the payload, or a failure tuple."""
    fname, tid = ctx.function, ctx.id
    try:
        tup = pickle.loads(payload)
    except BaseException as e:
        return _failure(e, "cannot load the arguments of %s in this process" % fname)
    if not (isinstance(tup, tuple) and len(tup) == 5 and tup[0] in (1, 2)):
        return (False, "task %d (%s): unknown payload format (not written by this version of "
                       "the sitq Python binding)" % (tid, fname), None)
    fmt, blob, args, kwargs, token = tup
    if token is not None:
        msg = _memory_token_error(fname, token, isinstance(blob, bytes))
        if msg.startswith("names"):
            msg = "task %d (%s) %s" % (tid, fname, msg)
        return (False, msg, None)
    if not isinstance(blob, bytes):
        return (False, "task %d (%s) carries no function" % (tid, fname), None)
    try:
        func = pickle.loads(blob)
    except BaseException as e:
        return _failure(e, "cannot load function %s in this process" % fname)
    if args is None or kwargs is None:
        return (False, "the arguments of %s could not be pickled and are held in the memory of "
                       "another process" % fname, None)
    try:
        args = tuple(args)
    except BaseException as e:
        return _failure(e, "bad task arguments")
    if fmt == 2:
        from . import _result_of
        try:
            args, kwargs = _result_of.resolve(ctx, args, kwargs)
        except BaseException as e:
            return _failure(e, "cannot read the sitq.result_of arguments of %s" % fname)
    return func, args, kwargs


def _dump(value, fname):
    """(True, pickle, repr) of the return value (the repr stored with it
    for operators, made here where the value is), or a failure tuple."""
    try:
        return (True, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
                _valuerepr.bounded_repr(value))
    except MemoryError:
        return (False, "MemoryError: out of memory while pickling the result", None)
    except BaseException as e:  # a __reduce__ raising SystemExit too: the task's failure
        first = e
    try:
        import cloudpickle  # type: ignore[import]
        return (True, cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
                _valuerepr.bounded_repr(value))
    except MemoryError:
        return (False, "MemoryError: out of memory while pickling the result", None)
    except BaseException:
        return _failure(first, "SerializationError: the return value of %s (a %.60s) cannot be "
                               "pickled" % (fname, type(value).__name__))


def _run(ctx, payload):
    """Run one task; its outcome tuple."""
    if isinstance(payload, MemoryError):  # this process could not receive it
        return (False, "MemoryError: %s (the task's payload)" % payload, None)
    loaded = _load(ctx, payload)
    if len(loaded) == 3 and loaded[0] is False:
        return loaded
    func, args, kwargs = loaded
    try:
        ret = func(*args, **kwargs)
        # A coroutine (async def), not any generator, which asyncio.iscoroutine
        # also accepts: a returned generator is a value, refused by pickle as
        # in thread mode.
        if isinstance(ret, collections.abc.Coroutine):
            ret = asyncio.run(ret)
    except BaseException as e:
        if isinstance(e, SystemExit) and os.getpid() != _OWN_PID:
            raise  # a child the function forked exits with its code (main)
        return _failure(e)
    return _dump(ret, ctx.function)


def _parser():
    p = argparse.ArgumentParser(prog="python -m sitq._taskproc")
    p.add_argument("fd", type=int)
    p.add_argument("--max-memory", type=int, default=0)
    p.add_argument("--keep-freed-memory", type=int, default=0)
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--path", action="append", default=[])
    return p


def _ignore_signal(signum, frame):
    """SIGINT and SIGTERM of this process: the worker decides about stops."""


def _default_stop_signals():
    """In a process forked by a task: SIGINT and SIGTERM as in any Python
    process."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# This process; a child that a task's function forks returns into main()
# with another pid, and must not answer for the task (see main).
_OWN_PID = os.getpid()


def main(argv=None):
    """Serve the worker on the socket until it closes it."""
    global _OWN_PID
    _OWN_PID = os.getpid()
    args = _parser().parse_args(argv)
    # Not SIG_IGN, which the commands a task starts would inherit through
    # exec: a subprocess or a multiprocessing pool then could not be
    # stopped with SIGTERM (Pool.terminate hung). A handler is reset by
    # exec, and a fork resets it (_default_stop_signals).
    signal.signal(signal.SIGINT, _ignore_signal)
    signal.signal(signal.SIGTERM, _ignore_signal)
    os.register_at_fork(after_in_child=_default_stop_signals)
    faulthandler.enable()  # a crash prints the task's Python stack on stderr
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="sitq task process[%(process)d]: %(asctime)s %(levelname)s "
                               "%(name)s: %(message)s")
    for d in reversed([os.getcwd()] + args.path):
        if d not in sys.path:
            sys.path.insert(0, d)
    if args.max_memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (args.max_memory, args.max_memory))
    if args.keep_freed_memory > 0:
        # Tasks that build and drop large buffers (pandas on a chunk) would
        # otherwise fault their memory in again page by page for each task:
        # with glibc's default thresholds the pipeline job's task processes
        # took six times as many page faults (bench/README.md).
        from ._procpool import keep_freed_memory
        keep_freed_memory(args.keep_freed_memory, args.keep_freed_memory // 2)
    import sitq
    proc = _Process(Channel.from_fd(args.fd))
    sitq.current_task = proc.current_task  # tasks look it up at call time
    threading.Thread(target=proc.read, daemon=True, name="sitq-taskproc-reader").start()
    while True:
        meta, payload = proc.tasks.get()
        proc.cancel.clear()
        ctx = proc.current = TaskContext(proc, meta)
        try:
            outcome = _run(ctx, payload)
        finally:
            ctx._end()
            proc.current = None
        del payload
        if os.getpid() != _OWN_PID:
            # A child the function forked returned here: it shares the
            # socket, and its outcome would be taken as the task's (and the
            # next task's as this one's). It ends, as a forked child ends in
            # multiprocessing; a SystemExit it raised ended it in _run.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0 if outcome[0] else 1)
        if outcome[0]:
            proc.conn.send(("result", outcome[2]))
            proc.conn.send_bytes(outcome[1])
        else:
            proc.conn.send(("done",) + outcome)


if __name__ == "__main__":
    main()
