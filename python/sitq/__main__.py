"""Command line of the sitq Python binding.

    python -m sitq dashboard DB [--listen [HOST:]PORT] [--token-file PATH]
                                [--busy-timeout S]
    python -m sitq worker DB [--concurrency N] [--threads T] [--queue NAME]
                             [--pool process|thread] [--grace S] [--max-memory MB]
                             [--keep-freed-memory MB]
                             [--lease DURATION] [--poll DURATION]
                             [--worker-id ID] [--path DIR]
                             [--mode OCTAL] [--allow-foreign] [--busy-timeout S]
                             [--asyncio]

``dashboard`` serves the web dashboard of DB until SIGINT or SIGTERM (exit
status 0): the ``sitq dashboard`` of the C command, built into this package's
extension, with the same options, pages and help (``python -m sitq
dashboard --help``; docs/dashboard.md), so that it needs no ``sitq``
command installed. It prints where it listens on stderr
(``sitq dashboard: DB at http://127.0.0.1:8080/ (read-only)``).

``worker`` runs workers for the Python tasks stored in the SQLite file DB (or the
PostgreSQL database of a ``postgresql://`` URI, as ``sitq_backend_open``
reads it: ``?sitq_schema=NAME`` names its schema; the SQLite file options
do not apply to it).

Process mode (``--pool process``, the default with ``--concurrency N`` for
N > 1) runs N x T tasks at once (T = ``--threads``, default 1), each in a
*task process* of its own fed by this process, which claims the tasks and
holds their leases: CPU-bound Python tasks run in parallel despite the GIL,
and tasks are stopped for real. A task past its timeout, or cancelled while
running, sees ``sitq.current_task().cancelled`` and has a grace
(``--grace``, default 1 s) to return; then its process is killed (SIGKILL)
and replaced, and the attempt fails ("timed out after S s ...", retried per
the task's policy) or ends cancelled. A task process that dies (a segfault,
``os._exit``, the OOM killer, or ``--max-memory``, which caps each task
process's address space) fails its attempt ("worker process died: signal 11
(SIGSEGV)", "worker process exited with status 3") and nothing else.
Each task process keeps up to ``--keep-freed-memory`` MiB (default 64) of
the memory its tasks freed for its next tasks, where glibc's malloc would
hand it back to the system and fault it in again page by page (0 leaves
malloc's own thresholds).
Thread mode (``--pool thread``, the default for ``--concurrency 1``) runs
the tasks on T threads of this process (with N > 1: in N worker processes
of T threads, restarted if they die); a thread cannot be interrupted, so a
timed-out or cancelled task only sees its cancel flag.

``--asyncio`` (thread mode, one process) runs the worker as a
``sitq.aio.Worker``: ``async def`` tasks run on one event loop of this
process, sync ones on its threads, ``--threads`` tasks at once in all.

Durations (``--lease``, ``--poll``, ``--grace``, ``--burst-eta-bound``,
``--busy-timeout``) are seconds, or numbers with a unit as the C ``sitq``
command takes them: ``250ms``, ``30s``, ``10m``, ``1h``, ``7d``.

Task functions are imported by module path: the current
directory (and every ``--path``) is put on sys.path first. A function that
was kept in the memory of the enqueuing process (it could not be pickled)
cannot run here: its task fails with an error that says so.

Several queues: repeat ``--queue`` (``--queue high --queue low``); with
``--queue-order priority`` (the default) a task of the first queue that has
one ready always runs first, with ``round-robin`` the queues take turns.
``--burst`` drains, then exits 0: the worker (every process of a pool) stops
once none of its queues holds a Python task that is ready, running (in any
worker), waiting on dependencies, or scheduled within ``--burst-eta-bound``
seconds (default 60); tasks scheduled later do not hold it.

Ctrl-C (SIGINT) or SIGTERM stops the workers gracefully, with one line
(``stopping (SIGINT): ...``) and no traceback: running tasks finish and their
results are stored; exit status 0. A task still running a grace after its
timeout has its attempt recorded as failed and does not hold the stop (its
thread cannot be interrupted and ends with the process). A second SIGINT or
SIGTERM exits at once, killed by that signal, and says so: the attempts still
running are recovered by other workers once their leases lapse, as if the
process had crashed.

Messages go to stderr through :mod:`logging` (the root logger, so the tasks'
own log lines appear too): ``--log-level`` (default INFO) sets the level;
INFO shows a line per task start and outcome (loggers ``sitq.task`` and
``sitq.worker``), WARNING only retries, lost leases, failures and database
trouble. ``--quiet`` is ``--log-level WARNING``.

While another process holds the database's lock, the worker says so on
stderr and keeps retrying (its open and its transactions). Anyone who can
write DB runs code in this worker (payloads are pickles): see
docs/security.md.
"""

import argparse
import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_HELP = ("a number of seconds, or a number with a unit ms, s, m, h or d "
                  "(e.g. 30s, 10m, 1h, 250ms)")


def _duration(text):
    """Seconds of a duration as the C ``sitq`` command reads it: ``30``,
    ``30s``, ``250ms``, ``10m``, ``1h``, ``7d``."""
    t = text.strip()
    num = t.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = t[len(num):].lower() or "s"
    try:
        if unit not in _UNITS or not num or num.lower() in ("nan", "inf", "infinity"):
            raise ValueError(text)
        v = float(num) * _UNITS[unit]
        if not math.isfinite(v):
            raise ValueError(text)
        return v
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a duration: expected %s"
                                         % (text, _DURATION_HELP))


def _busy_timeout(text):
    """0 (do not wait) to 2147483 seconds, as SQLiteBackend's busy_timeout."""
    v = _duration(text)
    if not 0 <= v <= 2147483:
        raise argparse.ArgumentTypeError("must be 0..2147483 seconds, got %s" % text)
    return v


def _positive_float(text):
    v = _duration(text)
    if not v > 0:
        raise argparse.ArgumentTypeError("must be > 0 seconds, got %s" % text)
    return v


def _int(text):
    """A plain decimal integer, as the C ``sitq`` command reads one: ASCII
    digits with an optional minus sign, no blanks, underscores or other
    scripts' digits (which int() would take)."""
    if not re.fullmatch(r"-?[0-9]+", text):
        raise argparse.ArgumentTypeError("%r is not an integer" % text)
    return int(text)


def _positive_int(text):
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1, got %s" % text)
    return v


# As sitq.Worker's concurrency (and the C `sitq worker`'s): tasks at once
# in one worker. Checked before any process starts.
_SLOTS_MAX = 1024


def _slots(text):
    v = _positive_int(text)
    if v > _SLOTS_MAX:
        raise argparse.ArgumentTypeError("must be 1..%d, got %s" % (_SLOTS_MAX, text))
    return v


def _prefetch(text):
    v = _int(text)
    if not 0 <= v <= 65536:  # as sitq.Worker's prefetch
        raise argparse.ArgumentTypeError("must be 0..65536, got %s" % text)
    return v


def _freed_memory_mib(text):
    v = _int(text)
    if not 0 <= v <= 2047:  # malloc takes the size in bytes as a C int
        raise argparse.ArgumentTypeError("must be 0..2047 MiB, got %s" % text)
    return v


def _non_negative_float(text):
    v = _duration(text)
    if not (0 <= v <= 3155760000):
        raise argparse.ArgumentTypeError("must be 0..3155760000 seconds, got %r" % text)
    return v


def _open_queues(sitq, backend, args):
    """The TaskQueues of --queue (the default queue when none is given)."""
    return [sitq.TaskQueue(backend=backend, name=n) for n in args.queue or [None]]


def _octal_mode(text):
    try:
        v = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not octal permission bits such as 0600" % text)
    if not 0 <= v <= 0o777:
        raise argparse.ArgumentTypeError("must be 0..0777, got %s" % text)
    return v


def _log_level(text):
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise argparse.ArgumentTypeError("%r is not one of DEBUG, INFO, WARNING, ERROR" % text)
    return level


def _parser():
    # "sitq-py" when run as the wheel's console script, else "python -m sitq"
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    prog = script if script.startswith("sitq-py") else "python -m sitq"
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    # Listed for --help only: main() hands `dashboard ...` to the C command,
    # which parses its own options and prints its own help.
    sub.add_parser("dashboard", add_help=False,
                   help="serve the web dashboard of a database (as `sitq dashboard`; "
                        "see `dashboard --help`)")
    w = sub.add_parser("worker", help="run workers for the Python tasks of a database",
                       description="Run workers for the Python tasks of a sitq SQLite database.")
    p.worker_parser = w  # errors found after parsing are reported with the worker's usage
    w.add_argument("db", help="SQLite database file shared with the enqueuing processes, "
                              "or a postgresql:// URI")
    w.add_argument("--concurrency", "-c", type=_slots, default=1,
                   help="tasks at once (default 1): task processes (process mode, the "
                        "default for N > 1) or worker processes (thread mode; 1: this "
                        "process)")
    w.add_argument("--threads", "-t", type=_slots, default=1,
                   help="handler threads per process (default 1); in process mode, "
                        "task processes per --concurrency")
    w.add_argument("--pool", choices=("process", "thread"), default=None,
                   help="process: each task runs in a task process that is killed when "
                        "the task times out or is cancelled (the default for -c N > 1); "
                        "thread: tasks run on threads and cannot be interrupted (the "
                        "default for -c 1)")
    w.add_argument("--asyncio", action="store_true",
                   help="run async def tasks on one event loop of this process "
                        "(sitq.aio.Worker; thread mode, one process): --threads tasks at "
                        "once, async and sync together")
    w.add_argument("--grace", type=_positive_float, default=None, metavar="DURATION",
                   help="process mode: seconds a timed-out or cancelled task has to return "
                        "before its process is killed (default 1)")
    w.add_argument("--max-memory", type=_positive_int, default=None, metavar="MB",
                   help="process mode: address-space limit of each task process in MiB "
                        "(a task past it fails with MemoryError)")
    w.add_argument("--keep-freed-memory", type=_freed_memory_mib, default=None, metavar="MB",
                   help="process mode: MiB of freed memory each task process keeps for its "
                        "next tasks instead of handing it back to the system (glibc's malloc; "
                        "0..2047, default 64; 0 leaves malloc's own thresholds)")
    w.add_argument("--queue", "-q", action="append", default=None,
                   help="queue name (default 'default'); repeat it to serve several queues, "
                        "given in priority order")
    w.add_argument("--queue-order", choices=("priority", "round-robin"), default="priority",
                   help="with several queues: priority (the default) always takes a task of "
                        "the first queue that has one ready; round-robin takes from the "
                        "queues in turn")
    w.add_argument("--burst", action="store_true",
                   help="exit (status 0) once no task of the queues is ready, running, "
                        "waiting on dependencies, or scheduled within --burst-eta-bound")
    w.add_argument("--burst-eta-bound", type=_non_negative_float, default=None,
                   metavar="DURATION",
                   help="with --burst: tasks scheduled (ETA or retry backoff) to run within "
                        "S seconds hold the worker, later ones do not (default 60)")
    w.add_argument("--lease", type=_positive_float, default=None, metavar="DURATION",
                   help="lease in seconds (default 30): how long a crashed worker's task "
                        "stays claimed before another worker takes it over")
    w.add_argument("--poll", "--poll-interval", dest="poll_interval", type=_positive_float,
                   metavar="DURATION",
                   default=None, help="time between looks for new tasks (default 0.05 s)")
    w.add_argument("--prefetch", type=_prefetch, default=None, metavar="N",
                   help="tasks claimed beyond those running, 0..65536 (default: adaptive, "
                        "none for tasks longer than 5 ms); 0: a task is claimed only when "
                        "it can start, so one not started can always be cancelled")
    w.add_argument("--worker-id", default=None, help="worker id (default host:pid:...)")
    w.add_argument("--path", action="append", default=[],
                   help="directory to add to sys.path for importing task functions")
    w.add_argument("--quiet", action="store_true",
                   help="no start/stop or per-task messages (--log-level WARNING)")
    w.add_argument("--log-level", type=_log_level, default=None,
                   help="DEBUG, INFO (the default: a line per task start and outcome), "
                        "WARNING (retries, lost leases, failures, database trouble) or ERROR")
    # A process of a pool (--concurrency N > 1): its parent speaks for it
    # about stops.
    w.add_argument("--pool-child", action="store_true", help=argparse.SUPPRESS)
    # A pool process's end of a pipe its parent holds the other end of: end
    # of file there means the parent is gone (even killed by SIGKILL), and
    # the process stops gracefully instead of running on unsupervised.
    w.add_argument("--parent-fd", type=int, default=None, help=argparse.SUPPRESS)
    w.add_argument("--mode", type=_octal_mode, default=None,
                   help="permissions of a database file the worker creates (default 0600)")
    w.add_argument("--allow-foreign", action="store_true",
                   help="add sitq's tables to a database holding another application's tables")
    w.add_argument("--busy-timeout", type=_busy_timeout, default=None, metavar="DURATION",
                   help="seconds to wait for a lock another process holds (default 30)")
    return p


_LOG = logging.getLogger("sitq.worker")
_FORMAT = "sitq worker[%(process)d]: %(asctime)s %(levelname)s %(name)s: %(message)s"


def _setup_logging(args):
    """A readable line per record on stderr, for this command's messages,
    the workers' task lines and the tasks' own logging."""
    level = args.log_level if args.log_level is not None else logging.INFO
    if args.quiet:
        level = max(level, logging.WARNING)
    logging.basicConfig(level=level, format=_FORMAT, stream=sys.stderr)


def _log(args, msg):
    """An INFO line of this command (hidden by --quiet)."""
    _LOG.info("%s", msg)


def _error(msg):
    """A WARNING line: shown even with --quiet."""
    _LOG.warning("%s", msg)


def _exit_by_signal(signum):
    """End the process at once, killed by signum (as its default action)."""
    logging.shutdown()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _stop_on_first_signal(args):
    """Handler of the first SIGINT/SIGTERM: it stops gracefully (it raises
    KeyboardInterrupt until the worker exists, then _stop_when_asked stops
    the worker and Worker.run returns). The next one
    ends the process at once: the stop may be waiting in C for a task that
    never returns, and the stop's wait runs signal handlers every 0.1 s."""
    def second(signum, frame):
        if not args.pool_child:
            _LOG.warning("%s again: exiting at once; running tasks are recovered by other "
                         "workers when their leases lapse", signal.Signals(signum).name)
        _exit_by_signal(signum)

    def first(signum, frame):
        signal.signal(signal.SIGTERM, second)
        signal.signal(signal.SIGINT, second)
        if not args.pool_child:
            _log(args, "stopping (%s): waiting for running tasks; a second signal exits at once"
                 % signal.Signals(signum).name)
        _STOP_ASKED.set()
        if not _STOPPER_READY.is_set():
            raise KeyboardInterrupt
    return first


# Set by the first stop signal. Once the worker exists, a thread stops it
# (_stop_when_asked) instead of a KeyboardInterrupt, which could land in a
# callback of Worker.run() that reports and drops exceptions (its start's
# log line) and be lost there.
_STOP_ASKED = threading.Event()
_STOPPER_READY = threading.Event()


def _stop_when_asked(worker):
    _STOP_ASKED.wait()
    worker.stop()


def _is_postgres(db):
    return db.startswith(("postgresql://", "postgres://"))


def _open_backend(args):
    """Open the database; while another process holds its lock, say so and
    retry every second (a stop signal ends the wait)."""
    import sitq

    if _is_postgres(args.db):
        return sitq.PostgresBackend(args.db)
    while True:
        try:
            return sitq.SQLiteBackend(args.db, allow_foreign=args.allow_foreign,
                                      file_mode=args.mode, busy_timeout=args.busy_timeout)
        except sitq.DatabaseBusyError:
            _error("database %s is locked by another process; retrying the open in 1 s"
                   % args.db)
            time.sleep(1.0)


def _report_errors(worker, stop):
    """Say on stderr when the worker's transactions fail (it retries them on
    its own), at most every 5 s, so that a blocked database is never silent."""
    seen, last = 0, 0.0
    while not stop.wait(1.0):
        st = worker.stats()
        if st["errors"] > seen and time.monotonic() - last >= 5.0:
            _error("database error (%d so far; retrying): %s" % (st["errors"], st["last_error"]))
            seen, last = st["errors"], time.monotonic()


def _stop_when_parent_ends(fd):
    """A pool process: read the pipe of --parent-fd until end of file (the
    pool's parent is gone), then stop as its SIGTERM would have."""
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    if not _STOP_ASKED.is_set():  # a stop the parent asked for goes on as it is
        _LOG.warning("the pool's parent process is gone: stopping")
        os.kill(os.getpid(), signal.SIGTERM)


def _open_checked(sitq, args, worker_ids):
    """The backend and the queues of --queue, with worker_ids (or the
    default id) and the worker's options (--lease, --poll, --prefetch)
    checked by sitq.Worker's own rules before anything starts; (None, None) after
    logging the error when the database cannot be opened (exit 3: a URI that
    cannot be used counts as such, as in the sitq command). A bad queue name
    or worker id is a usage error (exit 2)."""
    try:
        backend = _open_backend(args)
    except (sitq.StorageError, sitq.InvalidArgumentError) as e:
        _LOG.error("%s", e)
        return None, None
    try:
        queues = _open_queues(sitq, backend, args)
        for wid in worker_ids or [None]:
            try:  # only checked: never started
                sitq.Worker(queues, worker_id=wid, lease=args.lease,
                            poll_interval=args.poll_interval, prefetch=args.prefetch)
            except sitq.InvalidArgumentError as e:
                if wid is None or wid == worker_ids[0]:
                    raise
                raise sitq.InvalidArgumentError(
                    "--worker-id: the last worker process's id, %r (the id, '-', its "
                    "number): %s" % (wid if len(wid) < 40 else wid[:37] + "...", e.message),
                    e.code) from None
    except sitq.InvalidArgumentError as e:
        _parser().worker_parser.error(str(e))
    return backend, queues


def _default_stop_signals():
    """In a process forked by a task (os.fork, multiprocessing): SIGTERM and
    SIGINT as in any Python process, not this worker's graceful stop (such
    a child ignored Pool.terminate())."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _run_one(args):
    on_signal = _stop_on_first_signal(args)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    os.register_at_fork(after_in_child=_default_stop_signals)
    if args.parent_fd is not None:
        threading.Thread(target=_stop_when_parent_ends, args=(args.parent_fd,), daemon=True,
                         name="sitq-pool-parent").start()
    try:
        import sitq
    except KeyboardInterrupt:
        return 0

    for d in reversed([os.getcwd()] + args.path):
        if d not in sys.path:
            sys.path.insert(0, d)
    # A stop signal may come at any point from here on (a pool's parent
    # forwards a Ctrl-C at once): every step is inside the try, so that it
    # ends in a graceful stop and never in a traceback.
    worker = None
    pool = None
    stop_reports = threading.Event()
    try:
        backend, queues = _open_checked(
            sitq, args, [] if args.worker_id is None else [args.worker_id])
        if backend is None:
            return 3
        queue = queues[0]
        slots = args.threads
        if args.pool == "process":
            from . import _procpool
            pool = _procpool.install(args)
            slots = args.threads * args.concurrency
        aworker = None
        if args.asyncio:
            from . import aio
            aworker = aio.Worker(queues, worker_id=args.worker_id, concurrency=slots,
                                 lease=args.lease, poll_interval=args.poll_interval,
                                 order=args.queue_order, prefetch=args.prefetch)
            worker = aworker.sync
        else:
            worker = sitq.Worker(queues, worker_id=args.worker_id, concurrency=slots,
                                 lease=args.lease, poll_interval=args.poll_interval,
                                 prefetch=args.prefetch, order=args.queue_order)
        _log(args, "serving queue %r of %s as %s (%d %s%s)" % (
            queue.name, backend.path, worker.worker_id, slots,
            "task process" if pool else "thread", "" if slots == 1 else "es" if pool else "s")
            + (", async tasks on one event loop" if aworker is not None else ""))
        if len(queues) > 1:
            _log(args, "queues in %s order: %s" % (
                args.queue_order, ", ".join(repr(q.name) for q in queues)))
        threading.Thread(target=_report_errors, args=(worker, stop_reports),
                         daemon=True).start()
        threading.Thread(target=_stop_when_asked, args=(worker,), daemon=True).start()
        _STOPPER_READY.set()
        if aworker is not None:
            # the stopper thread's worker.stop() ends the sync run() inside
            import asyncio
            asyncio.run(aworker.run(until_empty=args.burst, eta_bound=args.burst_eta_bound))
        else:
            worker.run(until_empty=args.burst, eta_bound=args.burst_eta_bound)
        if args.burst and not args.pool_child and not _STOP_ASKED.is_set():
            _log(args, "queues drained (--burst)")  # not when a signal ended the run
    except KeyboardInterrupt:
        pass
    finally:
        stop_reports.set()
        if worker is not None:
            worker.stop()
        if pool is not None:
            pool.close()
    if pool is not None:
        _log(args, "stopped: all worker processes")
    elif args.pool_child:
        _LOG.debug("stopped")
    else:
        _log(args, "stopped")
    return 0


def _run_pool(args):
    child_argv = [sys.executable, "-m", "sitq", "worker", args.db, "--concurrency", "1",
                  "--threads", str(args.threads), "--pool-child"]
    if args.log_level is not None:
        child_argv += ["--log-level", logging.getLevelName(args.log_level)]
    for name in args.queue or []:
        child_argv += ["--queue", name]
    child_argv += ["--queue-order", args.queue_order]
    if args.burst:
        child_argv.append("--burst")
    if args.burst_eta_bound is not None:
        child_argv += ["--burst-eta-bound", repr(args.burst_eta_bound)]
    if args.lease is not None:
        child_argv += ["--lease", repr(args.lease)]
    if args.poll_interval is not None:
        child_argv += ["--poll-interval", repr(args.poll_interval)]
    if args.prefetch is not None:
        child_argv += ["--prefetch", str(args.prefetch)]
    for d in args.path:
        child_argv += ["--path", d]
    if args.quiet:
        child_argv.append("--quiet")
    if args.mode is not None:
        child_argv += ["--mode", "%o" % args.mode]
    if args.allow_foreign:
        child_argv.append("--allow-foreign")
    if args.busy_timeout is not None:
        child_argv += ["--busy-timeout", repr(args.busy_timeout)]

    # The children hold the read end; only this process holds the write
    # end, which the kernel closes when this process ends however it ends.
    parent_r, parent_w = os.pipe()
    child_argv += ["--parent-fd", str(parent_r)]

    def spawn(i):
        argv = list(child_argv)
        if args.worker_id is not None:
            argv += ["--worker-id", "%s-%d" % (args.worker_id, i)]
        # Own process group: a Ctrl-C at the terminal reaches only this
        # process, which forwards one stop per signal it gets.
        return subprocess.Popen(argv, process_group=0, pass_fds=(parent_r,))

    stopping = []
    children = []

    def on_signal(signum, frame):
        stopping.append(signum)
        # First signal: graceful stop (SIGTERM). Second: the children exit at
        # once (SIGKILL: a second SIGTERM sent before a child handled the
        # first would merge with it and only stop it gracefully).
        for c in children:
            if c.poll() is None:
                try:
                    c.send_signal(signal.SIGTERM if len(stopping) == 1 else signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if len(stopping) == 1:
            _log(args, "stopping (%s): waiting for running tasks; a second signal exits at "
                 "once" % signal.Signals(signum).name)
        elif len(stopping) == 2:
            _LOG.warning("%s again: exiting at once; running tasks are recovered by other "
                         "workers when their leases lapse", signal.Signals(signum).name)

    # What every process would refuse is refused once, here: a child that
    # exits at once would otherwise be restarted in a loop.
    import sitq
    # The id as given, and the longest one a process gets from it.
    backend, queues = _open_checked(sitq, args, [] if args.worker_id is None else [
        args.worker_id, "%s-%d" % (args.worker_id, args.concurrency - 1)])
    if backend is None:
        return 3
    del backend, queues  # closed with their last reference
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children.extend(spawn(i) for i in range(args.concurrency))
    _log(args, "started %d worker processes: %s" % (
        len(children), " ".join(str(c.pid) for c in children)))
    drained = usage_error = False
    try:
        while not stopping:
            if args.burst and all(c.poll() == 0 for c in children):
                drained = True  # every process found the queues drained
                break
            for i, c in enumerate(children):
                if args.burst and c.poll() == 0:
                    continue  # drained: not restarted
                if c.poll() == 2 and not stopping:  # a usage error: the same each time
                    _LOG.error("worker process %d exited with 2 (a usage error): stopping",
                               c.pid)
                    on_signal(signal.SIGTERM, None)
                    usage_error = True
                    break
                if c.poll() is not None and not stopping:
                    _log(args, "worker process %d exited with %s; restarting" % (c.pid, c.returncode))
                    time.sleep(0.5)
                    children[i] = spawn(i)
            time.sleep(0.1)
    finally:
        if not stopping and not drained:  # an exception, not a signal: stop the children
            on_signal(signal.SIGTERM, None)
        for c in children:
            c.wait()
        os.close(parent_r)
        os.close(parent_w)
    if len(stopping) > 1:
        # exit at once, by the signal, as a single worker process does
        _exit_by_signal(stopping[-1])
    if drained:
        _log(args, "queues drained (--burst)")
    _log(args, "stopped: all worker processes")
    return 2 if usage_error else 0


def _dashboard(argv):
    """``dashboard ...``: the sitq command's dashboard, in the extension; its
    exit status (0 after SIGINT or SIGTERM, 2 for a bad command line)."""
    from . import _sitq
    return _sitq._dashboard_main(list(argv))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["dashboard"]:
        return _dashboard(argv)
    args = _parser().parse_args(argv)
    twice = [n for i, n in enumerate(args.queue or []) if n in args.queue[:i]]
    if twice:
        _parser().worker_parser.error("--queue %r is given twice" % twice[0])
    _setup_logging(args)
    if args.command != "worker":
        return 2
    if args.db.startswith("sqlite:"):  # a SQLite URI, as the sitq command reads it
        args.db = args.db[len("sqlite:"):]
        if args.db.startswith("//"):
            args.db = args.db[2:]
        if not args.db:
            _parser().worker_parser.error("the sqlite: URI names no database file")
    if args.db == ":memory:":
        _parser().worker_parser.error("DB ':memory:' would be a database in this worker's memory "
                                      "alone, where no other process enqueues: give a file or a "
                                      "PostgreSQL URI")
    if args.pool is None:
        args.pool = "process" if args.concurrency > 1 else "thread"
    if args.pool == "thread" and (args.grace is not None or args.max_memory is not None or
                                  args.keep_freed_memory is not None):
        _parser().worker_parser.error("--grace, --max-memory and --keep-freed-memory apply "
                                      "to --pool process only")
    if args.concurrency * args.threads > _SLOTS_MAX:
        # process mode: the task processes of one worker; thread mode: the
        # threads of its N worker processes, all on this machine.
        _parser().worker_parser.error("--concurrency x --threads is the tasks run at once: "
                                      "at most %d, got %d x %d"
                                      % (_SLOTS_MAX, args.concurrency, args.threads))
    if args.asyncio and (args.pool == "process" or args.concurrency > 1):
        _parser().worker_parser.error("--asyncio runs one process in thread mode: set its "
                                      "bound with --threads N (not --concurrency or --pool "
                                      "process)")
    args.grace = 1.0 if args.grace is None else args.grace
    args.max_memory = (args.max_memory or 0) * 1024 * 1024
    if args.keep_freed_memory is not None:  # None: the task processes' default
        args.keep_freed_memory *= 1024 * 1024
    try:
        if args.concurrency == 1 or args.pool == "process":
            return _run_one(args)
        return _run_pool(args)
    except KeyboardInterrupt:
        # Ctrl-C before the stop handlers were installed: nothing had started
        _log(args, "interrupted while starting")
        return 0


if __name__ == "__main__":
    sys.exit(main())
