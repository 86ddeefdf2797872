"""sitq.Executor: a concurrent.futures.Executor whose calls are sitq tasks.

Each ``submit`` stores a task in the database, so a call survives the crash
of the process that runs it (it is retried by another worker, as any task);
its Future completes when the task finishes. By default the executor starts
its own worker processes (``python -m sitq worker`` with ``max_workers``
processes, as ProcessPoolExecutor starts its pool) and stops them at
``shutdown``, or when its process ends (sitq._executor_worker); with ``start_workers=False`` it only enqueues and waits, and
workers started elsewhere (``python -m sitq worker DB``) run the tasks.

Futures are settled by waiter threads (as many as ``max_workers``, at most
32), each blocked in ``TaskQueue.get_result`` on the oldest task no thread
waits for yet: the library's blocking wait, woken by the completion (or, for
completions in other processes of a SQLite file, by its own polling).

A supervisor thread waits for the started worker process. One that ends
while calls are pending (killed, crashed, or a ``--burst`` worker that found
the queue empty), also after ``shutdown`` was called, is started again, at
most once a second; else the next submit starts it. One that ends with a
usage error (status 2) or a database it cannot open (status 3) would fail
the same way again, and so would one that ended within _QUICK_EXIT_S of its
start _QUICK_EXITS_MAX times in a row: the executor is then broken, its
pending futures fail with SitqSystemError and later submits raise it. Only
``_finish``, once every future is done, stops the worker for good.
"""

import concurrent.futures
import functools
import itertools
import os
import subprocess
import sys
import threading
import time
import weakref

from ._binding import check_call
from ._decorator import check_options
from ._sitq import PostgresBackend, SQLiteBackend, Task, TaskQueue
from .errors import InvalidArgumentError, SitqError, SitqSystemError, TaskTimeoutError

_MAX_WAITERS = 32
_STOP_GRACE_S = 60.0
_RESTART_PAUSE_S = 1.0  # least time between two starts of the worker process
_QUICK_EXIT_S = 10.0  # a worker process that ends sooner counts as failing at its start
_QUICK_EXITS_MAX = 5
_WAIT_SLICE_S = 1.0  # a waiter looks whether the executor broke this often


def run_star_chunk(function, chunk):
    """The task of one chunk of Executor.map: [function(*args) for args in chunk]."""
    return [function(*args) for args in chunk]


class Future(concurrent.futures.Future):
    """A concurrent.futures.Future of a sitq task; ``task_id`` is its id.

    ``cancel()`` cancels the task while it has not started (True), as
    ProcessPoolExecutor does; a running or finished task is not cancelled
    (False)."""

    def __init__(self, queue, task_id):
        super().__init__()
        self.task_id = task_id
        self._queue = queue

    def __repr__(self):
        return "<sitq.Future task_id=%d %s>" % (self.task_id, super().__repr__()[1:-1])

    def cancel(self):
        if self.done():
            return self.cancelled()
        try:
            if self._queue.get_task_status(self.task_id) not in ("queued", "waiting",
                                                                  "scheduled"):
                return False
            if self._queue.cancel(self.task_id) != "cancelled":
                return False
        except SitqError:
            return False
        return super().cancel()


def _settle(future, result):
    """Complete future from a finished task's Result."""
    if result.status == "cancelled":
        super(Future, future).cancel()
        future.set_running_or_notify_cancel()
        return
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(result.unwrap())
    except BaseException as e:  # the task's own exception, or TaskFailedError
        future.set_exception(e)


def _open_queue(target):
    if isinstance(target, TaskQueue):
        return target
    if isinstance(target, (str, os.PathLike)):
        target = os.fspath(target)
        if target.startswith(("postgresql://", "postgres://")):
            return TaskQueue(backend=PostgresBackend(target))
        return TaskQueue(backend=SQLiteBackend(target))
    raise InvalidArgumentError("queue must be a sitq.TaskQueue or a database path or URI, got %s"
                               % type(target).__name__)


def _stop_process(proc):
    """Close the worker's stdin, which stops it gracefully (running tasks
    finish; sitq._executor_worker), then SIGKILL after a grace."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    if proc.poll() is not None:
        return
    try:
        proc.wait(_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except OSError:
        pass


class Executor(concurrent.futures.Executor):
    """Executor(queue, max_workers=None, *, start_workers=True, threads=1,
    worker_args=(), **options)

    A concurrent.futures.Executor that runs each call as a durable sitq task.

    queue: a sitq.TaskQueue, or a database path / postgresql:// URI (its
        default queue is opened).
    max_workers: worker processes to start (default os.cpu_count()), and the
        number of threads that wait for results; an int >= 1.
    start_workers: True (default) starts ``python -m sitq worker`` on the
        queue's database with max_workers processes of ``threads`` handler
        threads each, at the first submit, with this interpreter's sys.path,
        and stops it gracefully (running tasks finish) at shutdown, or when
        this process ends without shutdown. False: tasks run on workers
        started elsewhere.
    worker_args: extra command line arguments of the started worker.
    options: task options of every submitted call (priority, max_retries,
        timeout, delay, eta, retry_backoff, retry_backoff_max); not
        unique_key, which would make the calls share one task and its result.

    As with ProcessPoolExecutor, functions and arguments are pickled: a
    function must be importable by the worker processes (module level; one
    defined in ``__main__`` is pickled by value). ``submit`` raises
    InvalidArgumentError when the arguments do not bind to the function's
    signature, RuntimeError after shutdown, and the errors of
    TaskQueue.enqueue. A Future fails with the task's own exception when it
    can be rebuilt here (else TaskFailedError), and is cancelled when the
    task is. Thread-safe.
    """

    def __init__(self, queue, max_workers=None, *, start_workers=True, threads=1,
                 worker_args=(), **options):
        if max_workers is None:
            max_workers = os.cpu_count() or 1
        for name, v in (("max_workers", max_workers), ("threads", threads)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidArgumentError("%s must be an int >= 1, got %r" % (name, v))
        check_options(options, "Executor")
        if options.get("unique_key") is not None:
            raise InvalidArgumentError(
                "Executor: unique_key cannot be an option of every call (calls would share "
                "one task and its result)")
        self._queue = _open_queue(queue)
        self._max_workers = max_workers
        self._start_workers = bool(start_workers)
        self._threads = threads
        self._worker_args = [str(a) for a in worker_args]
        self._options = options
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._pending = []  # futures no waiter has taken yet, oldest first
        self._live = set()  # futures not done yet (pending or being waited for)
        self._waiters = []
        self._proc = None
        self._finalize = None
        self._shutdown = False
        self._broken = None  # why the worker cannot be started again
        self._quick_exits = 0  # worker processes in a row that ended soon after their start
        self._stopping = False  # _finish stops the worker: not started again

    @property
    def queue(self):
        """The sitq.TaskQueue the calls are enqueued on."""
        return self._queue

    def _worker_command(self):
        target = self._queue.backend.path
        cmd = [sys.executable, "-m", "sitq._executor_worker", target, "--quiet",
               "--queue", self._queue.name, "--concurrency", str(self._max_workers),
               "--threads", str(self._threads),
               # Nothing claimed ahead: a task not started is queued, so that
               # Future.cancel and shutdown(cancel_futures=True) cancel it.
               "--prefetch", "0"]
        return cmd + self._worker_args

    def _start_locked(self):
        if self._start_workers and self._proc is None and self._broken is None:
            env = dict(os.environ)
            paths = [os.path.abspath(p or os.curdir) for p in sys.path]
            env["PYTHONPATH"] = os.pathsep.join(paths)
            self._proc = subprocess.Popen(self._worker_command(), env=env,
                                          stdin=subprocess.PIPE)
            # a forgotten shutdown must not leave the workers running
            self._finalize = weakref.finalize(self, _stop_process, self._proc)
            threading.Thread(target=self._supervise, args=(self._proc, time.monotonic()),
                             daemon=True, name="sitq-executor-supervisor").start()
        n = min(self._max_workers, _MAX_WAITERS)
        while len(self._waiters) < n:
            t = threading.Thread(target=self._wait_loop, daemon=True,
                                 name="sitq-executor-waiter-%d" % len(self._waiters))
            t.start()
            self._waiters.append(t)

    def _supervise(self, proc, started):
        """Wait for the worker process; start it again or mark the executor
        broken when it ends before shutdown (see the module's header)."""
        code = proc.wait()
        with self._cv:
            if self._stopping or proc is not self._proc:
                return
            self._proc = None
            self._finalize.detach()
            self._finalize = None
            quick = time.monotonic() - started < _QUICK_EXIT_S
            self._quick_exits = self._quick_exits + 1 if quick else 0
            if code in (2, 3):
                why = "a usage error" if code == 2 else "its database could not be opened"
            elif self._quick_exits >= _QUICK_EXITS_MAX:
                why = "%d times in a row within %g s of its start" % (self._quick_exits,
                                                                      _QUICK_EXIT_S)
            else:
                why = None
            if why is not None:
                self._broken = ("the executor's worker process exited with status %d (%s; "
                                "its messages are on stderr): the calls not finished are "
                                "left in the queue" % (code, why))
                self._cv.notify_all()
                return
            if not self._live:
                return  # the next submit starts it
        time.sleep(max(0.0, started + _RESTART_PAUSE_S - time.monotonic()))
        with self._cv:
            if not self._stopping and self._live:
                self._start_locked()

    def _wait_loop(self):
        while True:
            with self._cv:
                while not self._pending and not self._shutdown:
                    self._cv.wait()
                if not self._pending:
                    return
                future = self._pending.pop(0)
            try:
                result = self._wait_result(future)
            except BaseException as e:
                if future.set_running_or_notify_cancel():
                    future.set_exception(e)
                continue
            _settle(future, result)

    def _wait_result(self, future):
        """The task's Result; SitqSystemError once the executor is broken
        and the task is not finished."""
        while True:
            try:
                return self._queue.get_result(future.task_id, timeout=_WAIT_SLICE_S)
            except TaskTimeoutError:
                with self._lock:
                    broken = self._broken
                if broken is not None:
                    try:
                        return self._queue.get_result(future.task_id, timeout=0)
                    except TaskTimeoutError:
                        raise SitqSystemError(broken) from None

    def submit(self, fn, /, *args, **kwargs):
        """Enqueue fn(*args, **kwargs) and return its Future (with task_id)."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if self._broken is not None:
                raise SitqSystemError(self._broken)
            task_id = self._queue.enqueue(Task(fn, args, kwargs, **self._options))
            future = Future(self._queue, task_id)
            self._pending.append(future)
            self._live.add(future)
            self._start_locked()
            self._cv.notify()
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future):
        with self._lock:
            self._live.discard(future)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Like ProcessPoolExecutor.map: fn(*args) for args in zip(*iterables),
        results yielded in order (the exception of a failed call is raised
        when its result is reached; TimeoutError after timeout seconds). With
        chunksize > 1, each task runs chunksize calls. Every call's arguments
        are checked against fn's signature before any task is enqueued."""
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise InvalidArgumentError("chunksize must be an int >= 1, got %r" % (chunksize,))
        calls = list(zip(*iterables))
        for args in calls:
            check_call(fn, args, {})
        if chunksize == 1:
            return super().map(fn, *zip(*calls), timeout=timeout) if calls else iter(())
        chunks = [calls[i:i + chunksize] for i in range(0, len(calls), chunksize)]
        done = super().map(functools.partial(run_star_chunk, fn), chunks, timeout=timeout)
        return itertools.chain.from_iterable(done)

    def shutdown(self, wait=True, *, cancel_futures=False):
        """No more submits; cancel_futures cancels the tasks not started yet.
        wait: block until every Future is done, then stop the started
        workers. With wait=False that happens in the background."""
        with self._cv:
            self._shutdown = True
            live = sorted(self._live, key=lambda f: f.task_id)
            self._cv.notify_all()
        if cancel_futures:
            for f in live:
                f.cancel()
        if wait:
            self._finish()
        else:
            threading.Thread(target=self._finish, daemon=True,
                             name="sitq-executor-shutdown").start()

    def _finish(self):
        for t in list(self._waiters):
            t.join()
        with self._lock:
            self._stopping = True  # every future is done: the worker is not started again
            finalize, proc = self._finalize, self._proc
        if finalize is not None:
            finalize()
        if proc is not None:
            # A finalize already running in another _finish (shutdown with
            # wait=False, then with wait=True) returns at once here.
            proc.wait()
