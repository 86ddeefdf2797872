"""Periodic tasks stored in the database: ``TaskQueue.schedule`` and the
decorator form ``@queue.periodic(...)``.

A schedule is kept in the queue's database with its timing (a cron
expression in a time zone, or a fixed interval) and the call to enqueue.
Any running worker of the queue (``sitq.Worker``, ``python -m sitq worker``,
``sitq worker``) enqueues the call at each tick, exactly once however many
workers, processes and hosts run: there is no scheduler process. The
TaskQueue methods of the same names call these functions with the queue as
first argument. See docs/scheduling.md.
"""

from . import _sitq
from .errors import InvalidArgumentError, InvalidStateError, TaskNotFoundError  # noqa: F401

#: Task options a schedule accepts (sitq.Task's keyword arguments that make
#: sense for every tick: no eta, delay, dependencies, unique key or finalizer).
TASK_OPTIONS = frozenset(["priority", "max_retries", "timeout", "retry_backoff",
                          "retry_backoff_max"])


def _every_seconds(every):
    if every is None:
        return None
    if hasattr(every, "total_seconds"):
        every = every.total_seconds()
    if isinstance(every, bool) or not isinstance(every, (int, float)):
        raise InvalidArgumentError(
            "every must be seconds (int) or a datetime.timedelta, not %s"
            % type(every).__name__, "SITQ_EINVAL")
    if every != every or every in (float("inf"), float("-inf")):
        raise InvalidArgumentError("every must be a finite number of seconds, got %r" % every,
                                   "SITQ_EINVAL")
    if every != int(every):
        raise InvalidArgumentError("every must be a whole number of seconds, got %r" % every,
                                   "SITQ_EINVAL")
    return int(every)


def _default_name(func):
    name = _sitq.function_name(func)
    return name[3:] if name.startswith("py:") else name


def schedule(queue, func, cron=None, *, every=None, args=(), kwargs=None, timezone=None,
             name=None, catch_up=True, allow_overlap=False, paused=False, **options):
    """Store a schedule that enqueues ``func(*args, **kwargs)`` at each tick.

    Exactly one of ``cron`` (a 5-field cron expression or ``@daily``-style
    shortcut, read in ``timezone``: None/"UTC", "+HH:MM" or an IANA name
    such as "Europe/Paris"; see sitq.cron_next) and ``every`` (a fixed
    interval: whole seconds or a ``datetime.timedelta``, aligned to the Unix
    epoch; it takes no ``timezone``) is given. ``name`` (default: the function's module and qualified
    name) is unique in the queue. ``catch_up`` (default) runs one task for
    ticks missed while no worker ran (more than 60 s late), then moves on;
    ``catch_up=False`` skips them. While the previous task of the schedule
    is unfinished, a tick is skipped unless ``allow_overlap``. ``paused``
    adds it paused. ``options`` are task options applied to every task:
    priority, max_retries, timeout, retry_backoff, retry_backoff_max.

    ``func`` and the arguments must be picklable (define the function at
    module level): the workers of any process run the tasks.

    Returns the first fire time (aware datetime, UTC). Thread-safe.
    Raises :class:`sitq.InvalidArgumentError` for a bad cron expression,
    interval, time zone (or one given with ``every``), option or name, and when a schedule of that name
    already exists in the queue; :class:`sitq.StorageError` when the
    database fails.
    """
    unknown = sorted(set(options) - TASK_OPTIONS)
    if unknown:
        raise InvalidArgumentError(
            "schedule: unknown option%s %s (options: %s)" % (
                "s" if len(unknown) > 1 else "", ", ".join(unknown),
                ", ".join(sorted(TASK_OPTIONS))), "SITQ_EINVAL")
    task = _sitq.Task(func, args=args, kwargs=kwargs, **options)
    if name is None:
        name = _default_name(func)
    if not isinstance(name, str):
        raise InvalidArgumentError("name must be a str", "SITQ_EINVAL")
    for what, text in (("name", name), ("cron", cron), ("timezone", timezone)):
        if isinstance(text, str) and ("\0" in text or "\n" in text):
            raise InvalidArgumentError("%s must not contain NUL or newline characters" % what,
                                       "SITQ_EINVAL")
    return _sitq._schedule_add(queue, name, task, cron, _every_seconds(every), timezone,
                               not catch_up, bool(allow_overlap), bool(paused))


def schedules(queue):
    """The queue's schedules, sorted by name: a list of dicts with keys
    queue, name, cron (None for an interval), every (seconds, None for a
    cron expression), timezone, function, priority, max_retries, timeout,
    catch_up, allow_overlap, paused, next_fire (aware datetime, UTC),
    last_tick (datetime or None) and last_task_id (int or None).
    Thread-safe; raises :class:`sitq.StorageError` when the database fails.
    """
    return _sitq._schedule_list(queue)


def unschedule(queue, name):
    """Remove the schedule ``name`` of the queue (tasks it enqueued stay).
    Raises :class:`sitq.TaskNotFoundError` when there is no such schedule."""
    _sitq._schedule_set(queue, name, 0)


def pause_schedule(queue, name):
    """Pause the schedule ``name``: no tick fires until it is resumed.
    Raises :class:`sitq.TaskNotFoundError` when there is no such schedule."""
    _sitq._schedule_set(queue, name, 1)


def resume_schedule(queue, name):
    """Resume the schedule ``name`` from its first tick after now (ticks of
    the paused time are not caught up). Raises
    :class:`sitq.TaskNotFoundError` when there is no such schedule."""
    _sitq._schedule_set(queue, name, 2)


def _same(existing, func, cron, every, timezone, kwargs):
    """Whether a stored schedule already is what the decorator describes, as
    far as the stored fields tell (the arguments are not compared)."""
    if not (existing["function"] == _sitq.function_name(func) and existing["cron"] == cron
            and existing["every"] == every and existing["timezone"] == (timezone or None)):
        return False
    for key in ("priority", "max_retries", "timeout"):
        if key in kwargs and existing.get(key) != kwargs[key]:
            return False
    return (existing["catch_up"] == bool(kwargs.get("catch_up", True))
            and existing["allow_overlap"] == bool(kwargs.get("allow_overlap", False))
            and existing["paused"] == bool(kwargs.get("paused", False)))


def _check(func, cron, every, timezone, kwargs):
    """Raise what schedule() would for these arguments, storing nothing."""
    if (cron is None) == (every is None):
        raise InvalidArgumentError("give exactly one of cron and every", "SITQ_EINVAL")
    if cron is not None:
        _sitq._cron_times(cron, 0, timezone)
    elif timezone:
        raise InvalidArgumentError(
            "a time zone applies to a cron expression only: an interval fires every %d s "
            "from the Unix epoch whatever the zone" % every, "SITQ_EINVAL")
    options = {k: v for k, v in kwargs.items() if k in TASK_OPTIONS}
    _sitq.Task(func, args=kwargs.get("args", ()), kwargs=kwargs.get("kwargs"), **options)


def periodic(queue, cron=None, *, every=None, name=None, timezone=None, **kwargs):
    """Decorator form of :func:`schedule`: ``@queue.periodic(cron="0 3 * * *")``
    above a module-level function stores a schedule that calls it without
    arguments (``args=`` and ``kwargs=`` may be given) and returns the
    function unchanged.

    Meant to run at import time in every process: a schedule of that name
    with the same function, timing and options (priority, max_retries,
    timeout, catch_up, allow_overlap, paused) is kept as it is (its next tick
    and history stay); one that differs in any of them is replaced, after the
    new definition was checked (an invalid one raises and leaves the stored
    schedule alone); a schedule another process adds or replaces at the same
    moment is taken as is. The arguments are not compared: to change them,
    rename the schedule or unschedule it first.
    Raises as :func:`schedule`.
    """
    every_s = _every_seconds(every)
    if cron is None and every_s is not None and timezone:
        _check(None, cron, every_s, timezone, {})

    def decorate(func):
        key = name if name is not None else _default_name(func)
        current = [s for s in schedules(queue) if s["name"] == key]
        if current and _same(current[0], func, cron, every_s, timezone, kwargs):
            return func
        if current:
            # a definition that cannot be stored must not remove the old one
            _check(func, cron, every_s, timezone, kwargs)
            try:
                unschedule(queue, key)
            except TaskNotFoundError:
                pass  # another process replaced it at the same moment
        try:
            schedule(queue, func, cron, every=every_s, name=key, timezone=timezone, **kwargs)
        except InvalidArgumentError as e:
            if "already exists" not in str(e):
                raise
        return func

    return decorate
