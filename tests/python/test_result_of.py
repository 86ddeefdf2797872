"""sitq.result_of placeholders and TaskContext.dependency_results(): results
flow from tasks to their dependents, read when the dependent runs and never
copied into its payload; finalizers see failures."""
import json
import pickle
import subprocess

import pytest

import sitq
from sitq_test_backend import ON_PG
from test_api import _sitq_command
from test_retention import wait_purged


def chunk(i):
    return list(range(i * 1000, (i + 1) * 1000))


def total(parts):
    return sum(sum(p) for p in parts)


def show(db_path, tid):
    out = subprocess.run([_sitq_command(), "show", db_path, str(tid), "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_fan_out_fan_in_through_a_list(db_path, queue):
    parts = [sitq.Task(chunk, args=[i]) for i in range(10)]
    fan_in = sitq.Task(total, args=[[sitq.result_of(t) for t in parts]])
    assert fan_in.depends_on == tuple(parts)
    ids = queue.enqueue_batch(parts + [fan_in])
    with sitq.Worker(queue, concurrency=2):
        r = queue.get_result(ids[-1], timeout=30)
    assert r.is_success, r.error
    assert r.value == sum(range(10000)) == 49995000
    assert list(r.depends_on) == ids[:10]
    # the placeholders are stored as positions: the ten 1000-int results
    # (about 30 kB pickled) are not in the dependent's payload
    info = show(db_path, ids[-1])
    assert info["depends_on"] == ids[:10]
    assert info["payload_len"] < 1500, info["payload_len"]
    assert sum(show(db_path, i)["value_len"] for i in ids[:10]) > 20000


def test_nested_placeholders_and_merged_depends_on(queue):
    a = queue.enqueue(str.upper, "a")
    b = queue.enqueue(str.upper, "b")
    c = queue.enqueue(str.upper, "c")

    def shape(x, nested, *, opts):
        return x, nested, opts

    t = sitq.Task(shape, args=[sitq.result_of(b), ({"k": [sitq.result_of(a), 1]},
                                                   sitq.result_of(b))],
                  kwargs={"opts": {"c": sitq.result_of(c), "plain": (2, "s")}},
                  depends_on=[c])
    # explicit first, then the placeholders' tasks in order of appearance, once each
    assert t.depends_on == (c, b, a)
    tid = queue.enqueue(t)
    with sitq.Worker(queue, concurrency=2):
        r = queue.get_result(tid, timeout=30)
    assert r.value == ("B", ({"k": ["A", 1]}, "B"), {"c": "C", "plain": (2, "s")}), r.error
    assert r.depends_on == (c, b, a)


def test_task_objects_of_a_batch_and_explicit_ids(queue):
    first = queue.enqueue(pow, 2, 10)

    def combine(x, y, z):
        deps = sitq.current_task().dependency_results()
        return x, y, z, [d.task_id for d in deps]

    mid = sitq.Task(pow, args=[3, 2])
    last = sitq.Task(pow, args=[5, 1])
    top = sitq.Task(combine, args=[sitq.result_of(last), sitq.result_of(first)],
                    kwargs={"z": sitq.result_of(mid)})
    ids = queue.enqueue_batch([mid, last, top])
    other = queue.enqueue(pow, 7, 1)
    # an explicit id as a placeholder, and an extra enqueue(depends_on=) after it
    solo = queue.enqueue(sitq.Task(combine, args=[sitq.result_of(first), 0],
                                   kwargs={"z": sitq.result_of(other)}), depends_on=[ids[0]])
    with sitq.Worker(queue, concurrency=2):
        r = queue.get_result(ids[2], timeout=30)
        s = queue.get_result(solo, timeout=30)
    # the ids first, then the batch's Tasks (last, mid: order of appearance)
    assert top.depends_on == (last, first, mid)
    assert r.value == (5, 1024, 9, [first, ids[1], ids[0]]), r.error
    assert s.value == (1024, 0, 7, [first, other, ids[0]]), s.error


def test_dependency_results_order_and_fields(backend):
    q = sitq.TaskQueue(backend=backend, name="deps")
    ids = [q.enqueue(pow, n, 2) for n in (3, 1, 2)]

    def report():
        t = sitq.current_task()
        res = t.dependency_results()
        return t.id, t.attempt, t.queue, [(r.task_id, r.status, r.value) for r in res]

    tid = q.enqueue(sitq.Task(report, depends_on=[ids[2], ids[0], ids[1], ids[0]]))
    alone = q.enqueue(report)
    with sitq.Worker(q, concurrency=2):
        r = q.get_result(tid, timeout=30)
        a = q.get_result(alone, timeout=30)
    assert r.value == (tid, 1, "deps", [(ids[2], "succeeded", 4), (ids[0], "succeeded", 9),
                                        (ids[1], "succeeded", 1)]), r.error
    assert a.value == (alone, 1, "deps", [])


def boom():
    raise ValueError("boom")


def test_a_finalizer_sees_a_failure(queue):
    ok = queue.enqueue(pow, 2, 3)
    bad = queue.enqueue(boom)
    ran = []

    def chord(good, failed):
        deps = sitq.current_task().dependency_results()
        return good, failed.task_id, failed.is_error, [(d.status, d.error) for d in deps]

    def normal(good, failed):
        ran.append(1)

    fin = sitq.Task(chord, args=[sitq.result_of(ok), sitq.result_of(bad)], finalizer=True)
    assert fin.finalizer is True and sitq.Task(boom).finalizer is False
    fid = queue.enqueue(fin)
    nid = queue.enqueue(sitq.Task(normal, args=[sitq.result_of(ok), sitq.result_of(bad)]))
    with sitq.Worker(queue, concurrency=2):
        f = queue.get_result(fid, timeout=30)
        n = queue.get_result(nid, timeout=30)
    # a failed dependency's placeholder becomes its Result in a finalizer
    assert f.value == (8, bad, True, [("succeeded", None), ("failed", "ValueError: boom")]), \
        f.error
    assert n.status == "failed" and n.error == "dependency %d failed" % bad
    assert ran == []


def test_the_decorator_and_process_task(queue):
    @queue.task(finalizer=True)
    def double(x):
        return 2 * x

    src = queue.enqueue(pow, 4, 2)
    tid = double.delay(sitq.result_of(src))
    w = sitq.Worker(queue)
    assert w.process_task(src).value == 16
    assert w.process_task(tid).value == 32


def test_error_paths(backend):
    q = sitq.TaskQueue(backend=backend)
    for bad in ("1", 1.0, None, True, [1]):
        with pytest.raises(sitq.InvalidArgumentError, match="task must be a task id"):
            sitq.result_of(bad)
    for bad in (0, -3):
        with pytest.raises(sitq.InvalidArgumentError, match="must be positive"):
            sitq.result_of(bad)
    with pytest.raises(TypeError, match="cannot be pickled on its own"):
        pickle.dumps(sitq.result_of(1))
    for bad in (2**63, 2**64):  # a SystemError from a pending OverflowError before
        with pytest.raises(sitq.InvalidArgumentError, match=r"at most 2\*\*63 - 1"):
            sitq.result_of(bad)

    # a placeholder where it is not replaced: refused, not kept in this
    # process's memory to reach the function as the placeholder itself
    class L(list):
        pass
    before = q.list_tasks()
    for misplaced in ({sitq.result_of(1)}, {sitq.result_of(1): 1}, L([sitq.result_of(1)])):
        with pytest.raises(sitq.InvalidArgumentError, match="replaced only where it stands"):
            q.enqueue(sitq.Task(repr, args=[misplaced]))
    assert q.list_tasks() == before
    with pytest.raises(sitq.InvalidArgumentError, match="finalizer must be a bool"):
        sitq.Task(pow, args=[1, 2], finalizer=1)
    # a finalizer with nothing to wait for: refused (it would run at once as a
    # plain task), as the CLI refuses --finalizer without --after; dependencies
    # given to enqueue or by a batch's Task count
    lone = sitq.Task(pow, args=[1, 2], finalizer=True)
    with pytest.raises(sitq.InvalidArgumentError, match="finalizer.*needs dependencies"):
        q.enqueue(lone)
    with pytest.raises(sitq.InvalidArgumentError, match="finalizer.*needs dependencies"):
        q.enqueue_batch([sitq.Task(abs, args=[1]), lone])
    assert q.list_tasks() == before
    first = q.enqueue(abs, -1)
    fin = q.enqueue(lone, depends_on=[first])
    assert q.peek(fin).depends_on == (first,)
    head = sitq.Task(abs, args=[-2])
    ids = q.enqueue_batch([head, sitq.Task(pow, args=[1, 2], depends_on=[head], finalizer=True)])
    assert q.peek(ids[1]).depends_on == (ids[0],)

    # a Task placeholder outside a batch, or not in the batch
    t = sitq.Task(pow, args=[1, 2])
    with pytest.raises(sitq.InvalidArgumentError, match="sitq.result_of"):
        q.enqueue(sitq.Task(abs, args=[sitq.result_of(t)]))
    with pytest.raises(sitq.InvalidArgumentError, match="not in this batch"):
        q.enqueue_batch([sitq.Task(abs, args=[sitq.result_of(t)])])

    # the id of a task of another queue
    other = sitq.TaskQueue(backend=backend, name="other")
    oid = other.enqueue(pow, 1, 2)
    with pytest.raises(sitq.DependencyError) as e:
        q.enqueue(sitq.Task(abs, args=[sitq.result_of(oid)]))
    assert str(e.value) == "dependency %d does not exist in this queue" % oid

    # dependency_results outside a task
    with pytest.raises(sitq.InvalidStateError):
        sitq.current_task().dependency_results()


def test_arguments_held_in_memory_keep_their_placeholders(queue):
    import threading
    lock = threading.Lock()  # cannot be pickled: the arguments stay in this process

    def use(held, values):
        return type(held).__name__, values

    src = queue.enqueue(pow, 2, 5)
    tid = queue.enqueue(sitq.Task(use, args=[lock, [sitq.result_of(src), 1]]))
    w = sitq.Worker(queue)
    assert w.process_task(src).value == 32
    assert w.process_task(tid).value == ("lock", [32, 1])


@pytest.mark.skipif(ON_PG, reason="writes a payload into the SQLite file directly")
def test_a_payload_format_after_2_is_refused(db_path, queue):
    from test_payload_envelope import _replace_payload
    tid = queue.enqueue(pow, 2, 2)
    _replace_payload(db_path, lambda old: pickle.dumps((3, None, (2, 2), {}, None), protocol=5))
    r = sitq.Worker(queue).process_task(tid)
    assert r.status == "failed"
    assert "unknown payload format" in r.error


def ident(x):
    return x


def pick(values, every):
    return values[::every], sum(values)


def test_a_fan_in_past_one_read_slice(queue):
    # 2,500 parents: three range reads of at most 1,024 positions; the
    # placeholders name them in reverse, some twice, and skip none
    parents = [sitq.Task(ident, args=[i]) for i in range(2500)]
    refs = [sitq.result_of(t) for t in reversed(parents)] + [sitq.result_of(parents[7])]
    child = sitq.Task(pick, args=[refs, 500])
    ids = queue.enqueue_batch(parents + [child])
    with sitq.Worker(queue, concurrency=2):
        r = queue.get_result(ids[-1], timeout=120)
    assert r.is_success, r.error
    assert r.value == ([2499, 1999, 1499, 999, 499, 7], sum(range(2500)) + 7)


def test_runs_of_positions():
    from sitq._result_of import _ranges
    assert _ranges({5, 0, 1, 2, 9, 6}) == [[0, 3], [5, 2], [9, 1]]
    assert _ranges(set()) == []


def test_dependency_range_bad_arguments(queue):
    def probe():
        t = sitq.current_task()
        out = []
        for args in ((0, 0), (-1, 1), (0, 5), (1, 1)):
            try:
                t._dependency_range(*args)
                out.append("ok")
            except (sitq.InvalidArgumentError, sitq.TaskNotFoundError) as e:
                out.append(type(e).__name__ + ": " + str(e))
        return out, [r.value for r in t._dependency_range(0, 2)]

    a, b = queue.enqueue(ident, 1), queue.enqueue(ident, 2)
    tid = queue.enqueue(sitq.Task(probe, depends_on=[b, a]))
    with sitq.Worker(queue):
        r = queue.get_result(tid, timeout=30)
    assert r.is_success, r.error
    errors, values = r.value
    assert "first >= 0 and n >= 1" in errors[0] and "first >= 0 and n >= 1" in errors[1]
    # positions come from result_of: one past the count was dropped by purge
    assert errors[2] == ("TaskNotFoundError: dependency 2 of task %d is gone (purged after it "
                         "finished, or never declared)" % tid)
    assert errors[3] == "ok"
    assert values == [2, 1]


def test_dependency_values_split_values_from_results(queue):
    # The read behind result_of: a succeeded dependency's value in the list,
    # any other (failed, cancelled, or a value this process cannot unpickle)
    # as None there and its whole Result in the dict, keyed by position.
    import sys
    import types
    mod = types.ModuleType("sitq_vanishing_dep")
    exec("class Thing:\n    pass\n", mod.__dict__)
    sys.modules["sitq_vanishing_dep"] = mod
    try:
        odd = queue.enqueue(sitq.Task(pickle.loads, args=[pickle.dumps(mod.Thing())]))
        assert sitq.Worker(queue).process_task(odd).is_success
    finally:
        del sys.modules["sitq_vanishing_dep"]
    ok, none, bad = queue.enqueue(pow, 2, 5), queue.enqueue(ident, None), queue.enqueue(boom)
    gone = queue.enqueue(pow, 2, 1)
    assert queue.cancel(gone)

    def probe():
        t = sitq.current_task()
        errors = []
        for args in ((0, 0), (-1, 1), (0, 9)):
            try:
                t._dependency_values(*args)
                errors.append("ok")
            except (sitq.InvalidArgumentError, sitq.TaskNotFoundError) as e:
                errors.append(type(e).__name__ + ": " + str(e))
        values, others = t._dependency_values(0, 5)
        whole = {i: (r.task_id, r.status, r.error) for i, r in others.items()}
        try:
            others[4].value
            unreadable = "read"
        except sitq.SerializationError as e:
            unreadable = str(e)
        return errors, values, whole, unreadable, t._dependency_values(1, 1)

    tid = queue.enqueue(sitq.Task(probe, depends_on=[ok, none, bad, gone, odd], finalizer=True))
    w = sitq.Worker(queue, concurrency=2)
    for t in (ok, none, bad):
        w.process_task(t)
    r = w.process_task(tid)
    assert r.is_success, r.error
    errors, values, whole, unreadable, one = r.value
    assert "first >= 0 and n >= 1" in errors[0] and "first >= 0 and n >= 1" in errors[1]
    assert errors[2].startswith("TaskNotFoundError: dependency 5 of task %d is gone" % tid)
    assert values == [32, None, None, None, None]
    assert whole == {2: (bad, "failed", "ValueError: boom"), 3: (gone, "cancelled", "cancelled"),
                     4: (odd, "succeeded", None)}
    assert "cannot unpickle" in unreadable
    assert one == ([None], {})  # a succeeded None is a value, not a Result


@pytest.mark.parametrize("kept, why", [
    ((), "(purged after it finished, or never declared)"),  # no edge left
    ((1, 2), "(purged after it finished)"),                  # a gap before the kept ones
])
def test_a_retry_after_its_succeeded_parents_were_purged(queue, kept, why):
    # Purge drops the edge to a dependency that succeeded once its dependent
    # has finished. The dependent retried then finds fewer dependencies than
    # its placeholders name: the read says the first missing one is gone
    # (TaskNotFoundError), not that sitq numbered them wrong.
    parents = [sitq.Task(ident, args=[i], retention="forever" if i in kept else 0.001)
               for i in range(4)]
    child = sitq.Task(pick, args=[[sitq.result_of(p) for p in parents], 0])  # step 0: fails
    ids = queue.enqueue_batch(parents + [child])
    with sitq.Worker(queue, concurrency=2, retention_interval=0.05):
        r = queue.get_result(ids[-1], timeout=30)
        assert r.is_error and "slice step cannot be zero" in r.error, r.error
        for i in range(4):
            if i not in kept:
                assert wait_purged(queue, ids[i]), "the parents were never purged"
    assert queue.peek(ids[-1]).depends_on == tuple(ids[i] for i in kept)
    queue.retry(ids[-1])
    assert queue.get_task_status(ids[-1]) == "queued"
    r = sitq.Worker(queue).process_task(ids[-1])
    assert r.is_error
    assert r.error == ("cannot read the sitq.result_of arguments of py:test_result_of.pick: "
                       "sitq.errors.TaskNotFoundError: dependency 0 of task %d is gone %s"
                       % (ids[-1], why))
