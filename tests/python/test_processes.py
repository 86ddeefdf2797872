"""Worker processes (python -m sitq worker), Ctrl-C and kill -9 recovery."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import sitq
import sitq_test_tasks as tasks
from conftest import HERE, subprocess_env


def start_cli_worker(db_path, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "sitq", "worker", db_path, "--path", HERE, *extra],
        env=subprocess_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def stop(proc, sig=signal.SIGINT, timeout=15):
    if proc.poll() is None:
        proc.send_signal(sig)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def wait_status(queue, tid, status, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if queue.get_task_status(tid) == status:
            return
        time.sleep(0.02)
    raise AssertionError("task %d never became %s (is %s)" % (tid, status,
                                                               queue.get_task_status(tid)))


def test_cli_worker_runs_module_functions_and_lambdas(db_path, queue):
    ids = [queue.enqueue(tasks.pid), queue.enqueue(tasks.add, 2, 3),
           queue.enqueue(lambda: "by value")]       # cloudpickled by value
    w = start_cli_worker(db_path)
    try:
        res = [queue.get_result(i, timeout=30) for i in ids]
    finally:
        code, out = stop(w)
    assert code == 0, out
    assert res[0].value != os.getpid() and res[0].value == w.pid
    assert res[1].value == 5 and res[2].value == "by value"
    assert "stopped" in out


def test_function_held_in_memory_fails_elsewhere_with_reason(db_path, queue):
    class Holder:
        def __init__(self):
            self.queue = queue

        def work(self):
            return 1
    tid = queue.enqueue(sitq.Task(function=Holder().work))
    w = start_cli_worker(db_path)
    try:
        r = queue.get_result(tid, timeout=30)
    finally:
        stop(w)
    assert r.is_error
    assert "held in the memory of process %d" % os.getpid() in r.error
    assert "cannot be run here" in r.error and "Holder.work" in r.error


@pytest.mark.parametrize("pool", ["thread", "process"])
def test_arguments_held_in_memory_fail_elsewhere_naming_them(db_path, queue, pool):
    # a picklable function with an argument that is not: the error names the
    # arguments, not the function (it blamed the function)
    import threading
    tid = queue.enqueue(tasks.echo, threading.Lock())
    w = start_cli_worker(db_path, "--pool", pool)
    try:
        r = queue.get_result(tid, timeout=30)
    finally:
        stop(w)
    assert r.is_error
    assert r.error.startswith("the arguments of py:sitq_test_tasks.echo are held in the memory "
                              "of process %d" % os.getpid()), r.error
    assert "pass picklable arguments" in r.error, r.error


def test_unimportable_function_fails_with_reason(db_path, queue, tmp_path):
    mod = tmp_path / "only_here_mod.py"
    mod.write_text("def f():\n    return 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import only_here_mod
        tid = queue.enqueue(only_here_mod.f)       # pickled by reference
    finally:
        sys.path.remove(str(tmp_path))
    w = start_cli_worker(db_path)
    try:
        r = queue.get_result(tid, timeout=30)
    finally:
        stop(w)
    assert r.is_error
    assert "cannot load function py:only_here_mod.f" in r.error
    assert "No module named 'only_here_mod'" in r.error


def test_cpu_bound_tasks_use_several_processes(db_path, queue):
    ids = queue.enqueue_batch([sitq.Task(tasks.cpu_burn, args=[2_000_000]) for _ in range(8)])
    w = start_cli_worker(db_path, "--concurrency", "2")
    try:
        res = [queue.get_result(i, timeout=120) for i in ids]
    finally:
        code, out = stop(w, signal.SIGTERM)
    assert code == 0, out
    pids = {r.value[0] for r in res}
    assert len(pids) == 2 and os.getpid() not in pids, out


def test_ctrl_c_stops_cli_worker_after_running_task_finishes(db_path, queue, tmp_path):
    # The task runs until the test opens its gate, which it does once the
    # worker logged that it is stopping: the stop must wait for the task.
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    tid = queue.enqueue(tasks.gated, started, gate, "done")
    w = start_cli_worker(db_path)
    try:
        tasks.wait_for_path(started, proc=w)
        w.send_signal(signal.SIGINT)
        lines = []
        for line in w.stdout:                       # ends at EOF if it never says so
            lines.append(line)
            if "stopping" in line:
                break
        assert any("stopping" in line for line in lines), "".join(lines)
    finally:
        tasks.open_gate(gate)
    out, _ = w.communicate(timeout=30)              # no second signal: that exits at once
    assert w.returncode == 0, "".join(lines) + out
    r = queue.get_result(tid, timeout=0)
    assert r.value == "done", r


def test_kill_9_mid_task_is_recovered_by_another_worker(db_path, queue, tmp_path):
    marker = str(tmp_path / "started")
    tid = queue.enqueue(sitq.Task(tasks.once_slow, args=[marker, 60], max_retries=2))
    w1 = start_cli_worker(db_path, "--lease", "1")
    try:
        wait_status(queue, tid, "running")
        deadline = time.time() + 10
        while not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.02)
        assert os.path.exists(marker)
        # The attempt counts once the worker recorded its start (20 ms after it).
        while queue.peek(tid).attempts < 1 and time.time() < deadline:
            time.sleep(0.02)
        assert queue.peek(tid).attempts == 1
    finally:
        os.kill(w1.pid, signal.SIGKILL)  # also when an assertion failed: never leak it
    w1.wait(timeout=10)
    assert w1.returncode == -signal.SIGKILL
    assert queue.get_task_status(tid) == "running"          # its lease has not lapsed yet
    w2 = start_cli_worker(db_path, "--lease", "1")
    try:
        r = queue.get_result(tid, timeout=60)
    finally:
        code, out = stop(w2)
    assert r.is_success, (r.error, out)
    assert r.value == "recovered by %d" % w2.pid
    assert r.attempts == 2


def test_pool_processes_stop_when_their_parent_is_killed(db_path, queue, tmp_path):
    # kill -9 of the parent of a pool of worker processes (--pool thread
    # --concurrency N): they must not run on unsupervised; each one finishes
    # its running task and exits.
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    tid = queue.enqueue(tasks.gated, started, gate, "done")
    w = start_cli_worker(db_path, "--pool", "thread", "--concurrency", "2")
    try:
        tasks.wait_for_path(started, proc=w)
        deadline = time.time() + 30
        while len([x for x in queue.workers() if x.state == "running"]) < 2:
            assert time.time() < deadline, queue.workers()
            time.sleep(0.02)
        kids = [x.pid for x in queue.workers() if x.state == "running"]
        assert len(kids) == 2 and w.pid not in kids, kids
    finally:
        os.kill(w.pid, signal.SIGKILL)
    w.wait(timeout=10)
    try:
        # The task still runs: its process waits for it (a graceful stop).
        assert queue.get_task_status(tid) == "running"
        tasks.open_gate(gate)
        assert queue.get_result(tid, timeout=30).value == "done"
        deadline = time.time() + 30
        while any(os.path.exists("/proc/%d" % pid) for pid in kids):
            assert time.time() < deadline, "pool processes left running: %s" % kids
            time.sleep(0.02)
    finally:
        tasks.open_gate(gate)
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert sorted(x.state for x in queue.workers(all=True) if x.pid in kids) == ["stopped"] * 2


def test_task_killing_its_worker_while_unpickled_runs_out_of_attempts(db_path, queue):
    # The worker dies in the handler before the function is called (while its
    # arguments are unpickled): the first two losses are free, the third counts.
    tid = queue.enqueue(sitq.Task(tasks.add, args=[tasks.ExitWhenUnpickled(), 1]))
    runs = 0
    while queue.get_task_status(tid) != "failed" and runs < 6:
        w = start_cli_worker(db_path, "--lease", "0.5")
        deadline = time.time() + 30
        # It exits by itself (status 7), or recovers the task as failed.
        while (w.poll() is None and queue.get_task_status(tid) != "failed"
               and time.time() < deadline):
            time.sleep(0.05)
        out = stop(w)[1]
        runs += 1
    r = queue.peek(tid)
    assert r.status == "failed", (r, out)
    assert r.attempts == 1
    assert "during attempt 1" in r.error
    assert runs <= 4  # two free losses, a counted one, and the run that records it


CTRL_C_SCRIPT = textwrap.dedent("""
    import sys, time, sitq
    from sitq_test_backend import open_backend
    backend = open_backend(sys.argv[1])
    queue = sitq.TaskQueue(backend=backend)
    tid = queue.enqueue(time.sleep, 100)          # no worker: never finishes
    t0 = time.monotonic()
    try:
        print("waiting", flush=True)
        queue.get_result(tid)                     # no timeout
    except KeyboardInterrupt:
        print("interrupted after %.2f" % (time.monotonic() - t0), flush=True)
        sys.exit(0)
    sys.exit(3)
""")


def wait_sleeping(pid, timeout=30):
    """Wait until the main thread of process pid sleeps (state S in
    /proc/PID/stat): after its last line of output, the only place it
    blocks is the wait under test."""
    deadline = time.monotonic() + timeout
    while True:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state == "S":
            return
        assert state != "Z" and time.monotonic() < deadline, "state %s" % state
        time.sleep(0.01)


def test_ctrl_c_during_get_result(db_path):
    p = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, db_path], env=subprocess_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "waiting"
    wait_sleeping(p.pid)                             # blocked in get_result
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert time.monotonic() - t0 < 2
    assert p.returncode == 0, err
    assert out.startswith("interrupted after"), (out, err)


RUN_SCRIPT = textwrap.dedent("""
    import sys, time, sitq
    sys.path.insert(0, sys.argv[2])
    import sitq_test_tasks as tasks
    from sitq_test_backend import open_backend
    backend = open_backend(sys.argv[1])
    queue = sitq.TaskQueue(backend=backend)
    tid = queue.enqueue(tasks.gated, sys.argv[3], sys.argv[4], "finished")
    worker = sitq.Worker(queue)
    print("running", flush=True)
    try:
        worker.run()
    except KeyboardInterrupt:
        r = queue.get_result(tid, timeout=0)
        print("stopped", r.value, worker.is_running, flush=True)
        sys.exit(0)
    sys.exit(3)
""")


def test_ctrl_c_stops_worker_run_gracefully(db_path, tmp_path):
    # The task runs until the test opens its gate, after the SIGINT: the stop
    # that follows the KeyboardInterrupt must wait for it.
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    p = subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, db_path, HERE, started, gate],
                         env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "running"
        tasks.wait_for_path(started, proc=p)         # the task is running
        p.send_signal(signal.SIGINT)
    finally:
        tasks.open_gate(gate)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert out.strip() == "stopped finished False", (out, err)


def test_ctrl_c_during_the_log_callback_is_not_lost(db_path):
    # A SIGINT can land while the worker runs the task log's Python code (it
    # starts the log thread when the worker starts): the KeyboardInterrupt
    # must still reach Worker.run(), not be printed and dropped.
    script = textwrap.dedent("""
        import sys, sitq, sitq._tasklog as tl
        sys.path.insert(0, sys.argv[2])
        from sitq_test_backend import open_backend
        original = tl.worker_event
        def interrupted(event, *args):
            original(event, *args)
            if event == "started":
                raise KeyboardInterrupt
        tl.worker_event = interrupted
        queue = sitq.TaskQueue(backend=open_backend(sys.argv[1]))
        worker = sitq.Worker(queue)
        try:
            worker.run()
        except KeyboardInterrupt:
            print("interrupted", worker.is_running, flush=True)
            sys.exit(0)
        sys.exit(3)
    """)
    p = subprocess.run([sys.executable, "-c", script, db_path, HERE], env=subprocess_env(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "interrupted False"
    assert "Exception ignored" not in p.stderr


def test_exit_with_running_workers_is_clean(db_path):
    script = textwrap.dedent("""
        import sys, sitq
        sys.path.insert(0, sys.argv[2])
        import sitq_test_tasks as tasks
        from sitq_test_backend import open_backend
        q = sitq.TaskQueue(backend=open_backend(sys.argv[1]))
        ws = [sitq.Worker(q, concurrency=2) for _ in range(3)]
        for w in ws:
            w.start()
        for i in range(20):
            q.enqueue(tasks.sleep_and_return, 0.05, i)
        sitq.Worker(q).start()                     # not even referenced
        print("exiting", flush=True)
    """)
    p = subprocess.run([sys.executable, "-c", script, db_path, HERE], env=subprocess_env(),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "exiting" and p.stderr == ""


def test_cli_usage_errors(db_path):
    p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--concurrency", "0"],
                       env=subprocess_env(), capture_output=True, text=True)
    assert p.returncode == 2 and "concurrency" in p.stderr
    p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--lease", "-1"],
                       env=subprocess_env(), capture_output=True, text=True)
    assert p.returncode == 2 and "lease" in p.stderr


@pytest.mark.parametrize("args, word", [
    # refused before any task process starts: 1025 would start 1025 first
    (["--concurrency", "1025", "--burst"], "--concurrency/-c: must be 1..1024"),
    (["--concurrency", "100000", "--burst"], "--concurrency/-c: must be 1..1024"),
    (["--threads", "1025", "--burst"], "--threads/-t: must be 1..1024"),
    (["--concurrency", "40", "--threads", "40", "--burst"], "at most 1024, got 40 x 40"),
    # thread mode: 1024 processes of 1024 threads each would be a million
    (["--concurrency", "1024", "--threads", "1024", "--pool", "thread", "--burst"],
     "at most 1024, got 1024 x 1024"),
    # sitq.Worker's own option checks, before the worker starts
    (["--lease", "1e10", "--burst"], "lease must be a finite number of seconds"),
    (["--poll", "1e308", "--burst"], "poll_interval must be a finite number of seconds"),
    (["--lease", "1e10", "--concurrency", "2", "--pool", "thread", "--burst"],
     "lease must be a finite number of seconds"),
    (["--prefetch", "-1", "--burst"], "--prefetch: must be 0..65536"),
    (["--prefetch", "65537", "--burst"], "--prefetch: must be 0..65536"),
    (["--prefetch", "65537", "--asyncio", "--burst"], "--prefetch: must be 0..65536"),
    # sitq.Worker's and TaskQueue's own refusals, without a traceback
    (["--queue", "", "--burst"], "queue name must be 1..255 bytes"),
    (["--worker-id", "", "--burst"], "worker_id must be 1..255 bytes"),
    (["--worker-id", "", "--concurrency", "2", "--pool", "thread", "--burst"],
     "worker_id must be 1..255 bytes"),
    (["--worker-id", "x" * 254, "--concurrency", "2", "--pool", "thread", "--burst"],
     "the last worker process's id"),
    (["--queue", "", "--concurrency", "2", "--pool", "thread", "--burst"],
     "queue name must be 1..255 bytes"),
])
def test_cli_bad_worker_setup_is_a_usage_error_before_any_start(db_path, args, word):
    p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path] + args,
                       env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert word in p.stderr and "Traceback" not in p.stderr
    assert "serving" not in p.stderr and "started" not in p.stderr


@pytest.mark.parametrize("text", [" 2", "2 ", "1_0", "\u0662", "+2", "0x2"])
def test_cli_integers_are_plain_decimals(text):
    # as the C sitq command reads them: int() alone takes all of these
    from sitq.__main__ import _parser
    with pytest.raises(SystemExit) as ei:
        _parser().parse_args(["worker", "db", "--concurrency", text])
    assert ei.value.code == 2


def test_cli_busy_timeout_takes_zero():
    from sitq.__main__ import _parser
    assert _parser().parse_args(["worker", "db", "--busy-timeout", "0"]).busy_timeout == 0
    with pytest.raises(SystemExit):
        _parser().parse_args(["worker", "db", "--busy-timeout", "2147484"])


def test_cli_unusable_uri_is_one_error_line(tmp_path):
    uri = "postgresql://nobody@127.0.0.1:1/none?sitq_schema=a&sitq_schema=b"
    for mode in ([], ["--concurrency", "2", "--pool", "thread"]):
        p = subprocess.run([sys.executable, "-m", "sitq", "worker", uri, "--burst"] + mode,
                           env=subprocess_env(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 3, p.stderr
        assert "sitq_schema more than once" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("text, seconds", [
    ("30", 30.0), ("30s", 30.0), ("250ms", 0.25), ("10m", 600.0), ("1h", 3600.0),
    ("7d", 604800.0), ("1.5S", 1.5),
])
def test_cli_durations_take_units(text, seconds):
    from sitq.__main__ import _parser
    args = _parser().parse_args(["worker", "db", "--lease", text, "--poll", text,
                                 "--burst-eta-bound", text])
    assert args.lease == seconds and args.poll_interval == seconds
    assert args.burst_eta_bound == seconds


@pytest.mark.parametrize("text", ["30x", "s", "", "nan", "inf", "1e400", "ten"])
def test_cli_bad_durations_are_usage_errors(db_path, text):
    p = subprocess.run([sys.executable, "-m", "sitq", "worker", db_path, "--lease", text],
                       env=subprocess_env(), capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert "--lease" in p.stderr and "Traceback" not in p.stderr


def test_cli_poll_interval_is_kept_as_an_alias():
    from sitq.__main__ import _parser
    assert _parser().parse_args(["worker", "db", "--poll-interval", "2"]).poll_interval == 2.0


def run_fork_script(tmp_path, text, db_path):
    # Runs a script that forks in a process of its own: a fork inside the
    # test process would copy pytest and its threads.
    script = tmp_path / "fork.py"
    script.write_text(text)
    out = subprocess.run([sys.executable, str(script), db_path], env=subprocess_env(), cwd=HERE,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


FORK_SCRIPT = r'''
import os, sys
import sitq
from sitq_test_backend import open_backend
q = sitq.TaskQueue(backend=open_backend(sys.argv[1]))
first = q.enqueue(abs, -1)
pid = os.fork()
if pid == 0:
    # the child opens the backend and queue again, on connections of its own
    child = q.enqueue(abs, -2)
    assert q.get_task_status(first) == "queued"
    print("child", child, flush=True)
    sys.exit(0)  # a normal exit: the child frees q and its backend here
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0, st
# the parent's connections are untouched by the child's use and its exit
third = q.enqueue(abs, -3)
print("parent", sorted(t["id"] for t in q.list_tasks()), third, flush=True)
'''


def test_a_forked_child_uses_its_own_connections(db_path, tmp_path):
    # A queue opened before a fork is opened again in the child, with the
    # same arguments, on first use: the child never talks on the parent's
    # connections (a PostgreSQL socket shared by both; SQLite's connections
    # must not cross a fork, and a mutex a parent thread held stays locked),
    # nor closes them when it frees the objects.
    out = run_fork_script(tmp_path, FORK_SCRIPT, db_path)
    lines = out.stdout.split("\n")
    assert lines[0] == "child 2", out.stdout
    assert lines[1] == "parent [1, 2, 3] 3", out.stdout


FORK_WORKER_SCRIPT = r'''
import asyncio, os, sys
import sitq, sitq.aio
from sitq_test_backend import open_backend
q = sitq.TaskQueue(backend=open_backend(sys.argv[1]))
aq = sitq.aio.TaskQueue(q)
# the parent ran a worker (its log thread stays) and used the aio queue (its
# pool thread stays)
q.enqueue(abs, -1)
sitq.Worker(q).run(until_empty=True)
asyncio.run(aq.get_stats())
pid = os.fork()
if pid == 0:
    w = sitq.Worker(q)  # a worker of its own on the inherited queue
    w.start()
    ids = [q.enqueue(abs, -i) for i in range(2, 5)]
    print("child", [q.get_result(t, timeout=30).value for t in ids], flush=True)
    print("child aio", asyncio.run(aq.get_stats())["succeeded"], flush=True)
    w.stop()
    sys.exit(0)
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0, st
w = sitq.Worker(q)
w.start()
pid = os.fork()
if pid == 0:
    assert not w.is_running  # its threads are the parent's
    try:
        w.start()
    except sitq.InvalidStateError as e:
        print("child start:", "does not cross a fork" in str(e), flush=True)
    sys.exit(0)  # the exit stops the running workers: not the parent's
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0, st
assert w.is_running
w.stop()
print("parent", q.get_stats()["succeeded"], flush=True)
'''


def test_a_forked_child_runs_a_worker_of_its_own(db_path, tmp_path):
    # After a fork: the child's own Worker runs (the parent's log thread held
    # a lock it inherited: its worker hung after a task), its aio queue gets a
    # pool of its own (the parent's idle pool thread is not there: the first
    # await hung), and its exit leaves the parent's running Worker alone (it
    # waited for that worker's threads for good).
    out = run_fork_script(tmp_path, FORK_WORKER_SCRIPT, db_path)
    assert out.stdout.split("\n")[:4] == ["child [2, 3, 4]", "child aio 4", "child start: True",
                                          "parent 4"], out.stdout


FORK_THREADS_SCRIPT = r'''
import os, sys, threading
import sitq
from sitq_test_backend import open_backend
q = sitq.TaskQueue(backend=open_backend(sys.argv[1]))
q.enqueue(abs, -1)
pid = os.fork()
if pid == 0:
    # the first use in the child, by 8 threads at once: one reopens the
    # backend (releasing the GIL), the others wait for it
    start = threading.Barrier(8)
    ids, errors = [], []
    def use():
        start.wait()
        try:
            ids.append(q.enqueue(abs, -2))
        except sitq.SitqError as e:
            errors.append(str(e))
    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("child", sorted(ids), errors, flush=True)
    os._exit(0)
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0, st
print("parent", len(q.list_tasks()), flush=True)
'''


def test_forked_threads_share_the_first_reopen(db_path, tmp_path):
    # Threads of a forked child that use an inherited queue at once all get
    # the one reopened backend (the others found no backend while the first
    # one's open ran: "the backend of this TaskQueue is not open").
    out = run_fork_script(tmp_path, FORK_THREADS_SCRIPT, db_path)
    assert out.stdout.split("\n")[:2] == ["child %s []" % list(range(2, 10)),
                                          "parent 9"], out.stdout
