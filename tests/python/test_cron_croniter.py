"""Cross-check of sitq's cron fire times against croniter (Debian's
python3-croniter), an independent implementation, over a few hundred
expressions (generated from a fixed seed, plus hand-picked edge cases) x
start times x time zones, five fire times each.

croniter is used twice:
  * on naive local wall times, where it does only calendar arithmetic, to
    list the wall times an expression matches; each is mapped to an instant
    by the documented rule (the first instant the zone's clock, read by
    Python's zoneinfo, shows that time or later). sitq must agree with this
    reference at every step.
  * on aware datetimes, as users would call it. Near daylight-saving changes
    croniter 1.3.5 is known to be wrong or to follow another rule (see
    docs/scheduling.md); its answers may differ from sitq's only within a
    day of a change of the zone's offset, or by exactly the change when the
    fire time lies in a period with another offset than the start. The
    differences are counted by kind and printed; any other fails the test.
"""

import collections
import datetime as dt
import random

import pytest

import sitq

croniter_mod = pytest.importorskip("croniter")
zoneinfo = pytest.importorskip("zoneinfo")
croniter = croniter_mod.croniter

UTC = dt.timezone.utc
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "Australia/Lord_Howe"]
STARTS = [
    "2024-01-15T10:07:30", "2024-03-30T12:00:00", "2024-03-09T23:45:00", "2024-10-26T23:30:00",
    "2024-11-02T12:00:00", "2024-04-06T14:00:00", "2023-12-31T23:59:59", "2096-02-27T00:00:00",
    "2040-10-06T15:20:00",
]
FIRES = 5
SEED = 20240315
GENERATED = 300

EDGE_CASES = [
    "* * * * *", "0 0 29 2 *", "0 0 29 2 1", "0 0 1 1 *", "59 23 31 12 *", "0 0 31 * *",
    "30 2 * * *", "0 2 * * *", "30 1 * * *", "0 3 * * *", "15,45 * * * *", "*/30 * * * *",
    "0 * * * *", "0 0 13 * 5", "0 0 */2 * 5", "0 0 1-31 * 5", "0 9 * * 1-5", "0 9 * * 5-7",
    "0 9 * * FRI-SUN", "0 9 * * 5-0", "0 0 1 * MON-SUN",
    "0 9 * * 0", "0 9 * * 7", "0 0 * * 7", "@yearly", "@annually", "@monthly", "@weekly",
    "@daily", "@midnight", "@hourly", "0 12 * jan,Jul mon", "*/7 */5 */3 */2 */2",
    "0 0 30 1-2 *", "0 0 31 1-3 *", "5-10/5,30 */6 * * *", "0 0 1,15 * 3", "30 2 31 3 *",
    "30 2 27 10 *", "0 0 * * sun", "0 0 28-31 * *",
]


def field(rng, lo, hi, names=None):
    """One random field of lo..hi: *, N, N-M, */S, N-M/S, a name, or a list."""
    def value():
        v = rng.randint(lo, hi)
        if names and rng.random() < 0.3:
            return names[v - lo] if v - lo < len(names) else str(v)
        return str(v)

    def item():
        kind = rng.random()
        if kind < 0.35:
            return value()
        if kind < 0.6:
            a, b = sorted(rng.sample(range(lo, hi + 1), 2))
            return "%d-%d" % (a, b)
        if kind < 0.8:
            return "*/%d" % rng.randint(1, min(hi - lo + 1, 20))
        a, b = sorted(rng.sample(range(lo, hi + 1), 2))
        return "%d-%d/%d" % (a, b, rng.randint(1, max(1, b - a)))

    r = rng.random()
    if r < 0.3:
        return "*"
    if r < 0.75:
        return item()
    return ",".join(item() for _ in range(rng.randint(2, 3)))


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def generated(n):
    rng = random.Random(SEED)
    out = []
    while len(out) < n:
        e = " ".join([field(rng, 0, 59), field(rng, 0, 23), field(rng, 1, 31),
                      field(rng, 1, 12, MONTHS), field(rng, 0, 6, DAYS)])
        try:
            sitq.cron_next(e, 0)
        except sitq.InvalidArgumentError as err:
            # Day-of-month restrictions no allowed month holds are refused.
            assert "no such day" in str(err), (e, err)
            continue
        out.append(e)
    return out


def wall_fire(naive, zone):
    """The first instant (Unix seconds) at which zone's clock shows `naive`
    or a later time."""
    early = naive.replace(tzinfo=zone, fold=0)
    back = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back == naive:
        # It exists; fold=0 is its first occurrence when it is repeated.
        return int(early.timestamp())
    # In a gap: search the instant the clock jumps past it.
    lo = int(early.timestamp()) - 2 * 86400
    hi = int(early.timestamp()) + 2 * 86400
    while hi - lo > 1:
        mid = (lo + hi) // 2
        wall = dt.datetime.fromtimestamp(mid, zone).replace(tzinfo=None)
        if wall >= naive:
            hi = mid
        else:
            lo = mid
    return hi


def reference_next(naive_it, zone, after):
    """Next fire time by the documented rule: croniter on naive wall times
    (naive_it, an iterator of the expression) for the calendar, zoneinfo
    for the zone. Every wall time up to the wall time of `after` fires at or
    before `after`, so the search starts there."""
    naive_it.set_current(dt.datetime.fromtimestamp(after, zone).replace(tzinfo=None))
    for _ in range(100000):
        t = wall_fire(naive_it.get_next(dt.datetime), zone)
        if t > after:
            return t
    raise AssertionError("no reference fire time after %d" % after)


def offset(zone, t):
    return dt.datetime.fromtimestamp(t, zone).utcoffset().total_seconds()


def croniter_difference(zone, prev, got, theirs):
    """The kind of a difference between croniter (aware) and sitq, or None
    when it is not one of croniter's known daylight-saving behaviours."""
    change = offset(zone, got) - offset(zone, prev)
    if change and abs(theirs - got) == abs(change):
        # The fire time lies in a period with another UTC offset than the
        # start, and croniter's answer is off by the difference.
        return "off by the offset change since the start"
    for x in (got, theirs):
        if offset(zone, x - 86400) != offset(zone, x + 86400):
            # On the day of a change: a skipped or repeated wall time.
            return "on the day of a change"
    return None


def expressions():
    return EDGE_CASES + generated(GENERATED)


def test_cron_matches_croniter():
    exprs = expressions()
    assert len(exprs) >= GENERATED + len(EDGE_CASES)
    compared = 0
    croniter_diffs = collections.Counter()
    examples = {}
    for zone_name in ZONES:
        zone = zoneinfo.ZoneInfo(zone_name)
        for expr in exprs:
            naive_it = croniter(expr, dt.datetime(2000, 1, 1))
            aware_it = croniter(expr, dt.datetime(2000, 1, 1, tzinfo=zone))
            for start in STARTS:
                after = int(dt.datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp())
                ours = sitq._sitq._cron_times(expr, after, zone_name, FIRES)
                prev = after
                for got in ours:
                    want = reference_next(naive_it, zone, prev)
                    assert got == want, (expr, zone_name, prev, got, want)
                    aware_it.set_current(dt.datetime.fromtimestamp(prev, zone))
                    theirs = int(aware_it.get_next(dt.datetime).timestamp())
                    if theirs != got:
                        kind = croniter_difference(zone, prev, got, theirs)
                        assert kind, ("croniter differs otherwise", expr, zone_name, prev, got,
                                      theirs)
                        croniter_diffs[(zone_name, kind)] += 1
                        examples.setdefault((zone_name, kind), (expr, prev, got, theirs))
                    compared += 1
                    prev = got
    assert compared == len(ZONES) * len(exprs) * len(STARTS) * FIRES
    print("\ncron cross-check: %d fire times compared, all equal to the reference; croniter "
          "(aware) differed on %d, all known daylight-saving behaviours" % (
              compared, sum(croniter_diffs.values())))
    for key, n in sorted(croniter_diffs.items()):
        expr, prev, got, theirs = examples[key]
        print("  %s, %s: %d (e.g. %r after %s: sitq %s, croniter %s)" % (
            key[0], key[1], n, expr, dt.datetime.fromtimestamp(prev, UTC).isoformat(),
            dt.datetime.fromtimestamp(got, UTC).isoformat(),
            dt.datetime.fromtimestamp(theirs, UTC).isoformat()))


def test_generated_expressions_are_varied():
    """The seed yields what the cross-check needs: names, steps, lists,
    ranges, and both day fields restricted at once."""
    exprs = generated(GENERATED)
    assert len(set(exprs)) == GENERATED
    text = " ".join(exprs)
    for needle in ("/", ",", "-", "JAN", "MON", "*"):
        assert needle in text.upper(), needle
    both = [e for e in exprs if e.split()[2] != "*" and e.split()[4] != "*"]
    assert len(both) > 20
