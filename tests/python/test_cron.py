"""sitq.cron_next: values, the kinds of `after`, time zones and errors."""

import datetime as dt

import pytest

import sitq

UTC = dt.timezone.utc
# 2024-01-15T10:00:00Z, a Monday (11:00 in Paris).
MONDAY = 1705312800


def test_cron_next_numbers():
    assert sitq.cron_next("0 9 * * MON-FRI", MONDAY, timezone="Europe/Paris") == 1705392000
    assert sitq.cron_next("0 9 * * MON-FRI", MONDAY) == 1705395600  # UTC
    assert sitq.cron_next("*/15 * * * *", MONDAY) == MONDAY + 900
    # A float is floored: the next minute after 10:00:00.7 is 10:01.
    assert sitq.cron_next("* * * * *", MONDAY + 0.7) == MONDAY + 60
    assert sitq.cron_next("@hourly", 0, timezone="+05:30") == 1800
    assert sitq.cron_next("0 0 29 2 *", MONDAY) == 1709164800  # 2024-02-29
    assert sitq.cron_next("0 0 29 2 *", 1709164800) == 1835395200  # 2028-02-29


def test_cron_next_datetimes():
    after = dt.datetime(2024, 3, 30, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    got = sitq.cron_next("30 2 * * *", after, timezone="Europe/Paris")
    # 02:30 does not exist on 31 March 2024 in Paris: the end of the gap.
    assert got == dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert got.tzinfo is UTC
    got = sitq.cron_next("30 2 * * *", got, timezone="Europe/Paris")
    assert got == dt.datetime(2024, 4, 1, 0, 30, tzinfo=UTC)


def test_cron_next_fall_back_fires_once():
    t = int(dt.datetime(2024, 11, 3, 4, 30, tzinfo=UTC).timestamp())
    fires = sitq._sitq._cron_times("0 * * * *", t, "America/New_York", 3)
    # 01:00 EDT, then 02:00 EST: 01:00 EST (the repeated hour) is skipped.
    assert fires == [t + 1800, t + 1800 + 7200, t + 1800 + 10800]


@pytest.mark.parametrize("expr,words", [
    ("61 * * * *", "minute field \"61\""),
    ("* * * * 8", "day-of-week"),
    ("* * * FOO *", "unknown name"),
    ("0 0 30 2 *", "no such day"),
    ("* * * *", "5 fields"),
    ("@reboot", "shortcut"),
    ("* * * * *\x00", "NUL"),
])
def test_cron_next_bad_expression(expr, words):
    with pytest.raises(sitq.InvalidArgumentError) as e:
        sitq.cron_next(expr, MONDAY)
    assert words in str(e.value)
    assert e.value.code == "SITQ_EINVAL"


@pytest.mark.parametrize("zone,words", [
    ("../etc/passwd", "not an IANA name"),
    ("/usr/share/zoneinfo/UTC", "not an IANA name"),
    ("Mars/Olympus_Mons", "unknown time zone"),
    ("+25:00", "+HH:MM"),
])
def test_cron_next_bad_zone(zone, words):
    with pytest.raises(sitq.InvalidArgumentError) as e:
        sitq.cron_next("* * * * *", MONDAY, timezone=zone)
    assert words in str(e.value)


def test_cron_next_bad_arguments():
    with pytest.raises(sitq.InvalidArgumentError, match="naive"):
        sitq.cron_next("* * * * *", dt.datetime(2024, 1, 1))
    with pytest.raises(sitq.InvalidArgumentError, match="Unix seconds"):
        sitq.cron_next("* * * * *", "2024-01-01")
    with pytest.raises(sitq.InvalidArgumentError, match="Unix seconds"):
        sitq.cron_next("* * * * *", True)
    with pytest.raises(sitq.InvalidArgumentError, match="finite"):
        sitq.cron_next("* * * * *", float("inf"))
    with pytest.raises(sitq.InvalidArgumentError, match="9999"):
        sitq.cron_next("* * * * *", 10 ** 12)
    with pytest.raises(sitq.InvalidArgumentError, match="9999"):
        sitq.cron_next("* * * * *", 10 ** 30)
    with pytest.raises(sitq.InvalidArgumentError, match="timezone"):
        sitq.cron_next("* * * * *", 0, timezone=1)
    with pytest.raises(sitq.InvalidArgumentError, match="expr must be a str"):
        sitq.cron_next(5, 0)
    with pytest.raises(sitq.InvalidArgumentError, match="count"):
        sitq._sitq._cron_times("* * * * *", 0, None, 0)


def test_cron_next_documented():
    assert sitq.cron_next.__doc__ and "daylight-saving" in sitq.cron_next.__doc__
    assert "cron_next" in sitq.__all__
