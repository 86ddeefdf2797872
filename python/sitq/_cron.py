"""sitq.cron_next: the next fire time of a cron expression, in a time zone.

A thin layer over the C core's sitq_cron_next (through ``_sitq._cron_times``)
that accepts and returns datetimes as well as Unix seconds. The dialect and
the daylight-saving rules are described in docs/scheduling.md.
"""

import datetime as _dt
import math as _math

from . import _sitq
from .errors import InvalidArgumentError


def cron_next(expr, after, timezone=None):
    """Return the first fire time of a cron expression strictly after `after`.

    `expr` is a 5-field cron expression, "minute hour day-of-month month
    day-of-week" (``*``, ``N``, ``N-M``, steps ``*/S`` and ``N-M/S``, comma
    lists, JAN..DEC and SUN..SAT in any case, 0 and 7 both Sunday; when both
    day fields are restricted a day matches if either does), or one of
    @yearly @annually @monthly @weekly @daily @midnight @hourly.

    `after` is Unix seconds (int or float) or an aware ``datetime``; the
    result is of the same kind: int Unix seconds, or an aware datetime in
    UTC (use ``.astimezone()`` for local time).

    `timezone` names the zone whose local wall time the expression
    describes: None, "UTC", "GMT" or "Z" for UTC, "+HH:MM"/"-HH:MM" for a
    fixed offset, or an IANA name such as "Europe/Paris" (read from the
    system's TZif files under ``$TZDIR`` or /usr/share/zoneinfo on every
    call). Across daylight-saving changes a wall time fires at the first
    instant the local clock shows it or a later time: a time skipped by a
    spring-forward gap fires once, at the end of the gap; a time repeated
    by a fall-back change fires once, at its first occurrence.

    Pure and thread-safe (no database is involved). Raises
    :class:`sitq.InvalidArgumentError` for a malformed expression (the
    message names the field and quotes the text), an unknown or malformed
    zone name, a naive datetime, a time outside the years 1..9999 or a
    wrong argument type.

    >>> cron_next("0 9 * * MON-FRI", 1705312800, timezone="Europe/Paris")
    1705392000
    """
    if isinstance(after, _dt.datetime):
        if after.tzinfo is None or after.utcoffset() is None:
            raise InvalidArgumentError(
                "after is a naive datetime: give it a tzinfo (e.g. datetime.timezone.utc)",
                "SITQ_EINVAL")
        seconds = _math.floor(after.timestamp())
        nxt = _sitq._cron_times(expr, seconds, timezone, 1)[0]
        return _dt.datetime.fromtimestamp(nxt, _dt.timezone.utc)
    if isinstance(after, bool) or not isinstance(after, (int, float)):
        raise InvalidArgumentError(
            "after must be Unix seconds (int or float) or an aware datetime, not %s"
            % type(after).__name__, "SITQ_EINVAL")
    if isinstance(after, float):
        if not _math.isfinite(after):
            raise InvalidArgumentError("after must be a finite number of seconds", "SITQ_EINVAL")
        after = _math.floor(after)
    return _sitq._cron_times(expr, after, timezone, 1)[0]
