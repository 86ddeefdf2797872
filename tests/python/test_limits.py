"""TaskQueue.pause()/resume()/paused and set_limit()/remove_limit()/limits():
a paused queue runs nothing until resumed (a burst worker counts it as
drained), limits are stored, replaced and removed, and bad limits raise
InvalidArgumentError. The limits' enforcement across processes is
tests/unit/test_limits_procs.c's."""
import pytest

import sitq


def test_pause_and_resume(queue):
    assert queue.paused is False
    queue.pause()
    assert queue.paused is True
    assert queue.limits() == [{"function": None, "paused": True, "concurrency": 0,
                               "rate_count": 0, "rate_interval": 0.0}]
    tid = queue.enqueue(len, "abc")
    w = sitq.Worker(queue, concurrency=2)
    # A paused queue: the worker drains nothing, so run() returns at once.
    w.run(until_empty=True)
    assert queue.get_task_status(tid) == "queued"
    queue.resume()
    assert queue.paused is False
    assert queue.limits() == []
    w2 = sitq.Worker(queue, concurrency=2)
    w2.run(until_empty=True)
    assert queue.get_result(tid, timeout=10).value == 3


def test_set_limit_replaces_and_remove(queue):
    queue.set_limit(concurrency=4, rate="100/m")
    (l,) = queue.limits()
    assert l["function"] is None and l["concurrency"] == 4
    assert l["rate_count"] == 100 and l["rate_interval"] == 60.0
    queue.set_limit("f", rate="5/30s")
    queue.set_limit("f", concurrency=1)  # replaces: the rate is gone
    f = [x for x in queue.limits() if x["function"] == "f"][0]
    assert f["concurrency"] == 1 and f["rate_count"] == 0
    queue.remove_limit("f")
    queue.remove_limit()
    assert queue.limits() == []


def test_remove_limit_that_does_not_exist(queue):
    with pytest.raises(sitq.TaskNotFoundError, match="function f has no limit to remove"):
        queue.remove_limit("f")
    queue.pause()
    with pytest.raises(sitq.TaskNotFoundError, match="queue .* has no limit to remove"):
        queue.remove_limit()
    assert queue.paused
    assert [l["paused"] for l in queue.limits()] == [True]


@pytest.mark.parametrize("kwargs, message", [
    ({"concurrency": 0}, "concurrency must be 1..1000000000"),
    ({"concurrency": -2}, "concurrency must be 1..1000000000"),
    ({"concurrency": "2"}, "concurrency must be an int"),
    ({"rate": "0/s"}, "bad rate '0/s'"),
    ({"rate": "10/w"}, "bad rate '10/w'"),
    ({"rate": "ten/s"}, "bad rate 'ten/s'"),
    ({}, "set_limit needs concurrency or rate"),
])
def test_bad_limits(queue, kwargs, message):
    with pytest.raises(sitq.InvalidArgumentError, match=message):
        queue.set_limit("f", **kwargs)
    assert queue.limits() == []


def test_an_empty_rate_is_refused_and_keeps_the_limit(queue):
    # The library reads "" as no rate: the call removed the limit it replaced.
    queue.set_limit("f", concurrency=5, rate="10/s")
    with pytest.raises(sitq.InvalidArgumentError, match="rate must be 'COUNT/INTERVAL'"):
        queue.set_limit("f", rate="")
    assert [(l["function"], l["concurrency"], l["rate_count"]) for l in queue.limits()] == [
        ("f", 5, 10)]


def test_a_limit_names_a_task_function_by_itself_or_its_stored_name(queue):
    from sitq_test_tasks import add
    queue.set_limit(add, concurrency=2)
    queue.set_limit("py:sitq_test_tasks.echo", rate="10/s")
    names = sorted(l["function"] for l in queue.limits())
    assert names == ["py:sitq_test_tasks.add", "py:sitq_test_tasks.echo"]
    queue.remove_limit(add)
    assert [l["function"] for l in queue.limits()] == ["py:sitq_test_tasks.echo"]
    with pytest.raises(sitq.InvalidArgumentError, match="task function"):
        queue.set_limit(42, concurrency=1)
    with pytest.raises(sitq.InvalidArgumentError, match="NUL"):
        queue.set_limit("a\0b", concurrency=1)
    with pytest.raises(sitq.InvalidArgumentError, match="got 0"):
        queue.set_limit(add, concurrency=0)
