"""``@queue.task``: a function that can be called here or enqueued.

``TaskQueue.task`` (in C) calls :func:`task_decorator`. A decorated function
stays an ordinary callable; its ``delay``, ``enqueue`` and ``map`` store
calls for workers, with the options given to the decorator.
"""

import functools
import itertools
import sys

from ._sitq import Task
from .errors import InvalidArgumentError

#: Options of the decorator and of TaskFunction.enqueue (sitq.Task's
#: keyword arguments but function, args, kwargs and depends_on).
OPTIONS = frozenset([
    "priority", "eta", "delay", "max_retries", "timeout", "unique_key",
    "retry_backoff", "retry_backoff_max", "finalizer", "retention",
])


def _noop():
    return None


def check_options(options, where):
    """Raise InvalidArgumentError for an unknown option or a bad value."""
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise InvalidArgumentError(
            "%s: unknown option%s %s (options: %s)" % (
                where, "s" if len(unknown) > 1 else "", ", ".join(unknown),
                ", ".join(sorted(OPTIONS))))
    Task(_noop, **options)  # the values' own checks


def run_chunk(function, items):
    """Run function(item) for each item of a chunk of TaskFunction.map, in
    order; returns the list of results."""
    return [function(item) for item in items]


class _MapChunk:
    """The callable of one chunk of TaskFunction.map: stored under the name
    of the mapped function (followed by ``.map``), pickled with it."""

    def __init__(self, function, name_of):
        self.function = function
        self.__module__ = getattr(name_of, "__module__", None) or __name__
        self.__qualname__ = (getattr(name_of, "__qualname__", None) or "function") + ".map"

    def __call__(self, items):
        return run_chunk(self.function, items)


class TaskFunction:
    """A function decorated with ``@queue.task(...)``.

    Calling it runs the function in this thread, as if undecorated. The
    methods enqueue calls on ``queue`` (the decorator's queue) with
    ``options`` (the decorator's task options, a dict):

    - ``delay(*args, **kwargs)``: enqueue ``function(*args, **kwargs)``; every
      argument goes to the function. Returns the task id (int).
    - ``enqueue(args=(), kwargs=None, depends_on=None, **options)``: the same
      with explicit arguments; ``options`` override the decorator's.
    - ``to_task(...)``: the ``sitq.Task`` that ``enqueue`` would store, for
      ``queue.enqueue_batch`` (whose Tasks may depend on each other).
    - ``map(iterable, chunksize=1)``: one task per chunk of items.

    Workers in other processes find the function by its module and name, as
    for ``enqueue``: decorate module-level functions. (A function decorated
    in ``__main__`` or inside a function is pickled by value instead.)
    """

    def __init__(self, queue, function, options):
        functools.update_wrapper(self, function)
        self.queue = queue
        self.function = function
        self.options = dict(options)

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def __repr__(self):
        return "<sitq.TaskFunction %s.%s on queue %r>" % (
            self.__module__, self.__qualname__, self.queue.name)

    def __reduce__(self):
        # pickled by reference: a worker imports the module and finds this
        # object, whose __call__ runs the function
        return self.__qualname__

    def _callable(self):
        """What a task stores: this object when a worker can import it by
        name, else the plain function (pickled by value)."""
        mod = sys.modules.get(self.__module__)
        if mod is None or self.__module__ == "__main__":
            return self.function
        obj = mod
        for part in self.__qualname__.split("."):
            obj = getattr(obj, part, None)
        return self if obj is self else self.function

    def to_task(self, args=(), kwargs=None, depends_on=None, **options):
        """The sitq.Task of function(*args, **kwargs) with the decorator's
        options overridden by options. Raises InvalidArgumentError (unknown
        option, bad value, arguments that do not bind to the function)."""
        if options:
            check_options(options, "%s.enqueue" % self.__qualname__)
        merged = dict(self.options, **options)
        return Task(self._callable(), args, kwargs, depends_on=depends_on, **merged)

    def enqueue(self, args=(), kwargs=None, depends_on=None, **options):
        """Enqueue function(*args, **kwargs) (like Celery's apply_async):
        depends_on, ids of tasks that must succeed first; options (priority,
        eta, delay, max_retries, timeout, unique_key, retry_backoff,
        retry_backoff_max, finalizer, retention) override the decorator's. Returns the task id
        (int), as TaskQueue.enqueue. Raises InvalidArgumentError (unknown
        option, bad value, arguments that do not bind to the function's
        signature), DependencyError, StorageError."""
        return self.queue.enqueue(self.to_task(args, kwargs, depends_on, **options))

    def delay(self, *args, **kwargs):
        """Enqueue function(*args, **kwargs) with the decorator's options
        (like Celery's delay: every argument goes to the function). Returns
        the task id (int). Raises as enqueue."""
        return self.queue.enqueue(Task(self._callable(), args, kwargs, **self.options))

    def map(self, iterable, chunksize=1):
        """Enqueue function(item) for every item of iterable, chunksize items
        per task, all in one transaction (enqueue_batch). Returns the list of
        the chunk tasks' ids, in order; the result of each is the list of
        function(item) for its items, so that
        ``[v for i in ids for v in queue.get_result(i).unwrap()]`` gives the
        results in the iterable's order. Each item is one positional argument.
        Raises InvalidArgumentError (chunksize not an int >= 1, an item that
        does not bind to the function, a unique_key among the decorator's
        options: every chunk would join the first one's task and get its
        result), StorageError."""
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise InvalidArgumentError("chunksize must be an int >= 1, got %r" % (chunksize,))
        if self.options.get("unique_key") is not None:
            raise InvalidArgumentError(
                "%s.map: the decorator's unique_key would give every chunk the same task "
                "(enqueue the chunks with unique keys of their own)" % self.__qualname__)
        fn = self._callable()
        from ._binding import check_call
        tasks = []
        it = iter(iterable)
        while True:
            chunk = list(itertools.islice(it, chunksize))
            if not chunk:
                break
            for item in chunk:
                check_call(self.function, (item,), {})
            tasks.append(Task(_MapChunk(fn, self), (chunk,), **self.options))
        return self.queue.enqueue_batch(tasks)


def task_decorator(queue, function=None, /, **options):
    """TaskQueue.task: ``@queue.task`` or ``@queue.task(**options)``."""
    if function is not None:
        if options or not callable(function):
            raise InvalidArgumentError(
                "queue.task takes options as keyword arguments: @queue.task(priority=5)")
        return TaskFunction(queue, function, {})
    check_options(options, "queue.task")

    def decorate(fn):
        if not callable(fn):
            raise InvalidArgumentError("@queue.task decorates a callable, got %s"
                                       % type(fn).__name__)
        return TaskFunction(queue, fn, options)
    return decorate
