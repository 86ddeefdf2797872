"""Celery peer of the sitq benchmark (bench/run.sh runs it with /usr/bin/python3).

    /usr/bin/python3 bench.py --tasks N --dir DIR [--workers 2] [--run R] [--json FILE]

Starts redis-server on 127.0.0.1 on a free port (data in a temporary
directory under DIR, no persistence), enqueues N no-op tasks with .delay()
(enqueued/s), then starts `python3 -m celery worker -c 2` (prefork pool, two
worker processes) and measures how fast it drains them: from the worker's
"ready" line to the moment N results are stored. Stops the worker and redis
afterwards. Prints JSON lines in the format of sitq_bench."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", default=".")
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()

    def emit(scenario, metric, value, unit):
        line = json.dumps({"system": "celery", "scenario": scenario, "variant": "redis",
                           "metric": metric, "value": value, "unit": unit, "run": a.run})
        print(line, flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(line + "\n")

    os.makedirs(a.dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="celery-", dir=a.dir)
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp, "--daemonize", "no"],
        stdout=open(os.path.join(tmp, "redis.log"), "w"), stderr=subprocess.STDOUT)
    worker = None
    try:
        import redis as redislib
        r = redislib.Redis(host="127.0.0.1", port=port, db=1)
        for _ in range(500):
            try:
                r.ping()
                break
            except redislib.exceptions.ConnectionError:
                time.sleep(0.01)
        url = "redis://127.0.0.1:%d" % port
        os.environ["SITQ_BENCH_REDIS"] = url
        sys.path.insert(0, HERE)
        import tasks

        t0 = time.perf_counter()
        for _ in range(a.tasks):
            tasks.noop.delay()
        emit("enqueue_single", "tasks_per_s", a.tasks / (time.perf_counter() - t0), "tasks/s")

        log_path = os.path.join(tmp, "worker.log")
        log = open(log_path, "w")
        env = dict(os.environ, SITQ_BENCH_REDIS=url)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-c", str(a.workers),
             "--pool", "prefork", "-l", "INFO", "--without-gossip", "--without-mingle"],
            cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
        started = time.perf_counter()
        t_ready = None
        deadline = started + 600
        while True:
            now = time.perf_counter()
            if t_ready is None:
                with open(log_path) as f:
                    if " ready." in f.read():
                        t_ready = now
            if r.dbsize() >= a.tasks:
                break
            if now > deadline or worker.poll() is not None:
                raise SystemExit("celery: tasks did not finish (see %s)" % log_path)
            time.sleep(0.005)
        t_done = time.perf_counter()
        if t_ready is None:
            t_ready = started
        emit("e2e", "tasks_per_s", a.tasks / (t_done - t_ready), "tasks/s")
        emit("e2e", "with_worker_start_per_s", a.tasks / (t_done - started), "tasks/s")
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        redis.send_signal(signal.SIGTERM)
        try:
            redis.wait(10)
        except subprocess.TimeoutExpired:
            redis.kill()
            redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
