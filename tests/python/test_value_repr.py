"""A Python task's result as operators read it: the worker stores a bounded
repr with the pickle, and `sitq show`, `sitq wait`, `sitq show --json`,
`sitq list --json` and the dashboard's task page and /api/tasks/ID show that
repr (escaped), never pickle bytes; Result.value reads the record and results stored before it (a
bare pickle) alike. Workers in threads and in task processes."""
import base64
import json
import pickle
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

import sitq
from conftest import HERE, subprocess_env
from sitq_test_backend import ON_PG

DEADLINE = 60
SCRIPT = 'a<script>alert("x")</script>\nb'


def ret_int():
    return 42


def ret_script():
    return SCRIPT


def ret_million():
    return list(range(1_000_000))


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr today")


def ret_bad_repr():
    return BadRepr()


def ret_frame():
    import pandas as pd
    return pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})


def ret_nul_text():
    return "\x00" * 50  # a short str whose repr is long: cut as reprlib cuts it


def ret_nested():
    return {"k": [1, {"z": "<b>"}], "t": (None, True, 2.5)}


EXPECTED = {
    ret_int: "42",
    ret_script: repr(SCRIPT),
    ret_million: "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...]",
    ret_bad_repr: "<unrepresentable BadRepr>",
    ret_nested: "{'k': [1, {'z': '<b>'}], 't': (None, True, 2.5)}",
    ret_nul_text: r"'" + r"\x00" * 14 + r"\...00" + r"\x00" * 14 + r"'",
}


def sitq_command():
    import os
    build = os.environ.get("SITQ_BUILD_DIR")
    cands = [os.path.join(build, "sitq")] if build else []
    cands.append(os.path.join(os.path.dirname(sitq.__file__), "..", "..", "sitq"))
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.skip("the sitq command was not found (set SITQ_BUILD_DIR)")


def run(*args, check=True):
    return subprocess.run([sitq_command(), *args], capture_output=True, text=True,
                          check=check, timeout=DEADLINE)


def drain(queue, ids, concurrency=1):
    """Run an in-process worker until every task of ids has a result; the
    results, in the order of ids (the worker stops gracefully after)."""
    with sitq.Worker(queue, concurrency=concurrency):
        return [queue.get_result(i, timeout=DEADLINE) for i in ids]


def value_lines(text):
    """The "value:" field of `sitq show` text: its line and the block below."""
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("value:"))
    block = []
    for line in lines[i + 1:]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    return lines[i], "\n".join(block)


def cases():
    out = dict(EXPECTED)
    try:
        import pandas as pd
        out[ret_frame] = repr(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    except ImportError:
        pass
    return out


def check_shown(db_path, tid, expected):
    """show, show --json, wait --json and show --value of task tid."""
    line, block = value_lines(run("show", db_path, str(tid)).stdout)
    assert re.fullmatch(r"value: +\(Python value, \d+ bytes pickled\)", line), line
    assert block == expected
    shown = json.loads(run("show", db_path, str(tid), "--json").stdout)
    assert shown["value_repr"] == expected
    # the stored bytes stay as they were: the record, base64 as not UTF-8
    raw = base64.b64decode(shown["value_base64"])
    assert raw.startswith(b"\xffsqv\x01") and shown["value"] is None
    assert shown["value_len"] == len(raw)
    waited = json.loads(run("wait", db_path, str(tid), "--json").stdout)
    assert waited["value_repr"] == expected
    value = subprocess.run([sitq_command(), "show", db_path, str(tid), "--value"],
                           capture_output=True, check=True, timeout=DEADLINE).stdout
    assert value == raw


def test_worker_stores_the_repr_that_show_prints(db_path, queue):
    want = cases()
    ids = {fn: queue.enqueue(fn) for fn in want}
    results = dict(zip(ids, drain(queue, ids.values(), concurrency=2)))
    for fn, r in results.items():
        assert r.is_success, r
    # a large value's Result repr is the stored one (before .value unpickles it)
    assert repr(results[ret_million]).endswith("value=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...]>")
    assert results[ret_int].value == 42
    assert results[ret_script].value == SCRIPT
    assert len(results[ret_million].value) == 1_000_000
    assert isinstance(results[ret_bad_repr].value, BadRepr)
    for fn, expected in want.items():
        assert len(expected) <= 200
        check_shown(db_path, ids[fn], expected)
    # a list reads the head of each result for its repr, whatever its size
    listed = {t["id"]: t for t in json.loads(run("list", db_path, "--json").stdout)}
    for fn, expected in want.items():
        t = listed[ids[fn]]
        assert t["value"] is None
        assert t["value_repr"] == expected
    assert listed[ids[ret_million]]["value_len"] > 4_000_000
    lines = run("list", db_path, "--jsonl").stdout.splitlines()
    assert {json.loads(line)["value_repr"] for line in lines} >= {"42", EXPECTED[ret_script]}


def test_text_output_escapes_the_repr(db_path, queue):
    tid = queue.enqueue(ret_script)
    [r] = drain(queue, [tid])
    assert r.is_success
    out = run("show", db_path, str(tid)).stdout
    # the repr spells the newline; the markup is text, printed as is
    assert "  'a<script>alert(\"x\")</script>\\nb'\n" in out
    assert "\\x80" not in out and "sqv" not in out


def test_a_bare_pickle_stored_before_reprs_still_reads(db_path, queue):
    """A result stored as a bare pickle (what the binding wrote before the
    record): Result.value reads it, `sitq show` says no repr was stored."""
    sitq._sitq._set_task_runner(lambda payload: (True, pickle.dumps([7, "old"], 5)))
    try:
        tid = queue.enqueue(ret_int)
        [r] = drain(queue, [tid])
    finally:
        sitq._sitq._set_task_runner(None)
    assert r.is_success and r.value == [7, "old"]
    line, block = value_lines(run("show", db_path, str(tid)).stdout)
    n = len(pickle.dumps([7, "old"], 5))
    assert line.split(None, 1)[1] == "(Python pickle, %d bytes; repr not stored)" % n
    assert block == ""
    shown = json.loads(run("show", db_path, str(tid), "--json").stdout)
    assert shown["value_repr"] is None and shown["value_len"] == n


def test_a_malformed_record_is_an_error_not_a_crash(db_path, queue):
    bad = b"\xffsqv\x07\x00\x01x" + pickle.dumps(1, 5)  # an unknown version
    sitq._sitq._set_task_runner(lambda payload: (True, bad))
    try:
        tid = queue.enqueue(ret_int)
        [r] = drain(queue, [tid])
    finally:
        sitq._sitq._set_task_runner(None)
    with pytest.raises(sitq.SerializationError, match="malformed: the record's version is not"):
        r.value
    line, block = value_lines(run("show", db_path, str(tid)).stdout)
    assert line.split(None, 1)[1] == ("(%d bytes; not a valid Python value record: the record's "
                                      "version is not known)" % len(bad))
    assert block.startswith("\\xffsqv\\x07")
    assert json.loads(run("show", db_path, str(tid), "--json").stdout)["value_repr"] is None


def test_result_of_and_dependency_results_read_the_record(queue):
    first = queue.enqueue(ret_nested)
    second = queue.enqueue(sitq.Task(echo_back, args=[sitq.result_of(first)]))
    [r] = drain(queue, [second], concurrency=2)
    assert r.is_success, r.error
    assert r.value == ret_nested()


def echo_back(v):
    return v


@pytest.fixture
def process_worker(db_path):
    procs = []

    def start():
        p = subprocess.Popen(
            [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE, "--pool",
             "process", "--concurrency", "2"],
            env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        procs.append(p)
    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


def test_task_processes_store_the_repr(db_path, queue, process_worker):
    want = {ret_script: EXPECTED[ret_script], ret_million: EXPECTED[ret_million],
            ret_bad_repr: EXPECTED[ret_bad_repr]}
    ids = {fn: queue.enqueue(fn) for fn in want}
    process_worker()
    for fn, tid in ids.items():
        r = queue.get_result(tid, timeout=DEADLINE)
        assert r.is_success, r.error
        check_shown(db_path, tid, want[fn])
    assert queue.get_result(ids[ret_script]).value == SCRIPT


@pytest.fixture
def dashboard(db_path):
    p = subprocess.Popen([sitq_command(), "dashboard", db_path, "--listen", "127.0.0.1:0"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        line = ""
        for line in p.stderr:
            if " at http://" in line:
                break
        m = re.search(r" at (http://127\.0\.0\.1:\d+)/", line)
        assert m, line
        yield m.group(1)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def fetch(url):
    with urllib.request.urlopen(url, timeout=DEADLINE) as f:
        return f.read().decode("utf-8")  # strict: a page is UTF-8 (no raw pickle bytes)


def fail_loudly():
    raise ValueError("bad <input>")


def test_dashboard_shows_the_repr_escaped(db_path, queue, dashboard):
    ids = {fn: queue.enqueue(fn) for fn in (ret_script, ret_million)}
    ids[fail_loudly] = queue.enqueue(sitq.Task(fail_loudly, max_retries=0))
    for fn, r in zip(ids, drain(queue, ids.values(), concurrency=2)):
        assert r.is_success == (fn is not fail_loudly)
    # the payload (the call's pickled arguments) is described, not dumped
    page = fetch("%s/tasks/%d" % (dashboard, ids[fail_loudly]))
    assert re.search(r'<p id="payload">Python call, \d+ bytes pickled \(not shown\)</p>', page), page
    # the traceback as Result.traceback reads it: without the pickled exception's line
    tb = re.search(r'<pre id="traceback">(.*?)</pre>', page, re.S).group(1)
    assert "ValueError: bad &lt;input&gt;" in tb and "sitq-exception-v1" not in tb, tb
    assert "sitq-exception-v1" not in page
    page = fetch("%s/tasks/%d" % (dashboard, ids[ret_script]))
    assert re.search(r'<p id="result-kind">Python value, \d+ bytes pickled</p>', page), page
    assert ('<pre id="result">&#39;a&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\\nb&#39;'
            '</pre>' in page), page
    assert "<script>" not in page
    api = json.loads(fetch("%s/api/tasks/%d" % (dashboard, ids[ret_script])))
    assert api["value_repr"] == repr(SCRIPT)
    # a result too large for the API still has its repr
    api = json.loads(fetch("%s/api/tasks/%d" % (dashboard, ids[ret_million])))
    assert api["value_omitted"] is True and api["value"] is None and "value_base64" not in api
    assert api["value_repr"] == EXPECTED[ret_million]


def identity(v):
    return v


# Values at the edges of the limits within which the worker makes the repr
# in C (python/src/value_record.c) instead of with reprlib.
EDGE_VALUES = [
    None, True, False, 0, -1, 2**63 - 1, 2**63, -2**63 - 1, 10**59, 10**60, 1.5, float("nan"),
    float("-inf"), "", "\x00" * 29, "\x00" * 30, "\U0001f600" * 11, "\U0001f600" * 12,
    "a" * 100, "a" * 101, "\n" * 59, "\n" * 60, list(range(10)), list(range(11)),
    tuple(range(10)), tuple(range(11)), (1,), (), [], {}, set(), frozenset(), {1, 2, 3},
    frozenset({"a"}), set(range(11)), {i: i for i in range(8)}, {i: i for i in range(9)},
    [[[[1]]]], [[[[[1]]]]], [[[[]]]], [[[[[]]]]], {"k": ("v", [None, {"x": 1.0}])},
    ["a" * 29] * 10, ["\x00" * 29] * 3, [b"bytes"], [bytearray(b"x")], [BadRepr()],
    {(1, 2): "tuple key"}, [1] * 64, [[1] * 10] * 7,
]


def test_reprs_made_in_c_match_reprlib(db_path, queue):
    from sitq._valuerepr import bounded_repr
    ids = queue.enqueue_batch([sitq.Task(identity, args=[v]) for v in EDGE_VALUES])
    assert all(r.is_success for r in drain(queue, ids, concurrency=2))
    listed = {t["id"]: t["value_repr"] for t in
              json.loads(run("list", db_path, "--json", "--limit", "1000").stdout)}
    for tid, v in zip(ids, EDGE_VALUES):
        assert listed[tid] == bounded_repr(v), v


@pytest.mark.skipif(ON_PG, reason="one check of the C parts is enough")
def test_bounded_repr_rules():
    from sitq._valuerepr import bounded_repr
    assert bounded_repr("x" * 1000).startswith("'xxx") and len(bounded_repr("x" * 1000)) <= 200
    assert bounded_repr(10 ** 300).count("...") == 1 and len(bounded_repr(10 ** 300)) <= 200
    assert bounded_repr({i: i for i in range(100000)}).startswith("{0: 0, 1: 1, 2: 2")
    assert bounded_repr([BadRepr(), 1]) == "[<unrepresentable BadRepr>, 1]"
    # an int past Python's 4300 digits raises in reprlib's own handler
    assert bounded_repr([10 ** 4400, 1]) == "[<unrepresentable int>, 1]"
    assert bounded_repr({"k": 10 ** 4400}) == "{'k': <unrepresentable int>}"

    class Huge:
        def __repr__(self):
            return "h" * 10000
    assert len(bounded_repr(Huge())) == 200
    assert bounded_repr({3, 1, 2}) == repr({3, 1, 2})
    big = bounded_repr(b"\x00" * 10**7)  # only the ends are converted
    assert big.startswith("b'\\x00\\x00") and "..." in big and len(big) <= 120
    assert bounded_repr(bytearray(b"ab")) == "bytearray(b'ab')"


class SurrogateRepr:
    def __repr__(self):
        return "\ud800" * 200  # each lone surrogate stored escaped: 6 bytes


def ret_surrogates():
    return SurrogateRepr()


def test_a_repr_of_lone_surrogates_is_cut_to_fit_the_record(db_path, queue):
    """200 characters escaped to 1200 bytes: cut shorter, still a record."""
    tid = queue.enqueue(ret_surrogates)
    [r] = drain(queue, [tid])
    assert r.is_success
    shown = json.loads(run("show", db_path, str(tid), "--json").stdout)
    assert shown["value_repr"] == "\\ud800" * 167 + "..."
    line, _ = value_lines(run("show", db_path, str(tid)).stdout)
    assert re.fullmatch(r"value: +\(Python value, \d+ bytes pickled\)", line), line
    assert isinstance(queue.get_result(tid).value, SurrogateRepr)


class ExitRepr:
    def __repr__(self):
        raise SystemExit(3)


def ret_exit_repr():
    return [ExitRepr(), 1], ExitRepr()


def test_a_repr_that_raises_system_exit_does_not_fail_the_task(db_path, queue):
    """The task succeeded: a __repr__ raising SystemExit is shown, not raised
    (it failed the task, or killed a task process, before)."""
    from sitq._valuerepr import bounded_repr
    assert bounded_repr(ExitRepr()) == "<unrepresentable ExitRepr>"
    assert bounded_repr([ExitRepr()]) == "[<unrepresentable ExitRepr>]"
    tid = queue.enqueue(ret_exit_repr)
    one = queue.enqueue(sitq.Task(ExitRepr))  # the C fast path's fallback too
    r, r_one = drain(queue, [tid, one])
    assert r.is_success, r.error
    assert r_one.is_success
    shown = json.loads(run("show", db_path, str(tid), "--json").stdout)
    assert shown["value_repr"] == "([<unrepresentable ExitRepr>, 1], <unrepresentable ExitRepr>)"
    shown = json.loads(run("show", db_path, str(one), "--json").stdout)
    assert shown["value_repr"] == "<unrepresentable ExitRepr>"
