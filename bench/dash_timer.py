#!/usr/bin/env python3
"""dash_timer.py - times the dashboard's pages and API and the inspecting
commands on one store, for bench/dashboard_load.sh.

  dash_timer.py time --url URL --sitq BIN --store S --n TASKS --label L
                     --backend B --json FILE [--requests N] [--budget-s S]
  dash_timer.py report --times FILE --drain FILE --wrk FILE --small L --big L
                       --out FILE.md [--header TEXT]

`time` sends each path N times in a row on one keep-alive connection (two
requests first, not counted: the page cache and the dashboard's reader
connections warm up) and runs each command min(N, 20) times (a process
each, so its time includes the program's start and its connection), then appends one JSON line per path:
p50, p99 (interpolated; with 50 samples it is close to the slowest) and max
in milliseconds, the samples taken, the status and the body's size. A path
stops after --budget-s seconds of samples (at least 3), so that a page that
walks millions of rows does not hold the run for minutes: its sample count
says so. The ids it asks for follow the layout of bench/dashboard_fill.*.sql
(blocks of 100 ids: 93 a pipeline child, 95 a failed task), so every store
size has the same kinds of task at the same places of their blocks.

`report` writes the tables of bench/README.md: each path at both sizes and
the ratio of their p50; the workers' throughput by variant of the load
(bench/dashboard_load.sh), its ratio to the baseline of the same round, and
wrk's page times.
"""
import argparse
import http.client
import json
import subprocess
import sys
import time
import urllib.parse


def percentile(v, p):
    s = sorted(v)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def paths_for(n):
    """(name, path) of every page and API path, for a store of n tasks."""
    mid = (n // 200) * 100  # a block in the middle of the store
    failed = mid + 95
    child = mid + 93
    deep = n // 2
    return [
        ("/", "/"),
        ("/tasks", "/tasks"),
        ("/tasks?status=failed", "/tasks?status=failed"),
        ("/tasks?status=queued", "/tasks?status=queued"),
        ("/tasks?status=waiting", "/tasks?status=waiting"),
        ("/tasks?status=succeeded", "/tasks?status=succeeded"),
        ("/tasks?status=running (none)", "/tasks?status=running"),
        ("/tasks?status=cancelled", "/tasks?status=cancelled"),
        ("/tasks?queue=reports", "/tasks?queue=reports"),
        ("/tasks?queue=reports&status=failed", "/tasks?queue=reports&status=failed"),
        ("/tasks?function=render", "/tasks?function=render"),
        ("/tasks?function=audit (rare)", "/tasks?function=audit"),
        ("/tasks?before=N/2", "/tasks?before=%d" % deep),
        ("/tasks?status=succeeded&before=N/2", "/tasks?status=succeeded&before=%d" % deep),
        ("/tasks?status=failed&before=N/2", "/tasks?status=failed&before=%d" % deep),
        ("/tasks?status=waiting&before=N/2", "/tasks?status=waiting&before=%d" % deep),
        ("/tasks/ID (failed)", "/tasks/%d" % failed),
        ("/tasks/ID (pipeline child)", "/tasks/%d" % child),
        ("/workers", "/workers"),
        ("/metrics", "/metrics"),
        ("/api/queues", "/api/queues"),
        ("/api/tasks", "/api/tasks"),
        ("/api/tasks?status=succeeded", "/api/tasks?status=succeeded"),
        ("/api/tasks?function=audit (rare)", "/api/tasks?function=audit"),
        ("/api/tasks?before=N/2", "/api/tasks?before=%d" % deep),
        ("/api/tasks/ID", "/api/tasks/%d" % failed),
        ("/api/workers", "/api/workers"),
    ]


def commands(sitq, store):
    return [
        ("sitq queues", [sitq, "queues", store]),
        ("sitq stats", [sitq, "stats", store]),
        # --once takes two samples an --interval apart (1 s by default):
        # 0.1 s leaves mostly the reads.
        ("sitq top --once --interval 0.1", [sitq, "top", store, "--once", "--interval", "0.1"]),
        ("sitq metrics", [sitq, "metrics", store]),
    ]


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def get(self, path):
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, body
            except (http.client.HTTPException, OSError):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def sample(fn, n, budget_s):
    """Times fn() n times (at least 3, at most budget_s of samples)."""
    times, last = [], None
    t_end = time.monotonic() + budget_s
    for i in range(n):
        t0 = time.perf_counter()
        last = fn()
        times.append((time.perf_counter() - t0) * 1000.0)
        if i >= 2 and time.monotonic() > t_end:
            break
    return times, last


def cmd_time(a):
    client = Client(a.url)
    out = open(a.json, "a")

    def emit(kind, name, times, status, size, note=""):
        rec = {"backend": a.backend, "label": a.label, "tasks": a.n, "kind": kind, "name": name,
               "samples": len(times), "p50_ms": percentile(times, 0.5),
               "p99_ms": percentile(times, 0.99), "max_ms": max(times), "status": status,
               "bytes": size, "note": note}
        out.write(json.dumps(rec) + "\n")
        out.flush()
        print("  %-40s p50 %8.2f ms  p99 %8.2f ms  (%d, HTTP %s, %d bytes)%s"
              % (name, rec["p50_ms"], rec["p99_ms"], len(times), status, size,
                 " " + note if note else ""), flush=True)

    for name, path in paths_for(a.n):
        for _ in range(2):
            client.get(path)
        times, (status, body) = sample(lambda: client.get(path), a.requests, a.budget_s)
        note = ""
        if b'id="continue"' in body or b'"cut": true' in body:
            note = "(page cut at the scan bound: continue link)"
        emit("http", name, times, status, len(body), note)
    for name, argv in commands(a.sitq, a.store):
        def run():
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            return p.returncode, p.stdout
        run()
        times, (rc, stdout) = sample(run, min(a.requests, 20), a.budget_s)
        emit("cli", name, times, "exit %d" % rc, len(stdout))
    out.close()


def median(v):
    return percentile(v, 0.5) if v else float("nan")


def times_table(rows, be, small_l, big_l):
    small = {r["name"]: r for r in rows if r["backend"] == be and r["label"] == small_l}
    big = {r["name"]: r for r in rows if r["backend"] == be and r["label"] == big_l}
    names = [r["name"] for r in rows if r["backend"] == be and r["label"] == big_l]
    out = ["%s: each path at %s and %s tasks (milliseconds; ratio = p50 at %s / p50 at %s)"
           % (be, small_l, big_l, big_l, small_l), "",
           "| path | p50 %s | p99 %s | p50 %s | p99 %s | samples | ratio |"
           % (small_l, small_l, big_l, big_l),
           "|---|---:|---:|---:|---:|---:|---:|"]
    for nm in names:
        b, s = big[nm], small.get(nm)
        ratio = (b["p50_ms"] / s["p50_ms"]) if s and s["p50_ms"] > 0 else float("nan")
        flag = ""
        if str(b["status"]) not in ("200", "exit 0"):
            flag = " (status %s)" % b["status"]
        if b.get("note"):
            flag += " " + b["note"]
        out.append("| `%s`%s | %s | %s | %.2f | %.2f | %d | %.1fx |"
                   % (nm, flag, "%.2f" % s["p50_ms"] if s else "-",
                      "%.2f" % s["p99_ms"] if s else "-", b["p50_ms"], b["p99_ms"],
                      b["samples"], ratio))
    return out + [""]


def load_table(drain, wrk, be):
    """Workers' tasks/s by variant (median over rounds, and the median of the
    per-round ratios to that round's baseline), with wrk's figures."""
    per = {}
    for d in drain:
        b, _, variant = d["variant"].partition(":")
        if b == be:
            per.setdefault(variant, {})[d["run"]] = d["value"]
    if not per:
        return []
    base = per.get("baseline", {})
    warm = per.get("warmup", {})
    out = ["%s: a worker (2 threads, no-op tasks) drains the queue while wrk reads the "
           "dashboard (medians over %d rounds; the warm-up drain before them: %s tasks/s)"
           % (be, len(base), " ".join("%.0f" % v for v in warm.values()) or "-"), "",
           "| variant | worker tasks/s | ratio to baseline (min-max) | wrk pages/s | "
           "wrk p50 ms | wrk p99 ms | wrk errors |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for variant in ("baseline", "wrk-full", "wrk-full-unpaced", "wrk-paced", "wrk-full-nice"):
        runs = per.get(variant)
        if not runs:
            continue
        ratios = [runs[r] / base[r] for r in runs if r in base and base[r] > 0]
        w = [x for x in wrk if x["backend"] == be and x["variant"] == variant]
        wcol = ("%.0f | %.2f | %.2f | %d" % (median([x["rps"] for x in w]),
                                            median([x["p50_ms"] for x in w]),
                                            median([x["p99_ms"] for x in w]),
                                            sum(x["errors"] for x in w))) if w else "- | - | - | -"
        out.append("| %s | %.0f | %.2fx (%.2f-%.2f) | %s |"
                   % (variant, median(list(runs.values())), median(ratios),
                      min(ratios) if ratios else float("nan"),
                      max(ratios) if ratios else float("nan"), wcol))
    return out + [""]


def read_jsonl(path):
    try:
        return [json.loads(l) for l in open(path) if l.strip()]
    except FileNotFoundError:
        return []


def cmd_report(a):
    rows, drain, wrk = read_jsonl(a.times), read_jsonl(a.drain), read_jsonl(a.wrk)
    lines = ["# Dashboard at %s tasks and under load" % a.big, "", a.header, ""]
    backends = []
    for r in rows + [{"backend": d["variant"].partition(":")[0]} for d in drain]:
        if r["backend"] not in backends:
            backends.append(r["backend"])
    for be in backends:
        lines += times_table(rows, be, a.small, a.big)
        lines += load_table(drain, wrk, be)
    open(a.out, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    t.add_argument("--url", required=True)
    t.add_argument("--sitq", required=True)
    t.add_argument("--store", required=True)
    t.add_argument("--n", type=int, required=True)
    t.add_argument("--label", required=True)
    t.add_argument("--backend", required=True)
    t.add_argument("--json", required=True)
    t.add_argument("--requests", type=int, default=50)
    t.add_argument("--budget-s", type=float, default=15.0)
    r = sub.add_parser("report")
    r.add_argument("--times", required=True)
    r.add_argument("--drain", required=True)
    r.add_argument("--wrk", required=True)
    r.add_argument("--header", default="")
    r.add_argument("--small", required=True)
    r.add_argument("--big", required=True)
    r.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.cmd == "time":
        cmd_time(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    sys.exit(main())
