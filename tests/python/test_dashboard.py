"""python -m sitq dashboard: the sitq command's web dashboard served from the
Python package (its extension): it prints where it listens, serves the
pages and the JSON API of the store, stops on SIGINT or SIGTERM with exit
status 0, and takes the command's options and help."""
import json
import re
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import sitq
import sitq_test_tasks as tasks
from conftest import HERE, open_backend, subprocess_env

DEADLINE = 60.0


def dashboard(*args):
    return subprocess.Popen([sys.executable, "-m", "sitq", "dashboard", *args],
                            env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def url_of(proc, host=r"127\.0\.0\.1"):
    """The URL the dashboard printed on stderr (waits for the line)."""
    seen = ""
    while True:
        ready, _, _ = select.select([proc.stderr], [], [], DEADLINE)
        assert ready, "no URL within %d s: %r" % (DEADLINE, seen)
        line = proc.stderr.readline()
        assert line, "the dashboard exited (%s): %r" % (proc.wait(), seen)
        seen += line
        m = re.search(r" at (http://%s:\d+)/ \(read-only\)" % host, line)
        if m:
            return m.group(1)


def get(url):
    with urllib.request.urlopen(url, timeout=DEADLINE) as r:
        # errors="replace": a payload (a pickle) is shown as its bytes
        return r.status, r.headers.get("Content-Type"), r.read().decode(errors="replace")


@pytest.fixture
def store(db_path):
    """A store with one queued task and one pipeline of two."""
    q = sitq.TaskQueue(backend=open_backend(db_path))
    first = q.enqueue(sitq.Task(function=tasks.add, args=(1, 2)))
    second = q.enqueue(sitq.Task(function=tasks.add, args=(3, 4), depends_on=[first]))
    return db_path, first, second


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serves_pages_and_stops_on_signal(store, sig):
    db, first, second = store
    proc = dashboard(db, "--listen", "127.0.0.1:0")
    try:
        url = url_of(proc)
        status, ctype, body = get(url + "/")
        assert status == 200 and ctype.startswith("text/html")
        assert 'href="/tasks?queue=default&amp;status=queued">1</a>' in body
        assert 'href="/tasks?queue=default&amp;status=waiting">1</a>' in body
        status, ctype, body = get(url + "/api/queues")
        assert ctype == "application/json"
        queues = json.loads(body)
        assert [(d["queue"], d["queued"], d["waiting"], d["total"]) for d in queues] == \
            [("default", 1, 1, 2)]
        # The task page with its pipeline, drawn by the same code as the command's.
        status, _, body = get("%s/tasks/%d" % (url, second))
        assert '<svg id="graph"' in body and 'href="/tasks/%d"' % first in body
        graph = json.loads(get("%s/api/tasks/%d/graph" % (url, second))[2])
        assert [(e["from"], e["to"]) for e in graph["edges"]] == [(first, second)]
        proc.send_signal(sig)
        assert proc.wait(timeout=DEADLINE) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def has_ipv6_loopback():
    import socket
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_serves_on_ipv6_loopback(store):
    """--listen [::1]:0 serves on IPv6 loopback; a foreign Host is refused."""
    db, first, second = store
    proc = dashboard(db, "--listen", "[::1]:0")
    try:
        url = url_of(proc, r"\[::1\]")
        status, ctype, body = get(url + "/api/queues")
        assert status == 200 and [d["queue"] for d in json.loads(body)] == ["default"]
        req = urllib.request.Request(url + "/", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=DEADLINE)
        assert e.value.code == 421
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_help_and_usage_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sitq", "dashboard", "--help"],
                         env=subprocess_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0
    assert out.stdout.startswith("usage: sitq dashboard DB [--listen [HOST:]PORT]")
    assert "--token-file PATH" in out.stdout
    out = subprocess.run([sys.executable, "-m", "sitq", "dashboard"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 2
    assert "expected DB" in out.stderr
    out = subprocess.run([sys.executable, "-m", "sitq", "dashboard", str(tmp_path / "x.db"),
                          "--listen", "nowhere:1"], env=subprocess_env(), capture_output=True,
                         text=True, timeout=DEADLINE)
    assert out.returncode == 2
    assert "--listen" in out.stderr
    # A read-only dashboard of a file that does not exist: an error, not a new file.
    out = subprocess.run([sys.executable, "-m", "sitq", "dashboard", str(tmp_path / "none.db"),
                          "--listen", "127.0.0.1:0"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode != 0
    assert not (tmp_path / "none.db").exists()
    # More arguments than the command takes: a usage error, not a traceback.
    out = subprocess.run([sys.executable, "-m", "sitq", "dashboard", str(tmp_path / "x.db")]
                         + ["--listen", "127.0.0.1:0"] * 40, env=subprocess_env(),
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 2
    assert "too many arguments" in out.stderr and "Traceback" not in out.stderr
    # The package's own help lists it.
    out = subprocess.run([sys.executable, "-m", "sitq", "--help"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0 and "dashboard" in out.stdout
