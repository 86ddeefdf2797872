"""Uses the whole public API of sitq, typed: mypy --strict must accept it
(tests/python/test_typing.py). Never run, only checked."""
import datetime
import logging
from typing import Any, Dict, List, Optional, Tuple, Union

import sitq
import sitq.aio
from sitq import errors


def add(a: int, b: int) -> int:
    return a + b


def long_task(n: int) -> int:
    ctx: sitq.TaskContext = sitq.current_task()
    task_id: int = ctx.id
    attempt: int = ctx.attempt
    retries: int = ctx.max_retries
    limit: Optional[float] = ctx.timeout
    queue_name: str = ctx.queue
    function: str = ctx.function
    for i in range(n):
        if ctx.cancelled:
            raise RuntimeError("cancelled at %d of task %d (%s, %s)" % (i, task_id, queue_name,
                                                                       function))
        ctx.set_progress(i / n)
        ctx.heartbeat()
    deps: List[sitq.Result] = ctx.dependency_results()
    return len(deps) + attempt + retries + int(limit or 0)


def main(path: str) -> None:
    logging.getLogger("sitq.task").setLevel(logging.INFO)
    backend = sitq.SQLiteBackend(path, connection_pool_size=4, enable_wal=True,
                                 synchronous="normal", busy_timeout=5.0, allow_foreign=False,
                                 file_mode=0o600, read_only=False)
    db_file: str = backend.path
    shared_db = sitq.PostgresBackend("postgresql://app@db.example/jobs", schema="sitq",
                                     connect_timeout=10, create_schema=True,
                                     connection_pool_size=2, poll_only=False)
    on_pg = sitq.TaskQueue(backend=shared_db, name="typed")
    pg_backend: Union[sitq.SQLiteBackend, sitq.PostgresBackend] = on_pg.backend
    queue = sitq.TaskQueue(backend=backend, name="typed")
    name: str = queue.name
    same: Union[sitq.SQLiteBackend, sitq.PostgresBackend] = queue.backend
    task = sitq.Task(add, args=[1, 2], kwargs={}, priority=1, eta=datetime.datetime.now(),
                     delay=None, max_retries=2, timeout=10.0, unique_key="k", depends_on=[],
                     retry_backoff=0.5, retry_backoff_max=60.0)
    fields: Tuple[Any, ...] = (task.function, task.args, task.kwargs, task.name, task.priority,
                               task.eta, task.delay, task.max_retries, task.timeout,
                               task.unique_key, task.depends_on)
    first: int = queue.enqueue(task)
    second: int = queue.enqueue(add, 3, b=4)
    after: int = queue.enqueue(sitq.Task(long_task, args=[10]), depends_on=[first])
    ids: List[int] = queue.enqueue_batch([sitq.Task(add, args=[i, i]) for i in range(3)])
    with sitq.Worker(queue, worker_id="w", concurrency=2, lease=30.0, poll_interval=0.05,
                     prefetch=None, heartbeat_interval=1.0) as worker:
        result: sitq.Result = queue.get_result(first, timeout=30)
        running: bool = worker.is_running
        threads: int = worker.concurrency
        wid: Optional[str] = worker.worker_id
        served: sitq.TaskQueue = worker.queue
        stats: Dict[str, Any] = worker.stats()
    worker.start()
    worker.stop(timeout=5)
    one = sitq.Worker(queue)
    processed: sitq.Result = one.process_task(second)
    low = sitq.TaskQueue(backend=queue.backend, name="low")
    both = sitq.Worker([queue, low], order="round-robin")
    both.run(until_empty=True, eta_bound=0)
    served_all: Tuple[sitq.TaskQueue, ...] = both.queues
    value: Any = result.value
    info: Tuple[Any, ...] = (
        result.task_id, result.id, result.status, result.is_error, result.is_success,
        result.is_finished, result.error, result.traceback, result.attempts,
        result.max_retries, result.priority, result.function, result.queue, result.worker_id,
        result.unique_key, result.depends_on, result.progress, result.timeout,
        result.cancel_requested, result.enqueued_at, result.eta, result.started_at,
        result.finished_at, result.duration, result.unwrap(), processed.status)
    status: str = queue.get_task_status(after)
    snapshot: sitq.Result = queue.peek(after)
    cancelled: str = queue.cancel(after)
    queue.retry(after)
    counts: Dict[str, int] = queue.get_stats()
    rows: List[Dict[str, Any]] = queue.list_tasks(status="failed", limit=10, offset=0)
    registry: List[sitq.WorkerInfo] = queue.workers(all=True)
    for wi in registry:
        wcount: int = wi.held + len(wi.running) + wi.succeeded + wi.failed + wi.lost + wi.pid
        wnames: Tuple[str, ...] = wi.queues + wi.functions
        seen: Optional[datetime.datetime] = wi.heartbeat_at
        print(wi.id, wi.state, wi.host, wi.concurrency, wi.started_at, wi.lease_until,
              wi.stopped_at, wcount, wnames, seen)
    purged: int = queue.purge(older_than=3600.0)
    first_fire: datetime.datetime = queue.schedule(add, "0 3 * * *", args=[1, 2],
                                                   timezone="Europe/Paris", name="nightly")
    queue.schedule(add, every=datetime.timedelta(minutes=10), args=[1, 2], catch_up=False)
    periodic_add = queue.periodic(every=60, name="minutely", args=[3, 4])(add)
    plans: List[Dict[str, Any]] = queue.schedules()
    queue.pause_schedule("nightly")
    queue.resume_schedule("nightly")
    queue.unschedule("nightly")
    print(first_fire, periodic_add(1, 2), plans)
    queue.set_retention(succeeded=86400, failed="forever")
    kept: Dict[str, Any] = queue.get_retention()
    queue.reset_retention()
    forever = sitq.Task(add, (1, 2), retention="forever").retention
    queue.pause()
    queue.resume()
    was_paused: bool = queue.paused
    queue.set_limit("f", concurrency=2, rate="10/s")
    queue.remove_limit("f")
    limits: List[Dict[str, Any]] = queue.limits()
    print(was_paused, limits)
    ref: str = sitq.function_name(add)
    held: int = sitq.held_functions()
    names: Tuple[str, ...] = sitq.status_names() + sitq.STATUSES
    tick: int = sitq.cron_next("0 3 * * *", 1700000000, timezone="Europe/Paris")
    now = datetime.datetime.now(datetime.timezone.utc)
    tick_at: datetime.datetime = sitq.cron_next("@hourly", now)
    pipelines(queue, first, task)

    version: str = sitq.__version__ + sitq.LIBSITQ_VERSION
    try:
        sitq.Worker(queue).run()
    except sitq.TaskTimeoutError as e:
        late: Optional[int] = e.task_id
    except sitq.TaskFailedError as e:
        why: Optional[str] = e.error
    except (sitq.InvalidArgumentError, sitq.TaskNotFoundError, sitq.InvalidStateError,
            sitq.DependencyError, sitq.TaskNotReadyError, sitq.LeaseLostError,
            sitq.SchemaError, sitq.DatabaseBusyError, sitq.StorageError, sitq.NoHandlerError,
            sitq.SitqSystemError, sitq.SerializationError) as e:
        code: str = e.code
        message: str = e.message
    except errors.SitqError:
        pass
    print(db_file, name, same, fields, ids, running, threads, wid, served, stats, value, info,
          status, snapshot, cancelled, counts, rows, purged, kept, forever, ref, held, names, version)


def pipelines(queue: sitq.TaskQueue, first: int, task: sitq.Task) -> None:
    @queue.task(priority=3, max_retries=1, timeout=5.0)
    def mul(a: int, b: int) -> int:
        return a * b

    bare: sitq.TaskFunction[[int, int], int] = queue.task(add)
    local: int = mul(2, 3) + bare(1, 2)
    queued: int = mul.delay(2, b=3)
    explicit: int = mul.enqueue(args=(2, 3), kwargs={}, depends_on=[first], priority=5)
    as_task: sitq.Task = mul.to_task((1, 2), unique_key="m")
    chunks: List[int] = bare.map([1, 2, 3], chunksize=2)
    batch: List[int] = queue.enqueue_batch([task, sitq.Task(add, [1, 2], depends_on=[task, 1])])
    fin = sitq.Task(add, [sitq.result_of(task), sitq.result_of(first)], finalizer=True)
    is_fin: bool = fin.finalizer
    chained: int = mul.delay(sitq.result_of(first), 2)
    with sitq.Executor(queue, max_workers=2, start_workers=True, threads=1, priority=1) as ex:
        fut: sitq.Future[int] = ex.submit(add, 1, b=2)
        tid: int = fut.task_id
        total: int = fut.result(timeout=10)
        values: List[int] = list(ex.map(add, [1], [2], timeout=None, chunksize=2))
        same: sitq.TaskQueue = ex.queue
    ex.shutdown(wait=True, cancel_futures=False)
    print(local, queued, explicit, as_task, chunks, batch, tid, total, values, same, is_fin,
          chained)


async def add_async(a: int, b: int) -> int:
    ctx: sitq.TaskContext = sitq.aio.current_task()
    return a + b + ctx.attempt


async def asyncio_api(backend: sitq.SQLiteBackend, sync_queue: sitq.TaskQueue) -> None:
    async with sitq.aio.TaskQueue(backend, "typed", executor_threads=2) as q:
        wrapped = sitq.aio.TaskQueue(sync_queue)
        same: sitq.TaskQueue = q.sync
        name: str = q.name + wrapped.name
        tid: int = await q.enqueue(add_async, 1, 2)
        other: int = await q.enqueue(sitq.Task(add, args=[1, 2]), depends_on=[tid])
        ids: List[int] = await q.enqueue_batch([sitq.Task(add, args=[1, 2]), add])
        status: str = await q.get_task_status(tid)
        snapshot: sitq.Result = await q.peek(tid)
        worker = sitq.aio.Worker([q, sync_queue], concurrency=4, lease=30.0, order="priority")
        async with worker:
            result: sitq.Result = await q.get_result(tid, timeout=10.0)
        await worker.run(until_empty=True, eta_bound=0)
        worker.stop()
        inner: sitq.Worker = worker.sync
        running: bool = worker.is_running
        cancelled: str = await q.cancel(other)
        await q.retry(other)
        counts: Dict[str, int] = await q.get_stats()
        rows: List[Dict[str, Any]] = await q.list_tasks(status="failed", limit=10, offset=0)
        purged: int = await q.purge(older_than=3600)
        wrapped.close()
        print(same, name, ids, status, snapshot, result, inner, running, cancelled, counts, rows,
              purged, worker.stats(), worker.worker_id, worker.concurrency)
