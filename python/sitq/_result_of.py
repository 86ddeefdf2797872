"""sitq.result_of: pass one task's result to another as an argument.

``sitq.result_of(task)`` makes a placeholder that may appear anywhere in a
task's args or kwargs, also nested in lists, tuples and dicts (their exact
types; the values of a dict, not its keys). Creating a :class:`sitq.Task`
with placeholders adds each placeholder's task to its depends_on (after the
explicit ones, without repeating any), and enqueueing it stores each
placeholder as the position of that dependency only: the dependency's
result stays in its own task and is never copied into the dependent's
payload. The worker replaces each placeholder with the dependency's
unpickled value right before it calls the function (the values of
consecutive positions read together, 1,024 per statement, on a reader
connection).

A normal task runs only once all its dependencies succeeded (otherwise it
fails with "dependency N failed" and never runs). A finalizer task
(``finalizer=True``) runs whatever its dependencies' outcomes: there a
placeholder whose dependency failed or was cancelled is replaced by that
dependency's :class:`sitq.Result` (``is_error`` True), not by a value.
"""

from .errors import InvalidArgumentError

# Set once the first placeholder is made, so that tasks of a process that
# never uses result_of skip the walk of their arguments.
_used = False


class ResultOf:
    """A placeholder for the result of a task: see :func:`result_of`.

    Attributes: ``task`` (the task id, an int, or the sitq.Task of the same
    enqueue_batch). Placeholders cannot be pickled on their own: they are
    turned into dependency positions when their task is enqueued.
    """

    __slots__ = ("task",)

    def __init__(self, task):
        self.task = task

    def __repr__(self):
        return "sitq.result_of(%r)" % (self.task,)

    def __reduce__(self):
        # InvalidArgumentError (a TypeError too): enqueue reports it instead
        # of keeping arguments it cannot pickle in this process's memory,
        # where the placeholder would reach the function unreplaced.
        raise InvalidArgumentError(
            "a sitq.result_of() placeholder cannot be pickled on its own: it is replaced only "
            "where it stands in a sitq.Task's args or kwargs, directly or inside lists, tuples "
            "and dicts of exactly those types (as a dict's value), and this one is elsewhere "
            "(in a set, a dict key, a subclass of list, tuple or dict, an object's attribute)",
            "SITQ_EINVAL")


class _Slot:
    """What a placeholder becomes in a stored payload: the position of its
    dependency among the task's dependencies (a small int, no result)."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __reduce__(self):
        return (_Slot, (self.index,))

    def __repr__(self):
        return "<sitq dependency slot %d>" % self.index


def result_of(task):
    """result_of(task) -> placeholder

    The result of ``task`` as an argument of another task: put the returned
    placeholder anywhere in that task's args or kwargs (also inside lists,
    tuples and dicts). The task then depends on ``task`` (added to its
    depends_on) and, when it runs, receives the value ``task`` returned in
    place of the placeholder.

    task: a task id (int, a task of the same queue) or a sitq.Task listed
        earlier in the same ``enqueue_batch``.
    Only the dependency's position is stored in the dependent task; the
    value is read from the dependency when the dependent runs. In a
    finalizer task (``finalizer=True``) a dependency that failed or was
    cancelled gives its sitq.Result instead of a value.
    Raises InvalidArgumentError when task is neither a task id (1 to
    2**63 - 1) nor a sitq.Task; enqueue raises it for a placeholder where it
    is not replaced (in a set, a dict key, a subclass of list, tuple or dict).
    """
    global _used
    from ._sitq import Task
    if isinstance(task, Task):
        pass
    elif isinstance(task, int) and not isinstance(task, bool):
        if task <= 0:
            raise InvalidArgumentError(
                "result_of(task): task id must be positive, got %d" % task, "SITQ_EINVAL")
        if task > 2**63 - 1:
            raise InvalidArgumentError(
                "result_of(task): task id must be at most 2**63 - 1, got %d" % task,
                "SITQ_EINVAL")
    else:
        raise InvalidArgumentError(
            "result_of(task): task must be a task id (int) or a sitq.Task of the same "
            "enqueue_batch, got %s" % type(task).__name__, "SITQ_EINVAL")
    _used = True
    return ResultOf(task)


def _walk(obj, fn):
    """obj with each placeholder p replaced by fn(p), rebuilt only where a
    replacement happened (else obj itself)."""
    t = type(obj)
    if t is ResultOf or t is _Slot:
        return fn(obj)
    if t is list or t is tuple:
        if obj and all(type(x) is _Slot for x in obj):
            # a fan-in's list of placeholders: no call per item
            items = [fn(x) for x in obj]
            return items if t is list else tuple(items)
        items = [_walk(x, fn) for x in obj]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        return items if t is list else tuple(items)
    if t is dict:
        out = {k: _walk(v, fn) for k, v in obj.items()}
        if all(out[k] is v for k, v in obj.items()):
            return obj
        return out
    return obj


def _key(dep):
    """Identity of a dependency: an id by value, a Task by object."""
    return ("id", dep) if isinstance(dep, int) else ("task", id(dep))


def collect(args, kwargs, depends_on):
    """Called by sitq.Task: None when args and kwargs hold no placeholder,
    else depends_on (a tuple) followed by the placeholders' tasks that it
    does not name yet, in order of appearance."""
    if not _used:
        return None
    found = []
    _walk((args, kwargs), lambda p: found.append(p.task) or p)
    if not found:
        return None
    deps = list(depends_on)
    seen = {_key(d) for d in deps}
    for d in found:
        if _key(d) not in seen:
            seen.add(_key(d))
            deps.append(d)
    return tuple(deps)


def encode(args, kwargs, depends_on):
    """Called when a task is enqueued: (args, kwargs) with each placeholder
    replaced by a _Slot holding the position of its dependency, in the order
    libsitq numbers them (ids of depends_on, then the extra ids of
    enqueue(depends_on=), which follow every placeholder's id, then the
    batch's sitq.Task items; a repeat counts once)."""
    order = {}
    ids = [d for d in depends_on if isinstance(d, int)]
    tasks = [d for d in depends_on if not isinstance(d, int)]
    for d in ids + tasks:
        order.setdefault(_key(d), len(order))

    def slot(p):
        if type(p) is _Slot:
            return p
        return _Slot(order[_key(p.task)])

    return _walk(args, slot), _walk(kwargs, slot)


def _slots_of(obj, found):
    """Collect the dependency positions of the _Slots inside obj."""
    _walk(obj, lambda s: found.add(s.index) or s)
    return found


def _ranges(positions):
    """Sorted positions as (first, n) runs of consecutive positions."""
    runs = []
    for p in sorted(positions):
        if runs and runs[-1][0] + runs[-1][1] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    return runs


def resolve(ctx, args, kwargs):
    """Called by the worker: (args, kwargs) with each _Slot replaced by the
    value of that dependency, or by its sitq.Result when it did not succeed
    (only a finalizer runs then). The dependencies are read once each, by
    runs of consecutive positions (one statement per 1,024) that carry only
    each one's value, so that a fan-in of thousands of parents costs a few
    reads and no Result per parent."""
    cache = {}
    for first, n in _ranges(_slots_of(kwargs, _slots_of(args, set()))):
        values, others = ctx._dependency_values(first, n)
        for i, v in enumerate(values):
            cache[first + i] = v
        for i, r in others.items():  # not succeeded, or a value only its Result explains
            cache[first + i] = r.value if r.is_success else r

    return _walk(args, lambda s: cache[s.index]), _walk(kwargs, lambda s: cache[s.index])
