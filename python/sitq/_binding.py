"""Checks of a task's arguments against its function, at enqueue.

``sitq.Task`` calls :func:`check_call` so that arguments that could never
bind to the function's parameters (a missing or unexpected argument, an
option such as ``priority=5`` passed to the short form of ``enqueue``) are
refused when the task is created, with the rules of
``inspect.signature(function).bind(*args, **kwargs)``, instead of failing
on a worker later.
"""

import inspect
import weakref

from .errors import InvalidArgumentError

# function -> its signature (None when it has none), so that enqueueing many
# tasks of one function inspects it once. Weak keys: a cached function (a
# closure, say) is not kept alive by the cache.
_signatures: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _positional_range(sig):
    """(fewest, most) positional arguments that bind when no keyword is
    given, or None when a keyword-only parameter without default exists."""
    low, high = 0, 0
    for p in sig.parameters.values():
        if p.kind in _POSITIONAL:
            high += 1
            if p.default is p.empty:
                low = high
        elif p.kind == p.VAR_POSITIONAL:
            high = float("inf")
        elif p.kind == p.KEYWORD_ONLY and p.default is p.empty:
            return None
    return (low, high)


def _signature(function):
    """(signature or None, positional range or None) of function, cached."""
    try:
        return _signatures[function]
    except (KeyError, TypeError):
        pass
    try:
        sig = inspect.signature(function)
        entry = (sig, _positional_range(sig))
    except (TypeError, ValueError):
        entry = (None, None)  # no introspectable signature (some built-ins): not checked
    try:
        _signatures[function] = entry
    except TypeError:
        pass  # neither hashable nor weakly referable: not cached
    return entry


def _name(function):
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    return name or type(function).__qualname__


def check_call(function, args, kwargs):
    """Raise InvalidArgumentError unless ``function(*args, **kwargs)`` binds
    to the function's signature. Functions without an introspectable
    signature are accepted as they are. Returns None."""
    sig, positional = _signature(function)
    if sig is None:
        return
    if not kwargs and positional and positional[0] <= len(args) <= positional[1]:
        return  # the common case, decided without bind()
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        raise InvalidArgumentError(
            "the arguments do not match %s%s: %s (task options such as priority "
            "belong in sitq.Task, or in enqueue() of a @queue.task function)"
            % (_name(function), sig, e)) from None
