"""The short repr stored with a Python task's result, for operators.

The worker stores each result as its repr followed by its pickle (the
record of src/core/pyvalue.h), so that ``sitq show``, ``sitq wait``, ``sitq
list --json`` and the dashboard show what a task returned without running
Python. ``bounded_repr`` makes that repr:

- at most ``MAX_CHARS`` (200) characters, whatever the value: containers
  are cut after a few items by ``reprlib`` (a list of a million items costs
  as much as one of ten), long strings, bytes and numbers in their middle,
  and the text as a whole at the end ("...");
- never an exception but Ctrl-C and out of memory: a ``__repr__`` that
  raises anything else (``SystemExit`` too: the task itself succeeded)
  gives ``<unrepresentable TypeName>`` (also for an item inside a
  container);
- dicts and sets in their own order, as ``repr`` shows them (``reprlib``
  sorts them, which would cost O(n log n) for a large one).

The C binding calls ``repr`` itself for the common small values (None,
bools, small ints, floats, short strings), which give the same text.
"""

import reprlib

MAX_CHARS = 200


class _Repr(reprlib.Repr):
    """reprlib.Repr with limits for operators and the rules above."""

    def __init__(self):
        super().__init__()
        self.maxlevel = 4
        self.maxtuple = self.maxlist = self.maxarray = 10
        self.maxset = self.maxfrozenset = self.maxdeque = 10
        self.maxdict = 8
        self.maxstring = 120
        self.maxlong = 60
        self.maxother = MAX_CHARS

    def repr1(self, x, level):
        # each value on its own: an item whose repr raises in one of
        # reprlib's own handlers (an int of more than 4300 digits) is shown
        # unrepresentable, not the whole container
        try:
            return super().repr1(x, level)
        except (KeyboardInterrupt, MemoryError):  # not the repr's fault: passed on
            raise
        except BaseException:
            return unrepresentable(x)

    def repr_instance(self, x, level):
        try:
            s = repr(x)
        except (KeyboardInterrupt, MemoryError):  # not the repr's fault: passed on
            raise
        except BaseException:
            return unrepresentable(x)
        if not isinstance(s, str):
            return unrepresentable(x)
        if len(s) > self.maxother:
            i = max(0, (self.maxother - 3) // 2)
            j = max(0, self.maxother - 3 - i)
            s = s[:i] + "..." + s[len(s) - j:]
        return s

    def _bytes_ends(self, x):
        # as reprlib's repr_str: only the ends of x are ever converted
        n = self.maxstring
        s = repr(bytes(x[:n]))
        if len(s) > n:
            i = max(0, (n - 3) // 2)
            j = max(0, n - 3 - i)
            s = repr(bytes(x[:i]) + bytes(x[len(x) - j:]))
            s = s[:i] + "..." + s[len(s) - j:]
        return s

    def repr_bytes(self, x, level):
        return self._bytes_ends(x)

    def repr_bytearray(self, x, level):
        return "bytearray(%s)" % self._bytes_ends(x)

    def repr_dict(self, x, level):
        n = len(x)
        if n == 0:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = []
        for i, (k, v) in enumerate(x.items()):
            if i >= self.maxdict:
                pieces.append("...")
                break
            pieces.append("%s: %s" % (self.repr1(k, level - 1), self.repr1(v, level - 1)))
        return "{%s}" % ", ".join(pieces)

    def _unsorted(self, x, level, left, right):
        if not x:
            return repr(x)
        if level <= 0:
            return left + "..." + right
        pieces = []
        for i, v in enumerate(x):
            if i >= self.maxset:
                pieces.append("...")
                break
            pieces.append(self.repr1(v, level - 1))
        return left + ", ".join(pieces) + right

    def repr_set(self, x, level):
        return self._unsorted(x, level, "{", "}")

    def repr_frozenset(self, x, level):
        return self._unsorted(x, level, "frozenset({", "})")


_repr = _Repr()


def unrepresentable(x):
    """The text shown for a value whose repr raises."""
    try:
        name = type(x).__qualname__
    except Exception:
        name = "object"
    return "<unrepresentable %s>" % name


def bounded_repr(value):
    """The repr of value for operators: a str of at most MAX_CHARS
    characters; raises nothing but KeyboardInterrupt and MemoryError (see
    the module's text)."""
    try:
        s = _repr.repr(value)
    except (KeyboardInterrupt, MemoryError):  # not the repr's fault: passed on
        raise
    except BaseException:
        s = unrepresentable(value)
    if len(s) > MAX_CHARS:
        s = s[:MAX_CHARS - 3] + "..."
    return s
