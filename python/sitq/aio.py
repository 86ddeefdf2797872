"""sitq.aio - the asyncio API: a TaskQueue whose methods are coroutines, and a
Worker that runs ``async def`` tasks on one event loop.

Awaiting results never blocks the loop and costs no thread per wait: each
event loop that awaits results of a queue has one *completion watch*
(libsitq's ``sitq_watch``: one thread and an eventfd registered with
``loop.add_reader``). The watch's thread waits for the engine's "a task of
this queue finished" events (at once for this process's workers and
cancels, and for other processes' on PostgreSQL; by polling on SQLite's
cadence of 1 ms backing off to 25 ms otherwise) and makes the fd readable.
On each wake-up the loop asks, in one batched read off the loop
(``sitq_finished_among``: one list query per run of nearby ids), which of the
awaited ids finished, reads those results and resolves their futures: 10,000
concurrent ``get_result`` calls cost one thread and a few reads per wake-up,
not 10,000 polls. A check is followed by a pause of three times its
duration (wake-ups meanwhile wait for it), which bounds the reading to a
quarter of one thread when many waits are long and SQLite's poll ticks ask
for a check every 25 ms.

Every database call (enqueue, reads, cancel, the batched check) runs in the
queue's small thread pool (``executor_threads``, default 4), never on the
loop: a SQLite write may wait for another process's lock up to the busy
timeout, and a PostgreSQL call waits for the network. Only the eventfd read
and the bookkeeping of the futures run on the loop.

The Worker runs on the C engine's worker (claims, leases, heartbeats,
retries, timeouts and completions are the sync Worker's): each of its
``concurrency`` handler threads takes a task; a sync function runs in that
thread, an ``async def`` function is handed to the event loop that runs
``Worker.run()`` and its thread waits (without the GIL) for it. At the task's
timeout, or when it is cancelled (``queue.cancel(id)``, seen at the next
heartbeat) or its lease is lost, the coroutine is cancelled
(``asyncio.CancelledError`` inside it) and the attempt fails as in the sync
worker: "timed out after S s (attempt N): ...", or ends ``cancelled``.
"""

import asyncio
import concurrent.futures
import contextvars
import functools
import math
import os
import threading
import time
from typing import Any, Dict, List, Optional, Set

from . import _sitq
from .errors import InvalidArgumentError, InvalidStateError, TaskTimeoutError

__all__ = ["TaskQueue", "Worker", "current_task"]

_current: "contextvars.ContextVar[Any]" = contextvars.ContextVar("sitq_aio_task")


def current_task():
    """The ``sitq.TaskContext`` of the ``async def`` task whose coroutine (or
    a task it created) calls this, on a ``sitq.aio.Worker``'s loop: ``id``,
    ``attempt``, ``timeout``, ``cancelled``, ``set_progress()``, ... (the sync
    ``sitq.current_task()`` is per thread and does not see the loop's tasks).
    Raises InvalidStateError outside such a task."""
    ctx = _current.get(None)
    if ctx is None:
        raise InvalidStateError(
            "sitq.aio.current_task() is called outside an async task run by a sitq.aio.Worker",
            "SITQ_ESTATE")
    return ctx


def _timeout_arg(timeout):
    """None or a number of seconds >= 0 (the sync get_result's rule)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise InvalidArgumentError("timeout must be None or a number of seconds, got %r"
                                   % (timeout,), "SITQ_EINVAL")
    if math.isnan(timeout) or timeout < 0:
        raise InvalidArgumentError("timeout must be >= 0 seconds, got %r" % (timeout,),
                                   "SITQ_EINVAL")
    return float(timeout)


def _timeout_error(task_id, timeout, status):
    err = TaskTimeoutError("task %d did not finish within %g seconds (status: %s)"
                           % (task_id, timeout, status), "SITQ_ETIMEDOUT")
    err.task_id = task_id
    err.status = status
    return err


_COOLDOWN = 3.0  # a check is followed by a pause of this many times its duration


class _Waits:
    """The awaited results of one queue on one event loop: task id -> the
    futures of its waiters, a completion watch whose fd the loop reads, and
    at most one batched check in flight (wake-ups during a check mark it
    dirty, which runs one more check after it: completions coalesce)."""

    def __init__(self, owner, loop):
        self.owner = owner
        self.loop = loop
        self.futures: Dict[int, Set[asyncio.Future]] = {}
        self.watch = _sitq._Watch(owner.sync)
        self.fd = self.watch.fileno()
        loop.add_reader(self.fd, self.on_readable)
        self.watch.set_active(True)
        self.checking = False
        self.cooling = False  # between a check and the next one (see checked)
        self.dirty = False
        self.closed = False
        self.check_started = 0.0
        self.lost_pause = 0.0  # after a check that lost the connection (see checked)

    def add(self, task_id):
        fut = self.loop.create_future()
        self.futures.setdefault(task_id, set()).add(fut)
        self.kick()
        return fut

    def discard(self, task_id, fut):
        s = self.futures.get(task_id)
        if s is not None:
            s.discard(fut)
            if not s:
                del self.futures[task_id]
        self.maybe_close()

    def on_readable(self):
        self.watch.consume()
        self.kick()

    def kick(self):
        if self.checking or self.cooling:
            self.dirty = True
            return
        if not self.futures:
            return
        self.checking = True
        self.dirty = False
        self.check_started = self.loop.time()
        ids = list(self.futures)
        try:
            cf = self.owner._executor.submit(self.check, ids)
        except RuntimeError:  # the queue was closed: nothing can be read
            self.checking = False
            self.fail_all(self.owner._closed_error())
            self.maybe_close()
            return
        cf.add_done_callback(
            lambda f: self.loop.call_soon_threadsafe(self.checked, f)
            if not self.loop.is_closed() else None)

    def check(self, ids):
        """Off the loop: the finished ids among ids, with their results;
        None when the connection to the store was lost (the next check
        reconnects)."""
        found = self.watch.finished(ids)
        if found is None:
            return None
        out = []
        for task_id in found:
            try:
                out.append((task_id, self.owner.sync.get_result(task_id, 0), None))
            except Exception as e:  # noqa: BLE001 - given to the waiters (TaskNotFoundError)
                out.append((task_id, None, e))
        return out

    def checked(self, cf):
        self.checking = False
        elapsed = self.loop.time() - self.check_started
        try:
            results = cf.result()
        except Exception as e:  # noqa: BLE001 - a failed read fails the waits it served
            self.fail_all(e)
            results = []
        if results is None:
            # The connection was lost (a server restart, a failover): the
            # waits go on, as the sync get_result's do, checking again after
            # a pause of 50 ms doubling to 2 s; their own timeouts end them.
            self.lost_pause = min(self.lost_pause * 2 or 0.05, 2.0)
            self.dirty = self.cooling = True
            self.loop.call_later(self.lost_pause, self.cooled)
            return
        self.lost_pause = 0.0
        for task_id, result, exc in results:
            for fut in self.futures.pop(task_id, ()):
                if fut.done():
                    continue
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
        if self.dirty and self.futures:
            # Checks take at most a quarter of the time: with many waits on
            # tasks that run long, poll ticks (SQLite) would otherwise keep
            # the pool reading their rows back to back.
            self.cooling = True
            self.loop.call_later(min(_COOLDOWN * elapsed, 1.0), self.cooled)
        self.maybe_close()

    def cooled(self):
        self.cooling = False
        if self.dirty:
            self.kick()

    def fail_all(self, exc):
        for futs in self.futures.values():
            for fut in futs:
                if not fut.done():
                    fut.set_exception(exc)
        self.futures.clear()

    def abandon(self):
        """Its loop was closed while waits were pending: release the watch.
        The futures belong to that loop, which can run nothing any more, and
        a check in flight finds it closed (kick's callback)."""
        self.futures.clear()
        self.checking = False
        self.maybe_close()

    def maybe_close(self):
        """No waiters and no check in flight: release the watch (its thread
        is joined in the executor, never on the loop)."""
        if self.futures or self.checking or self.closed:
            return
        self.closed = True
        self.watch.set_active(False)
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        self.owner._waits.pop(self.loop, None)
        try:
            self.owner._executor.submit(self.watch.close)
        except RuntimeError:  # the pool is shut down: join the thread here
            self.watch.close()


class TaskQueue:
    """An asyncio view of a ``sitq.TaskQueue``: the same methods, names and
    arguments, as coroutines.

    ``TaskQueue(backend, name=None, *, executor_threads=4)`` opens queue
    `name` of `backend` (a ``sitq.SQLiteBackend`` or ``sitq.PostgresBackend``),
    or wraps an existing ``sitq.TaskQueue`` given as `backend` (then `name`
    must be None). Database calls run in a pool of `executor_threads` (1..64)
    threads of this object; ``close()`` (or ``async with``) shuts it down.
    One object may be used from several event loops and threads; each loop
    that awaits results gets its own completion watch while it has waiters.
    Raises InvalidArgumentError for bad arguments, and what
    ``sitq.TaskQueue`` raises; every coroutine raises InvalidStateError
    (code SITQ_ESTATE, also a RuntimeError) once ``close()`` was called.
    """

    def __init__(self, backend, name=None, *, executor_threads=4):
        if isinstance(backend, _sitq.TaskQueue):
            if name is not None:
                raise InvalidArgumentError(
                    "name must be None when a sitq.TaskQueue is given", "SITQ_EINVAL")
            self._sync = backend
        else:
            self._sync = _sitq.TaskQueue(backend, name)
        if (isinstance(executor_threads, bool) or not isinstance(executor_threads, int)
                or not 1 <= executor_threads <= 64):
            raise InvalidArgumentError("executor_threads must be an int 1..64, got %r"
                                       % (executor_threads,), "SITQ_EINVAL")
        self._threads = executor_threads
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=executor_threads, thread_name_prefix="sitq-aio")
        self._waits: Dict[asyncio.AbstractEventLoop, _Waits] = {}
        self._closed = False
        self._pid = os.getpid()

    def _here(self):
        """After a fork the pool's threads and the watches' are the parent's:
        a pool and watches of this process's own (the parent's are left as
        they are, never shut down here)."""
        if self._pid != os.getpid():
            self._forked_from = (self._executor, self._waits)
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._threads, thread_name_prefix="sitq-aio")
            self._waits = {}
            self._pid = os.getpid()

    def __repr__(self):
        return "<sitq.aio.TaskQueue %r>" % (self._sync.name,)

    @property
    def sync(self):
        """The ``sitq.TaskQueue`` this object wraps (for ``@queue.task``,
        ``sitq.Worker``, blocking calls)."""
        return self._sync

    @property
    def name(self):
        """The queue's name (str)."""
        return self._sync.name

    @property
    def backend(self):
        """The backend object the queue was opened on."""
        return self._sync.backend

    def _closed_error(self):
        return InvalidStateError("the sitq.aio.TaskQueue %r is closed" % (self._sync.name,),
                                 "SITQ_ESTATE")

    def _check_open(self):
        if self._closed:
            raise self._closed_error()
        self._here()

    async def _call(self, fn, *args, **kwargs):
        self._check_open()
        loop = asyncio.get_running_loop()
        try:
            fut = loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        except RuntimeError:
            # The pool refuses new calls once shut down (a close() from
            # another thread since the check above): the sitq error, not the
            # pool's bare RuntimeError.
            if self._closed:
                raise self._closed_error() from None
            raise
        return await fut

    async def enqueue(self, task, *args, **kwargs):
        """Enqueue a task and return its id, as ``sitq.TaskQueue.enqueue``:
        ``enqueue(sitq.Task(...), depends_on=None)`` or
        ``enqueue(function, *args, **kwargs)``."""
        return await self._call(self._sync.enqueue, task, *args, **kwargs)

    async def enqueue_batch(self, tasks):
        """Enqueue several tasks atomically (one transaction); a list of ids
        (``sitq.TaskQueue.enqueue_batch``)."""
        tasks = list(tasks)
        return await self._call(self._sync.enqueue_batch, tasks)

    async def get_result(self, task_id, timeout=None):
        """Wait for the task to finish and return its ``sitq.Result`` (a failed
        task is a Result with ``is_error``, not an exception).

        timeout: seconds (None: forever; 0: check once). When it passes,
        ``TaskTimeoutError`` is raised (``task_id`` and ``status`` set), as by
        the sync ``get_result``. Cancelling the awaiting coroutine (or
        ``asyncio.wait_for`` around it) ends only this wait: the task runs
        on. Never blocks the loop: see the module's docstring. Raises
        TaskNotFoundError for an unknown id, InvalidArgumentError for a bad
        id or timeout, and a read's StorageError."""
        self._check_open()
        # Waits left by loops closed while they were pending hold a watch
        # (a thread and an eventfd) each: released here, the next time.
        for waits in [w for w in list(self._waits.values()) if w.loop.is_closed()]:
            waits.abandon()
        timeout = _timeout_arg(timeout)
        if timeout == 0:
            return await self._call(self._sync.get_result, task_id, 0)
        if isinstance(task_id, bool) or not isinstance(task_id, int):
            raise InvalidArgumentError("task_id must be an int, got %r" % (task_id,),
                                       "SITQ_EINVAL")
        loop = asyncio.get_running_loop()
        waits = self._waits.get(loop)
        if waits is None:
            waits = self._waits[loop] = _Waits(self, loop)
        fut = waits.add(task_id)
        try:
            if timeout is None:
                return await fut
            try:
                return await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                pass
        finally:
            waits.discard(task_id, fut)
        # A last check, bounded as the sync one is (a server that stops
        # answering fails it within a second, instead of the reply limit):
        # a task that finished as the timeout passed is returned.
        try:
            return await self._call(self._sync.get_result, task_id, 0)
        except TaskTimeoutError as e:
            raise _timeout_error(task_id, timeout, e.status) from None

    async def get_task_status(self, task_id):
        """The task's status name (``"queued"``, ..., ``"cancelled"``)."""
        return await self._call(self._sync.get_task_status, task_id)

    async def peek(self, task_id):
        """The task's current ``Result`` (does not wait)."""
        return await self._call(self._sync.peek, task_id)

    async def cancel(self, task_id):
        """Cancel the task: ``"cancelled"``, or ``"running"`` when it runs
        (then flagged; an async task on a ``sitq.aio.Worker`` is cancelled at
        the worker's next heartbeat)."""
        return await self._call(self._sync.cancel, task_id)

    async def retry(self, task_id):
        """Run a failed or cancelled task again."""
        return await self._call(self._sync.retry, task_id)

    async def get_stats(self):
        """Counts per status and ``"total"`` (a dict)."""
        return await self._call(self._sync.get_stats)

    async def totals(self):
        """The queue's counters that only grow (``sitq.TaskQueue.totals``, a dict)."""
        return await self._call(self._sync.totals)

    async def list_tasks(self, status=None, limit=100, offset=0):
        """The queue's tasks as dicts, newest first (``sitq.TaskQueue.list_tasks``)."""
        return await self._call(self._sync.list_tasks, status, limit, offset)

    async def purge(self, older_than=0):
        """Delete finished tasks older than `older_than` seconds; the count."""
        return await self._call(self._sync.purge, older_than)

    def close(self):
        """Shut the thread pool down (waiting for the calls in flight). From
        then on every coroutine of this object raises InvalidStateError,
        and waits still pending fail with it at their next check. The
        wrapped ``sync`` queue stays usable. Idempotent; thread-safe."""
        if not self._closed:
            self._here()  # in a forked child: its own pool, not the parent's
        self._closed = True
        self._executor.shutdown(wait=True)
        # No get_result runs from now on to release these (see get_result).
        for waits in [w for w in list(self._waits.values()) if w.loop.is_closed()]:
            waits.abandon()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.close)
        return False


# Queue name -> the running sitq.aio.Worker whose loop runs that queue's
# async tasks in this process (the C handler calls _run_coroutine).
_runners: Dict[str, "Worker"] = {}
_runners_lock = threading.Lock()
_SLICE_S = 0.05  # how often a waiting handler thread looks at the cancel flag


class _Escape(Exception):
    """Carries a task's SystemExit or KeyboardInterrupt out of its coroutine
    as an ordinary exception: asyncio re-raises those two out of the event
    loop, which would end the worker's loop and every task running on it."""

    def __init__(self, original):
        super().__init__(repr(original))
        self.original = original


async def _guarded(coro):
    try:
        return await coro
    except (SystemExit, KeyboardInterrupt) as e:
        raise _Escape(e) from None


def _run_coroutine(coro):
    """Called by the binding's handler, on a worker's handler thread with the
    GIL, with the coroutine an ``async def`` task returned: run it on the
    loop of the ``sitq.aio.Worker`` serving the task's queue, else (a sync
    ``sitq.Worker``) to completion with ``asyncio.run``."""
    try:
        ctx = _sitq.current_task()
    except Exception:  # noqa: BLE001 - no context: run it here
        ctx = None
    runner = _runners.get(ctx.queue) if ctx is not None else None
    if runner is None or runner._loop is None:
        return asyncio.run(coro)
    return runner._run_on_loop(coro, ctx)


class Worker:
    """A worker that runs ``async def`` tasks on the event loop that awaits
    ``run()``, and sync tasks in its threads, at most `concurrency` at once
    (both kinds together), as arq does.

    ``Worker(queue, worker_id=None, concurrency=10, lease=None,
    poll_interval=None, heartbeat_interval=None, order=None, prefetch=None)``:
    `queue` is a
    ``sitq.aio.TaskQueue``, a ``sitq.TaskQueue`` or a list of them (several
    queues, in `order`: ``"priority"`` or ``"round-robin"``); the other
    arguments are ``sitq.Worker``'s. Claims, leases, heartbeats, retries,
    timeouts and completions are the C engine's (a ``sitq.Worker`` inside:
    ``.sync``). Each running task holds one of the `concurrency` handler
    threads; for an async task that thread only waits (GIL released) while
    the coroutine runs on the loop. At the task's timeout, a cancel of the
    running task, a lost lease or a stop with a time limit, the coroutine is
    cancelled (``asyncio.CancelledError`` in it); the attempt then fails
    ``"timed out after S s (attempt N): ..."`` or ends ``cancelled``, and
    retries follow the task's policy. Inside an async task,
    ``sitq.aio.current_task()`` gives its TaskContext.

    One running ``sitq.aio.Worker`` per queue name and process: while it
    runs, async tasks of its queues run on its loop even when another worker
    of this process claimed them.
    """

    def __init__(self, queue, worker_id=None, concurrency=10, lease=None, poll_interval=None,
                 heartbeat_interval=None, order=None, prefetch=None):
        def unwrap(q):
            return q.sync if isinstance(q, TaskQueue) else q

        queues = [unwrap(q) for q in queue] if isinstance(queue, (list, tuple)) else unwrap(queue)
        self._sync = _sitq.Worker(queues, worker_id=worker_id, concurrency=concurrency,
                                  lease=lease, poll_interval=poll_interval,
                                  heartbeat_interval=heartbeat_interval, order=order,
                                  prefetch=prefetch)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop_requested = threading.Event()
        self._started = asyncio.Event()

    @property
    def sync(self):
        """The ``sitq.Worker`` that claims and records the tasks."""
        return self._sync

    @property
    def worker_id(self):
        """The worker's id (str)."""
        return self._sync.worker_id

    @property
    def concurrency(self):
        """At most this many tasks run at once."""
        return self._sync.concurrency

    @property
    def is_running(self):
        """True between the start of ``run()`` and its end."""
        return self._sync.is_running

    def stats(self):
        """The sync worker's counters (``sitq.Worker.stats``)."""
        return self._sync.stats()

    def _register(self, loop):
        with _runners_lock:
            for q in self._sync.queues:
                other = _runners.get(q.name)
                if other is not None and other is not self:
                    raise InvalidStateError(
                        "queue %r is already served by a running sitq.aio.Worker in this process"
                        % (q.name,), "SITQ_ESTATE")
            self._loop = loop
            for q in self._sync.queues:
                _runners[q.name] = self

    def _unregister(self):
        with _runners_lock:
            for q in self._sync.queues:
                if _runners.get(q.name) is self:
                    del _runners[q.name]
            self._loop = None

    async def run(self, until_empty=False, eta_bound=None):
        """Run until ``stop()`` (or, with ``until_empty=True``, until the
        queues are drained, as ``sitq.Worker.run``). Cancelling the coroutine
        that awaits it (Ctrl-C under ``asyncio.run``) stops the worker
        gracefully first: running tasks finish and are recorded. Raises
        InvalidStateError when this worker, or another sitq.aio.Worker of one
        of its queues, already runs."""
        loop = asyncio.get_running_loop()
        if self._loop is not None:
            raise InvalidStateError("this sitq.aio.Worker is already running", "SITQ_ESTATE")
        self._register(loop)
        self._started = asyncio.Event()
        self._stop_requested.clear()
        try:
            if until_empty:
                await loop.run_in_executor(None, functools.partial(
                    self._sync.run, until_empty=True, eta_bound=eta_bound))
            else:
                await loop.run_in_executor(None, self._serve, loop)
        finally:
            self._stop_requested.set()
            try:
                # Running coroutines need the loop to finish: stop off the loop.
                await asyncio.shield(loop.run_in_executor(None, self._sync.stop))
            finally:
                self._unregister()

    def stop(self):
        """Ask ``run()`` to return: it stops the worker gracefully (running
        tasks finish and are recorded). Returns at once; thread-safe."""
        self._stop_requested.set()

    def _serve(self, loop):
        """Off the loop: start the sync worker, then stop it at stop() (or
        return when it was stopped directly, e.g. by ``python -m sitq``)."""
        self._sync.start()
        loop.call_soon_threadsafe(self._started.set)
        while self._sync.is_running and not self._stop_requested.wait(0.1):
            pass
        self._sync.stop()

    async def __aenter__(self):
        """Run the worker in a background asyncio task until ``__aexit__``."""
        self._bg = asyncio.ensure_future(self.run())
        while self._loop is None and not self._bg.done():
            await asyncio.sleep(0)  # run() registers at its first step
        if not self._bg.done():
            started = asyncio.ensure_future(self._started.wait())
            await asyncio.wait([started, self._bg], return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
        if self._bg.done():
            self._bg.result()  # run() failed: raise its error
        return self

    async def __aexit__(self, *exc):
        self.stop()
        await self._bg
        return False

    # ---- on a handler thread ------------------------------------------

    def _run_on_loop(self, coro, ctx):
        loop = self._loop
        if loop is None:  # the worker's run() just ended
            return asyncio.run(coro)
        done: concurrent.futures.Future = concurrent.futures.Future()
        holder: List[asyncio.Task] = []
        reason: List[str] = []

        def start():
            context = contextvars.copy_context()
            context.run(_current.set, ctx)
            task = loop.create_task(_guarded(coro), context=context)
            holder.append(task)

            def copy(t):
                if t.cancelled():
                    done.set_exception(asyncio.CancelledError(*reason[:1]))
                elif isinstance(t.exception(), _Escape):
                    # the task's own failure, raised on its handler thread
                    done.set_exception(t.exception().original)
                elif t.exception() is not None:
                    done.set_exception(t.exception())
                else:
                    done.set_result(t.result())
            task.add_done_callback(copy)

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop is closed: run it here
            return asyncio.run(coro)
        timeout = ctx.timeout
        deadline = time.monotonic() + timeout if timeout else None
        cancelled = False
        while True:
            # wait(), not result(timeout): a task may raise TimeoutError itself
            concurrent.futures.wait([done], timeout=_SLICE_S)
            if done.done():
                return done.result()
            if loop.is_closed():
                raise RuntimeError("the event loop of the sitq.aio.Worker was closed while "
                                   "the task ran")
            if cancelled:
                continue
            timed_out = deadline is not None and time.monotonic() >= deadline
            if timed_out or ctx.cancelled:
                cancelled = True
                reason.append("the coroutine was cancelled at the task's timeout (%g s)" % timeout
                              if timed_out else "the coroutine was cancelled (the task was "
                              "cancelled, lost its lease or its worker is stopping)")
                loop.call_soon_threadsafe(lambda: holder and holder[0].cancel())
