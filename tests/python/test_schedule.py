"""Periodic schedules from Python: TaskQueue.schedule, the @queue.periodic
decorator, listing, pausing, removal, their errors, and a worker that runs a
schedule's tasks by itself."""
import datetime
import threading
import time

import pytest

import sitq
from sitq_test_tasks import add, echo

UTC = datetime.timezone.utc


def test_schedule_list_pause_resume_remove(queue):
    before = datetime.datetime.now(UTC)
    first = queue.schedule(add, "0 3 * * *", args=[1, 2], timezone="Europe/Paris",
                           name="nightly", priority=5, max_retries=2, timeout=30)
    assert first > before
    assert first - before <= datetime.timedelta(hours=25)
    assert first.minute == 0 and first.hour in (1, 2)  # 03:00 in Paris, in UTC
    [s] = queue.schedules()
    assert s["name"] == "nightly" and s["queue"] == "default"
    assert s["cron"] == "0 3 * * *" and s["every"] is None
    assert s["timezone"] == "Europe/Paris"
    assert s["function"] == sitq.function_name(add)
    assert (s["priority"], s["max_retries"], s["timeout"]) == (5, 2, 30.0)
    assert s["catch_up"] is True and s["allow_overlap"] is False and s["paused"] is False
    assert s["next_fire"] == first and s["last_tick"] is None and s["last_task_id"] is None

    queue.pause_schedule("nightly")
    assert queue.schedules()[0]["paused"] is True
    queue.resume_schedule("nightly")
    assert queue.schedules()[0]["paused"] is False
    queue.unschedule("nightly")
    assert queue.schedules() == []
    with pytest.raises(sitq.TaskNotFoundError, match="nightly"):
        queue.unschedule("nightly")
    with pytest.raises(sitq.TaskNotFoundError):
        queue.pause_schedule("nightly")


def test_interval_and_default_name(queue):
    nxt = queue.schedule(echo, every=datetime.timedelta(minutes=10), catch_up=False,
                         allow_overlap=True)
    assert nxt.minute % 10 == 0 and nxt.second == 0
    [s] = queue.schedules()
    assert s["name"] == "sitq_test_tasks.echo"
    assert s["every"] == 600 and s["cron"] is None
    assert s["catch_up"] is False and s["allow_overlap"] is True


def test_bad_input(queue):
    with pytest.raises(sitq.InvalidArgumentError, match="hour"):
        queue.schedule(add, "0 24 * * *", args=[1, 2])
    with pytest.raises(sitq.InvalidArgumentError, match="unknown time zone"):
        queue.schedule(add, "@daily", args=[1, 2], timezone="Atlantis/Capital")
    with pytest.raises(sitq.InvalidArgumentError, match="exactly one"):
        queue.schedule(add, args=[1, 2])
    with pytest.raises(sitq.InvalidArgumentError, match="exactly one"):
        queue.schedule(add, "@daily", every=60, args=[1, 2])
    with pytest.raises(sitq.InvalidArgumentError, match="whole number"):
        queue.schedule(add, every=1.5, args=[1, 2])
    with pytest.raises(sitq.InvalidArgumentError, match="cron expression only"):
        queue.schedule(add, every=600, args=[1, 2], timezone="Europe/Paris")
    with pytest.raises(sitq.InvalidArgumentError, match="cron expression only"):
        queue.periodic(every=600, timezone="UTC")
    with pytest.raises(sitq.InvalidArgumentError, match="unknown option"):
        queue.schedule(add, "@daily", args=[1, 2], delay=5)
    with pytest.raises(sitq.InvalidArgumentError, match="picklable"):
        queue.schedule(echo, "@daily", args=[threading.Lock()], name="lock")
    with pytest.raises(sitq.InvalidArgumentError, match="do not match"):
        queue.schedule(add, "@daily", args=[1])
    # arguments of the wrong shape, as Task refuses them: a string is not
    # split into characters, a set has no order, kwargs is a dict
    with pytest.raises(sitq.InvalidArgumentError, match="args must be a list or tuple"):
        queue.schedule(echo, "@daily", args="ab", name="text")
    with pytest.raises(sitq.InvalidArgumentError, match="args must be a list or tuple"):
        queue.schedule(echo, every=60, args={1}, name="set")
    with pytest.raises(sitq.InvalidArgumentError, match="kwargs must be a dict"):
        queue.schedule(add, "@daily", kwargs=[1], name="kw")
    with pytest.raises(sitq.InvalidArgumentError, match="kwargs must be a dict"):
        queue.periodic(every=60, kwargs=[("a", 1)])(add)
    assert queue.schedules() == []
    queue.schedule(add, "@daily", args=[1, 2], name="d")
    with pytest.raises(sitq.InvalidArgumentError, match="already exists"):
        queue.schedule(add, "@hourly", args=[1, 2], name="d")
    assert [s["cron"] for s in queue.schedules()] == ["@daily"]


def test_periodic_decorator_is_idempotent(queue):
    f = queue.periodic(cron="*/5 * * * *", name="adder", args=[2, 3])(add)
    assert f is add  # the function is returned unchanged
    first = queue.schedules()[0]
    queue.periodic(cron="*/5 * * * *", name="adder", args=[2, 3])(add)  # same: kept
    assert queue.schedules() == [first]
    queue.periodic(cron="*/10 * * * *", name="adder", args=[2, 3])(add)  # changed: replaced
    [s] = queue.schedules()
    assert s["cron"] == "*/10 * * * *"
    assert s["next_fire"].minute % 10 == 0


def test_periodic_keeps_the_old_schedule_when_the_new_one_is_bad(queue):
    queue.periodic(every=600, name="adder", args=[2, 3])(add)
    [before] = queue.schedules()
    with pytest.raises(sitq.InvalidArgumentError, match="minute"):
        queue.periodic(cron="61 * * * *", name="adder", args=[2, 3])(add)
    with pytest.raises(sitq.InvalidArgumentError, match="exactly one"):
        queue.periodic(name="adder", args=[2, 3])(add)
    with pytest.raises(sitq.InvalidArgumentError, match="do not match"):
        queue.periodic(every=300, name="adder", args=[1])(add)
    assert queue.schedules() == [before]


def test_periodic_applies_changed_options(queue):
    queue.periodic(every=600, name="adder", args=[2, 3])(add)
    queue.periodic(every=600, name="adder", args=[2, 3], priority=5, paused=True)(add)
    [s] = queue.schedules()
    assert s["priority"] == 5 and s["paused"] is True


@pytest.mark.parametrize("kw", [dict(name="x\0y"), dict(name="x\ny"),
                                dict(cron="* * * * *\0junk"), dict(timezone="UTC\0x")])
def test_control_characters_are_refused(queue, kw):
    kw.setdefault("cron", "@daily")
    with pytest.raises(sitq.InvalidArgumentError, match="must not contain"):
        queue.schedule(add, args=[1, 2], **kw)
    assert queue.schedules() == []


@pytest.mark.parametrize("every", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_intervals_are_refused(queue, every):
    with pytest.raises(sitq.InvalidArgumentError, match="finite"):
        queue.schedule(add, every=every, args=[1, 2])


def test_a_worker_fires_the_schedule(queue, worker):
    queue.schedule(add, every=1, args=[20, 22], name="every-second")
    worker.start()
    deadline = time.monotonic() + 30
    while queue.get_stats()["succeeded"] < 2:
        assert time.monotonic() < deadline, "the schedule did not fire twice within 30 s"
        time.sleep(0.05)
    queue.unschedule("every-second")
    worker.stop()
    done = queue.list_tasks(status="succeeded")
    assert len(done) >= 2
    assert all(queue.get_result(t["id"]).value == 42 for t in done)
