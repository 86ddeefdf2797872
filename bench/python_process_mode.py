"""Task processes (`python -m sitq worker --pool process`): how fast tasks
are stopped, and the worker's memory over many tasks.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_process_mode.py [--dir DIR]
        [--reps R] [--tasks N] [--fan-in-parents P] [--fan-in-mib M] [--json FILE]

Figures (times from the timestamps the database stored, on this host):
  timeout_to_next_s   a task with timeout=1 that sleeps, then a no-op task, on
                      one slot: the no-op's start minus (the first's start + 1 s).
                      It includes the kill grace (--grace, 1 s by default)
                      and the start of a new task process.
  cancel_to_end_s     queue.cancel(id) to the task's recorded end, per mode:
                      process+polls (the task polls current_task().cancelled),
                      process+ignores (killed after the grace), thread+polls
                      (thread mode: the task must poll). The worker learns
                      of a cancel at its heartbeat (every 1 s by default).
  fan_in_handover_s   a child reading the values of P parents (M MiB each, 40
                      and 10 by default) through sitq.result_of: the time from
                      the last parent's recorded end to the child function's
                      first line, in process and thread mode, and their ratio
                      per run (the values cross to the task process in
                      process mode).
  rss_kib             the worker process and its task processes (VmRSS) after
                      the first 1,000 no-op tasks and after N (100,000).
The medians of R runs are printed; --json writes every figure."""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def noop():
    return None


def sleeps(marker, seconds):
    """Creates marker, then sleeps without looking at its cancel flag."""
    open(marker, "w").close()
    time.sleep(seconds)


def polls(marker, seconds):
    """Creates marker, then polls its cancel flag every 10 ms."""
    import sitq
    t = sitq.current_task()
    open(marker, "w").close()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if t.cancelled:
            raise RuntimeError("cancelled")
        time.sleep(0.01)


def big_value(mib):
    """A value of mib MiB."""
    return b"v" * (mib << 20)


def entered(*values):
    """(the wall-clock time at entry, the bytes of the values received)."""
    return time.time(), sum(len(v) for v in values)


def start_worker(db, *extra):
    import sitq
    env = dict(os.environ)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(sitq.__file__)))
    env["PYTHONPATH"] = os.pathsep.join((pkg, HERE))
    return subprocess.Popen([sys.executable, "-m", "sitq", "worker", db, "--path", HERE,
                             "--quiet", *extra], env=env, cwd=HERE)


def stop_worker(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def wait_path(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("%s never appeared" % path)
        time.sleep(0.005)


def fresh_queue(d, name):
    import sitq
    db = os.path.join(d, name + ".db")
    return db, sitq.TaskQueue(backend=sitq.SQLiteBackend(db))


def timeout_to_next(d, i):
    import sitq
    import python_process_mode as m
    db, q = fresh_queue(d, "timeout%d" % i)
    slow = q.enqueue(sitq.Task(m.sleeps, args=[os.path.join(d, "t%d" % i), 60], timeout=1))
    nxt = q.enqueue(m.noop)
    w = start_worker(db, "--pool", "process", "--concurrency", "1")
    try:
        a = q.get_result(slow, timeout=60)
        b = q.get_result(nxt, timeout=60)
    finally:
        stop_worker(w)
    assert a.error.startswith("timed out"), a.error
    return (b.started_at - a.started_at).total_seconds() - 1.0


def cancel_to_end(d, i, mode, func):
    import python_process_mode as m
    db, q = fresh_queue(d, "cancel%s%d" % (mode, i))
    marker = os.path.join(d, "c%s%d" % (mode, i))
    tid = q.enqueue(getattr(m, func), marker, 60)
    w = start_worker(db, "--pool", mode, "--concurrency", "1")
    try:
        wait_path(marker)
        while q.peek(tid).started_at is None:  # the start is recorded: it is running
            time.sleep(0.005)
        t0 = time.time()
        q.cancel(tid)
        r = q.get_result(tid, timeout=60)
    finally:
        stop_worker(w)
    assert r.status == "cancelled", (r.status, r.error)
    return r.finished_at.timestamp() - t0


def fan_in_handover(d, i, mode, parents, mib):
    import sitq
    import python_process_mode as m
    db, q = fresh_queue(d, "fanin%s%d" % (mode, i))
    ps = [q.enqueue(m.big_value, mib) for _ in range(parents)]
    child = q.enqueue(m.entered, *[sitq.result_of(p) for p in ps])
    w = start_worker(db, "--pool", mode, "--concurrency", "1")
    try:
        r = q.get_result(child, timeout=900)
    finally:
        stop_worker(w)
    at, total = r.unwrap()
    assert total == parents * (mib << 20), total
    # From the last parent's end: thread mode records a task's start after
    # its values were read, process mode before it hands the task over.
    last = max(q.get_result(p, timeout=0).finished_at.timestamp() for p in ps)
    return at - last


def rss_kib(pid):
    """VmRSS of pid and its children (KiB)."""
    pids = [pid]
    for t in os.listdir("/proc/%d/task" % pid):  # children are listed by their thread
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total, len(pids) - 1


def rss_over(d, n):
    import sitq
    import python_process_mode as m
    db, q = fresh_queue(d, "rss")
    w = start_worker(db, "--pool", "process", "--concurrency", "2")
    try:
        first = q.enqueue_batch([sitq.Task(m.noop) for _ in range(1000)])
        q.get_result(first[-1], timeout=600)
        while q.get_stats()["succeeded"] < 1000:
            time.sleep(0.05)
        start, kids = rss_kib(w.pid)
        t0 = time.monotonic()
        left = n - 1000
        while left > 0:
            k = min(left, 10000)
            q.enqueue_batch([sitq.Task(m.noop) for _ in range(k)])
            left -= k
        while q.get_stats()["succeeded"] < n:
            time.sleep(0.2)
        secs = time.monotonic() - t0
        end, kids_end = rss_kib(w.pid)
    finally:
        stop_worker(w)
    return {"rss_start_kib": start, "rss_end_kib": end, "task_processes": kids,
            "task_processes_end": kids_end, "tasks_per_s": (n - 1000) / secs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--fan-in-parents", type=int, default=40)
    ap.add_argument("--fan-in-mib", type=int, default=10)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    d = args.dir or tempfile.mkdtemp(prefix="sitq-procmode-")
    out = {"timeout_to_next_s": [timeout_to_next(d, i) for i in range(args.reps)]}
    for mode, func in (("process", "polls"), ("process", "sleeps"), ("thread", "polls")):
        out["cancel_to_end_s %s+%s" % (mode, "ignores" if func == "sleeps" else func)] = [
            cancel_to_end(d, i, mode, func) for i in range(args.reps)]
    if args.fan_in_parents:
        for i in range(args.reps):  # interleaved
            for mode in ("process", "thread"):
                out.setdefault("fan_in_handover_s %s" % mode, []).append(
                    fan_in_handover(d, i, mode, args.fan_in_parents, args.fan_in_mib))
        out["fan_in_handover process/thread"] = [
            p / t for p, t in zip(out["fan_in_handover_s process"],
                                  out["fan_in_handover_s thread"])]
    for k, v in out.items():
        print("%-36s median %.3f  (%s)" % (k, statistics.median(v),
                                           " ".join("%.3f" % x for x in v)))
    if args.tasks:
        out["rss"] = rss_over(d, args.tasks)
        print("rss over %d tasks: %s" % (args.tasks, out["rss"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
