#!/usr/bin/python3
"""bench/report.py - turn bench/results/results.jsonl into results.md and throughput.png.

    /usr/bin/python3 bench/report.py [--results bench/results]

Every figure is the median over the runs, with its spread (min-max) and the
number of runs. Ratios are computed run by run (figures of the same round,
which ran minutes apart at most) and then the median of those ratios is
shown, so the machine's drift over the session cancels out. The performance
targets are checked against those ratios."""
import argparse
import json
import os
import statistics
from collections import defaultdict

ROW_WRITES_PER_TASK = 3  # insert + claim update + completion update


def load(path):
    data = defaultdict(dict)  # (system, scenario, variant, metric) -> {run: value}
    units = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            key = (d["system"], d["scenario"], d["variant"], d["metric"])
            data[key][d["run"]] = float(d["value"])
            units[key] = d["unit"]
    return data, units


class Figures:
    def __init__(self, data, units):
        self.data, self.units = data, units

    def runs(self, key):
        return self.data.get(key, {})

    def med(self, key):
        v = list(self.runs(key).values())
        return statistics.median(v) if v else None

    def spread(self, key):
        v = list(self.runs(key).values())
        return (min(v), max(v)) if v else (None, None)

    def ratio(self, num, den, den_scale=1.0):
        """Median over runs of num/(den*den_scale), pairing figures of the same run;
        returns (median, min, max) or None."""
        a, b = self.runs(num), self.runs(den)
        r = [a[k] / (b[k] * den_scale) for k in a if k in b and b[k] > 0]
        if not r:
            return None
        return statistics.median(r), min(r), max(r)


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if unit in ("us",):
        return "%.0f" % v if v >= 100 else "%.1f" % v
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_ratio(r):
    if r is None:
        return "n/a"
    m, lo, hi = r
    return "%.2fx (%.2f–%.2f)" % (m, lo, hi) if lo != hi else "%.2fx" % m


# ---- PostgreSQL (bench/pg_part.sh) ----
PG_ROWS = (
    (("raw-pg", "pg_raw", "one_row_commit"), "rows_per_s", "one-row commits, 1 connection"),
    (("raw-pg", "pg_raw", "one_row_commit_16conns"), "rows_per_s", "one-row commits, 16 connections"),
    (("raw-pg", "pg_raw", "1000_row_txn"), "rows_per_s", "1,000-row insert transactions"),
    (("raw-pg", "pg_raw", "1000_row_txn_task_shape"), "rows_per_s",
     "1,000-row insert transactions into a table of sitq's tasks shape (not a target's bar)"),
    (("raw-pg", "pg_raw", "cycle_batch200_2clients"), "tasks_per_s",
     "claim-and-complete cycle (pgbench, 2 clients, batch 200)"),
    (("raw-pg", "pg_raw", "cycle_batch200_1clients"), "tasks_per_s", "the same cycle, 1 client"),
    (("raw-pg", "pg_raw", "cycle_batch200_4clients"), "tasks_per_s", "the same cycle, 4 clients"),
    (("raw-pg", "pg_raw", "cycle_batch200_16clients"), "tasks_per_s", "the same cycle, 16 clients"),
    (("sitq-c", "pg_e2e", "durable"), "tasks_per_s", "end-to-end, worker 2 threads, LISTEN"),
    (("sitq-c", "pg_e2e", "durable_poll_only"), "tasks_per_s", "end-to-end, worker 2 threads, poll_only"),
    (("sitq-python", "pg_e2e", "durable"), "tasks_per_s", "end-to-end, Python worker 2 threads"),
    (("graphile-worker", "pg_e2e", "batched"), "tasks_per_s",
     "end-to-end, concurrency 2, localQueue 500, completeJobBatchDelay 0"),
    (("graphile-worker", "pg_e2e", "defaults"), "tasks_per_s", "end-to-end, concurrency 2, defaults (N/4 tasks)"),
    (("pg-boss", "pg_e2e", "fetch_batch100"), "tasks_per_s", "end-to-end, 2 fetch(100)+complete loops"),
    (("pg-boss", "pg_e2e", "fetch_1"), "tasks_per_s", "end-to-end, 2 fetch(1)+complete loops (N/4 tasks)"),
    (("sitq-c", "pg_procs", "1_procs"), "tasks_per_s", "end-to-end, 1 worker process (2 threads)"),
    (("sitq-c", "pg_procs", "4_procs"), "tasks_per_s", "end-to-end, 4 worker processes"),
    (("sitq-c", "pg_procs", "16_procs"), "tasks_per_s", "end-to-end, 16 worker processes"),
    (("sitq-c", "pg_enqueue", "batch_10000"), "tasks_per_s", "enqueue_batch of 100k (10,000 per call)"),
    (("sitq-c", "pg_enqueue", "16_threads"), "tasks_per_s", "enqueue, 16 producer threads, 1 task per call"),
    (("graphile-worker", "pg_enqueue", "addJobs"), "tasks_per_s", "addJobs of N (1 call)"),
    (("pg-boss", "pg_enqueue", "insert"), "tasks_per_s", "insert of N (1 call)"),
)


def pg_section(F, w):
    """The PostgreSQL section; returns its missed targets as (name, bar, measured, factor)."""
    data, units = F.data, F.units
    if not any(k[1].startswith("pg_") for k in data):
        return []
    w("## PostgreSQL (durable: fsync on, synchronous_commit on)")
    w("")
    w("One throwaway PostgreSQL cluster per round on this machine (bench/pg_part.sh), server and "
      "clients sharing its cores. \"commits per task\" counts the database's committed transactions "
      "over the timed phase (pg_stat_database.xact_commit, read-only ones included) per task; for the "
      "raw rows it is what the SQL does by construction.")
    w("")
    w("| system | scenario | median | spread (min–max) | runs | commits per task |")
    w("|---|---|---:|---:|---:|---:|")
    for (sy, sc, v), metric, label in PG_ROWS:
        key = (sy, sc, v, metric)
        if key not in data:
            continue
        lo, hi = F.spread(key)
        cpt = F.med((sy, sc, v, "commits_per_task"))
        startup = F.med((sy, sc, v, "startup_ms"))
        if startup is not None:  # started and warm before the clock: their start apart
            label = "%s; start-up %s ms, not timed" % (label, fmt(startup))
        w("| %s | %s | %s %s | %s–%s | %d | %s |" % (sy, label, fmt(F.med(key)), units[key], fmt(lo), fmt(hi),
                                                   len(F.runs(key)), "n/a" if cpt is None else "%.4g" % cpt))
    w("")
    lat = [(v, m) for v in ("listen", "poll_only")
           for m in ("start_p50_us", "start_p99_us", "start_max_us", "samples", "commits_per_task")
           if ("sitq-c", "pg_latency", v, m) in data]
    if lat:
        w("Enqueue in another process to the start of the task (one task every 4 ms, one commit each; "
          "worker 2 threads):")
        w("")
        w("| wake-ups | figure | median | spread | runs |")
        w("|---|---|---:|---:|---:|")
        for v, m in lat:
            k = ("sitq-c", "pg_latency", v, m)
            lo, hi = F.spread(k)
            w("| %s | %s | %s %s | %s–%s | %d |" % (v, m, fmt(F.med(k), units[k]), units[k], fmt(lo, units[k]),
                                                  fmt(hi, units[k]), len(F.runs(k))))
        w("")
    soak = sorted(k for k in data if k[1] == "pg_soak")
    if soak:
        w("Soak at 80% of the measured drain rate (producer process, an enqueue_batch every 10 ms; "
          "worker 2 threads); claim latency = enqueue call to the start of the task:")
        w("")
        w("| figure | value | runs |")
        w("|---|---:|---:|")
        for k in soak:
            if not (k[3].startswith("window_") and k[3].endswith("_p99_us")):
                w("| %s | %s %s | %d |" % (k[3], fmt(F.med(k), units[k]), units[k], len(F.runs(k))))
        trend = [k for k in soak if k[3].startswith("window_") and k[3].endswith("_p99_us")]
        if trend:
            w("| p99 of each window in turn (histogram, 5%% buckets) | %s ms | %d |"
              % (", ".join("%.1f" % (F.med(k) / 1000) for k in trend), len(F.runs(trend[0]))))
        w("")
    return pg_targets(F, w)


def pg_targets(F, w):
    misses = []
    w("PostgreSQL targets (ratios taken within a round, median over rounds):")
    w("")
    w("| target | bar | measured | result |")
    w("|---|---|---|---|")

    def t(name, bar, r, need, higher=True, unit="x", strict=False):
        if r is None:
            w("| %s | %s | not measured | — |" % (name, bar))
            return
        m, lo, hi = r
        ok = (m > need if strict else m >= need) if higher else m <= need
        meas = ("%.2fx" % m if unit == "x" else "%s %s" % (fmt(m, unit), unit)) + \
            ("" if lo == hi else " (%s–%s)" % (fmt(lo, unit), fmt(hi, unit)))
        w("| %s | %s | %s | %s |" % (name, bar, meas, "met" if ok else "**not met**"))
        if not ok:
            misses.append((name, bar, meas, (m / need) if higher else (need / m if m else float("inf"))))

    e2e = ("sitq-c", "pg_e2e", "durable", "tasks_per_s")
    t("PG end-to-end vs graphile-worker batched", ">= 1.0x",
      F.ratio(e2e, ("graphile-worker", "pg_e2e", "batched", "tasks_per_s")), 1.0)
    t("PG end-to-end vs raw claim-and-complete cycle", ">= 0.85x",
      F.ratio(e2e, ("raw-pg", "pg_raw", "cycle_batch200_2clients", "tasks_per_s")), 0.85)
    t("PG enqueue_batch 100k vs raw 1,000-row inserts", ">= 0.6x",
      F.ratio(("sitq-c", "pg_enqueue", "batch_10000", "tasks_per_s"),
              ("raw-pg", "pg_raw", "1000_row_txn", "rows_per_s")), 0.6)
    t("PG 16 producers vs raw one-row commits, 16 connections", "> 1.0x",
      F.ratio(("sitq-c", "pg_enqueue", "16_threads", "tasks_per_s"),
              ("raw-pg", "pg_raw", "one_row_commit_16conns", "rows_per_s")), 1.0, strict=True)

    def plain(key):
        v = list(F.runs(key).values())
        return (statistics.median(v), min(v), max(v)) if v else None
    t("PG enqueue-to-start p50, LISTEN, across processes", "<= 5,000 µs",
      plain(("sitq-c", "pg_latency", "listen", "start_p50_us")), 5000, higher=False, unit="us")
    t("PG enqueue-to-start p99, LISTEN, across processes", "<= 20,000 µs",
      plain(("sitq-c", "pg_latency", "listen", "start_p99_us")), 20000, higher=False, unit="us")
    def slowest_over_best(keys):
        by = [F.runs(k) for k in keys]
        runs = [r for r in by[0] if all(r in p for p in by)]
        worst = [min(p[r] for p in by) / max(p[r] for p in by) for r in runs]
        return (statistics.median(worst), min(worst), max(worst)) if worst else None
    t("PG 1, 4, 16 worker processes: slowest vs best", ">= 0.8x",
      slowest_over_best([("sitq-c", "pg_procs", "%d_procs" % p, "tasks_per_s") for p in (1, 4, 16)]), 0.8)
    t("PG soak at 80% load: claim p99, last window vs first", "<= 2.0x",
      plain(("sitq-c", "pg_soak", "80pct", "p99_last_over_first")), 2.0, higher=False)
    w("")
    raw = slowest_over_best([("raw-pg", "pg_raw", "cycle_batch200_%dclients" % c, "tasks_per_s") for c in (1, 4, 16)])
    if raw:
        w("For the worker processes' bar: the raw claim-and-complete cycle itself with 1, 4 and 16 "
          "clients, slowest over best, %.2fx (%.2f–%.2f): how far the SQL alone keeps its rate as "
          "claimers are added on this machine." % raw)
        w("")
    return misses


# ---- the Python pipeline job (bench/python_pipeline_bench.py) ----
PIPELINE_SYSTEMS = (
    ("pool", "multiprocessing.Pool (baseline)"),
    ("ppe", "concurrent.futures.ProcessPoolExecutor"),
    ("dask", "Dask, distributed.LocalCluster (2 workers x 1 thread, processes)"),
    ("celery", "Celery (prefork -c 2, redis)"),
    ("sitq-executor", "sitq.Executor (max_workers=2)"),
    ("sitq-result_of", "sitq enqueue_batch + result_of fan-in (sitq worker -c 2)"),
)


def pipeline_section(F, w):
    """The Python pipeline job and the fan-in; returns missed targets as
    (name, bar, measured, factor)."""
    data, units = F.data, F.units
    keys = [k for k in data if k[1] == "py_pipeline" and k[3] == "wall_s"]
    fan = [k for k in data if k[1] == "fanin"]
    if not keys and not fan:
        return []
    misses = []
    rows_k = [k for k in data if k[:2] == ("pipeline", "py_pipeline") and k[3] == "rows"]
    if keys:
        variant = keys[0][2]
        rows = F.med(rows_k[0]) if rows_k else None
        w("## Python pipeline job (pandas, 2 processes)")
        w("")
        w("The flights pipeline's transform_chunk (parse, validate and group a chunk with pandas) "
          "on every chunk of %s rows (%s), partial aggregates merged in the end; workers started "
          "and warm before the clock starts (their start apart)." % (fmt(rows), variant))
        w("")
        w("| system | wall s | spread | runs | vs Pool | workers ready in (s) | CPU s (all processes, start to stop) |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        pool = ("pool", "py_pipeline", variant, "wall_s")
        for name, label in PIPELINE_SYSTEMS:
            k = (name, "py_pipeline", variant, "wall_s")
            if k not in data:
                if (name, "py_pipeline", variant, "available") in data:
                    w("| %s | not available | | | | | |" % label)
                continue
            lo, hi = F.spread(k)
            w("| %s | %s | %s–%s | %d | %s | %s | %s |" % (
                label, fmt(F.med(k)), fmt(lo), fmt(hi), len(F.runs(k)),
                fmt_ratio(F.ratio(k, pool)) if pool in data else "n/a",
                fmt(F.med((name, "py_pipeline", variant, "startup_s"))),
                fmt(F.med((name, "py_pipeline", variant, "cpu_s")))))
        w("")
    if fan:
        n = fan[0][2]
        w("## Fan-in: %s no-op parents into one child (Python, worker 2 threads)" % n)
        w("")
        w("| figure | median | spread | runs |")
        w("|---|---:|---:|---:|")
        for k in sorted(fan, key=lambda k: k[3]):
            lo, hi = F.spread(k)
            w("| %s | %s %s | %s–%s | %d |" % (k[3], fmt(F.med(k)), units[k], fmt(lo), fmt(hi),
                                              len(F.runs(k))))
        w("")
    w("### Targets of the pipeline job")
    w("")
    w("| target | bar | measured (median of per-run ratios, min–max) | result |")
    w("|---|---|---|---|")

    def target(name, bar, r, need, higher=True, detail=None):
        if r is None:
            w("| %s | %s | not measured | — |" % (name, bar))
            return
        ok = r[0] >= need if higher else r[0] <= need
        meas = detail or fmt_ratio(r)
        w("| %s | %s | %s | %s |" % (name, bar, meas, "**pass**" if ok else "**MISS**"))
        if not ok:
            misses.append((name, bar, meas, r[0] / need if higher else need / r[0]))

    if keys:
        variant = keys[0][2]
        pool = ("pool", "py_pipeline", variant, "wall_s")
        for name in ("sitq-executor", "sitq-result_of"):
            k = (name, "py_pipeline", variant, "wall_s")
            if k not in data:
                continue
            target("%s wall time vs Pool" % name, "<= 1.1x Pool", F.ratio(k, pool), 1.1, higher=False)
            for peer in ("dask", "celery"):
                pk = (peer, "py_pipeline", variant, "wall_s")
                target("%s wall time vs %s" % (name, peer), "< 1x %s" % peer,
                       F.ratio(k, pk) if pk in data else None, 0.99999, higher=False)
    if fan:
        n = fan[0][2]
        st = F.runs(("sitq-python", "fanin", n, "child_start_ms"))
        if st:
            v = list(st.values())
            m = statistics.median(v)
            target("fan-in: child starts after the last parent", "<= 50 ms", (m / 50, min(v) / 50, max(v) / 50),
                   1.0, higher=False, detail="%s ms (%s–%s)" % (fmt(m), fmt(min(v)), fmt(max(v))))
        target("fan-in: graph rate vs no-op end-to-end rate", ">= 0.5x",
               F.ratio(("sitq-python", "fanin", n, "graph_tasks_per_s"),
                       ("sitq-python", "fanin", n, "noop_tasks_per_s")), 0.5)
    w("")
    return misses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = ap.parse_args()
    data, units = load(os.path.join(a.results, "results.jsonl"))
    F = Figures(data, units)
    meta = {}
    mp = os.path.join(a.results, "meta.json")
    if os.path.exists(mp):
        with open(mp) as f:
            meta = json.load(f)
    notes = ""
    np_ = os.path.join(a.results, "notes.txt")
    if os.path.exists(np_):
        with open(np_) as f:
            notes = f.read().strip()

    RAW = "sqlite-raw"
    C = "sitq-c"
    PY = "sitq-python"
    PJ = ("plainjob", "e2e", "NORMAL", "tasks_per_s")
    CE = ("celery", "e2e", "redis", "tasks_per_s")
    out = []
    w = out.append

    w("# sitq benchmark results")
    w("")
    w("Made by `make bench` (bench/run.sh, bench/report.py); how to read it: bench/README.md.")
    if meta:
        w("")
        w("Run: %s, sitq %s, %s runs interleaved, %s tasks per throughput figure%s, %s s in all. "
          "Machine: %s, %s cores, %s, Linux %s. SQLite %s (sitq and raw); plainjob %s with better-sqlite3 %s "
          "on Node %s; Celery %s with redis-server %s; PostgreSQL %s, graphile-worker %s, pg-boss %s, soak %s s."
          % (meta.get("date"), meta.get("git"), meta.get("runs"), meta.get("tasks"),
             " (--quick)" if meta.get("quick") else "", meta.get("elapsed_s"), meta.get("cpu"),
             meta.get("cores"), meta.get("fs"), meta.get("kernel"), meta.get("sqlite"),
             meta.get("plainjob"), meta.get("better_sqlite3"), meta.get("node"), meta.get("celery"),
             meta.get("redis"), meta.get("postgres"), meta.get("graphile_worker"), meta.get("pg_boss"),
             meta.get("pg_soak_s")))
    w("")
    w("Each figure: median of the runs, spread min–max, number of runs. Ratios are taken run by run "
      "(same round) and their median is shown with its min–max.")
    w("")

    # ---- throughput table ----
    w("## Throughput")
    w("")
    w("| system | scenario | sync | median | spread (min–max) | runs | vs raw limit | vs plainjob | vs Celery |")
    w("|---|---|---|---:|---:|---:|---:|---:|---:|")
    batch_limit = {}  # sync -> key of raw batch

    def row(key, label, limit=None, limit_scale=1.0, limit_label="", peers=False):
        if key not in data:
            return
        lo, hi = F.spread(key)
        unit = units[key]
        lim = ""
        if limit is not None:
            r = F.ratio(key, limit, limit_scale)
            lim = (fmt_ratio(r) + (" " + limit_label if limit_label else "")) if r else ""
        pj = fmt_ratio(F.ratio(key, PJ)) if peers and PJ in data else ""
        ce = fmt_ratio(F.ratio(key, CE)) if peers and CE in data else ""
        w("| %s | %s | %s | %s %s | %s–%s | %d | %s | %s | %s |"
          % (key[0], label, key[2], fmt(F.med(key)), unit, fmt(lo), fmt(hi), len(F.runs(key)), lim, pj, ce))

    for s in ("NORMAL", "FULL"):
        row((RAW, "single", s, "rows_per_s"), "single-row commit")
    for s in ("NORMAL", "FULL"):
        row((RAW, "batch1000", s, "rows_per_s"), "1,000-row transactions")
    for s in ("NORMAL", "FULL"):
        row((RAW, "naive_cycle", s, "tasks_per_s"), "naive cycle (insert, claim, complete: 3 commits)")
    for s in ("NORMAL", "FULL"):
        row((C, "enqueue_single", s, "tasks_per_s"), "enqueue, 1 call at a time",
            (RAW, "single", s, "rows_per_s"), limit_label="of single-row commit")
        row((C, "enqueue_4threads", s, "tasks_per_s"), "enqueue, 4 producer threads",
            (RAW, "single", s, "rows_per_s"), limit_label="of single-row commit")
        row((C, "enqueue_batch", s, "tasks_per_s"), "enqueue_batch (1,000 per call)",
            (RAW, "batch1000", s, "rows_per_s"), limit_label="of batched rows")
    for s in ("NORMAL", "FULL"):
        row((C, "e2e", s, "tasks_per_s"), "end-to-end no-op, worker 2 threads",
            (RAW, "batch1000", s, "rows_per_s"), 1.0 / ROW_WRITES_PER_TASK, "of batched rows/3",
            peers=True)
    for s in ("NORMAL", "FULL"):
        row((C, "e2e", s, "enqueue_plus_drain_per_s"), "end-to-end incl. the enqueue_batch", peers=False)
    row((PY, "e2e", "NORMAL", "tasks_per_s"), "end-to-end no-op Python tasks, worker 2 threads",
        (RAW, "batch1000", "NORMAL", "rows_per_s"), 1.0 / ROW_WRITES_PER_TASK, "of batched rows/3", peers=True)
    row((PY, "enqueue_single", "NORMAL", "tasks_per_s"), "Python enqueue, 1 call at a time",
        (RAW, "single", "NORMAL", "rows_per_s"), limit_label="of single-row commit")
    row((PY, "enqueue_batch", "NORMAL", "tasks_per_s"), "Python enqueue_batch (N in 1 call)")
    row(PJ, "end-to-end no-op, 2 worker processes", peers=False)
    row(("plainjob", "enqueue_single", "NORMAL", "tasks_per_s"), "add(), 1 call at a time")
    row(("plainjob", "enqueue_batch", "NORMAL", "tasks_per_s"), "addMany (N in 1 transaction)")
    row(CE, "end-to-end no-op, worker -c 2 (prefork)", peers=False)
    row(("celery", "enqueue_single", "redis", "tasks_per_s"), ".delay(), 1 call at a time")
    if (PY, "e2e", "NORMAL", "available") in data and F.med((PY, "e2e", "NORMAL", "available")) == 0:
        w("| sitq-python | end-to-end | NORMAL | not available (binding not importable) | | | | | |")
    w("")
    w("Other figures of the end-to-end runs:")
    w("")
    w("| figure | sync | median | spread | runs |")
    w("|---|---|---:|---:|---:|")
    for s in ("NORMAL", "FULL"):
        for m, label in (("tasks_per_commit", "tasks per worker commit"),
                         ("db_bytes_per_task", "database bytes per finished task (db + wal)"),
                         ("lost", "acknowledged results missing after reopening")):
            k = (C, "e2e", s, m)
            if k in data:
                lo, hi = F.spread(k)
                w("| %s | %s | %s %s | %s–%s | %d |" % (label, s, fmt(F.med(k)), units[k], fmt(lo), fmt(hi), len(F.runs(k))))
    k = (PY, "e2e", "NORMAL", "tasks_per_commit")
    if k in data:
        lo, hi = F.spread(k)
        w("| tasks per worker commit (Python) | NORMAL | %s | %s–%s | %d |" % (fmt(F.med(k)), fmt(lo), fmt(hi), len(F.runs(k))))
    w("")

    # ---- latency ----
    w("## Enqueue-to-start latency (one process, 2 ms trickle, NORMAL)")
    w("")
    w("| figure | median | spread | runs |")
    w("|---|---:|---:|---:|")
    for m, label in (("start_p50_us", "p50"), ("start_p99_us", "p99"), ("start_max_us", "max"),
                     ("enqueue_call_p50_us", "enqueue call itself, p50"), ("samples", "tasks per run")):
        k = (C, "latency", "NORMAL", m)
        if k in data:
            lo, hi = F.spread(k)
            w("| %s | %s %s | %s–%s | %d |" % (label, fmt(F.med(k), units[k]), units[k], fmt(lo, units[k]), fmt(hi, units[k]), len(F.runs(k))))
    w("")

    # ---- claim depth ----
    w("## Claim throughput by queue depth (NORMAL, worker 2 threads)")
    w("")
    w("| tasks already queued | median | spread | runs | vs 10k |")
    w("|---|---:|---:|---:|---:|")
    depth_keys = sorted([k for k in data if k[0] == C and k[1] == "claim_depth"],
                        key=lambda k: float(k[2].rstrip("kM")) * (1e3 if k[2].endswith("k") else 1e6 if k[2].endswith("M") else 1))
    base = (C, "claim_depth", "10k", "tasks_per_s")
    for k in depth_keys:
        lo, hi = F.spread(k)
        w("| %s | %s %s | %s–%s | %d | %s |" % (k[2], fmt(F.med(k)), units[k], fmt(lo), fmt(hi), len(F.runs(k)),
                                                fmt_ratio(F.ratio(k, base))))
    w("")

    # ---- memory ----
    w("## Worker memory (one process, NORMAL)")
    w("")
    w("| figure | median | spread | runs |")
    w("|---|---:|---:|---:|")
    for m, label in (("tasks", "tasks run"), ("tasks_per_s", "throughput"),
                     ("rss_start_mib", "RSS before the worker starts"),
                     ("rss_at_10pct_mib", "RSS after 10% of the tasks"), ("rss_max_mib", "RSS max"),
                     ("rss_end_mib", "RSS at the end"), ("rss_growth_after_10pct_mib", "growth after 10% (max − at 10%)"),
                     ("db_bytes_per_task", "database bytes per finished task")):
        k = (C, "memory", "NORMAL", m)
        if k in data:
            lo, hi = F.spread(k)
            w("| %s | %s %s | %s–%s | %d |" % (label, fmt(F.med(k)), units[k], fmt(lo), fmt(hi), len(F.runs(k))))
    w("")

    # ---- WAL under many writing processes ----
    wk = [k for k in data if k[1] == "wal"]
    if wk:
        w("## WAL size under 8 producer and 4 worker processes (NORMAL)")
        w("")
        w("Baseline in the same run: raw SQLite with its own passive checkpoints, 8 processes")
        w("inserting one row per commit and 4 processes reading.")
        w("")
        w("| system | figure | median | spread | runs |")
        w("|---|---|---:|---:|---:|")
        for k in sorted(wk):
            lo, hi = F.spread(k)
            w("| %s | %s | %s %s | %s–%s | %d |" % (k[0], k[3], fmt(F.med(k)), units[k], fmt(lo), fmt(hi),
                                                  len(F.runs(k))))
        w("")

    pipeline_misses = pipeline_section(F, w)
    pg_misses = pg_section(F, w)

    # ---- targets ----
    w("## Targets")
    w("")
    w("| target | bar | measured (median of per-run ratios, min–max) | result |")
    w("|---|---|---|---|")
    misses = []

    def target(name, bar_text, r, need, higher=True, detail=""):
        if r is None:
            w("| %s | %s | not measured | — |" % (name, bar_text))
            return
        m = r[0]
        ok = m >= need if higher else m <= need
        meas = fmt_ratio(r) if detail == "" else detail
        w("| %s | %s | %s | %s |" % (name, bar_text, meas, "**pass**" if ok else "**MISS**"))
        if not ok:
            misses.append((name, bar_text, meas, (m / need) if higher else (need / m if m else float("inf"))))

    e2eN = (C, "e2e", "NORMAL", "tasks_per_s")
    e2eF = (C, "e2e", "FULL", "tasks_per_s")
    target("C API end-to-end, NORMAL, vs plainjob", ">= 10x plainjob", F.ratio(e2eN, PJ) if PJ in data else None, 10)
    target("C API end-to-end, NORMAL, vs raw batched limit", ">= 0.5 x (raw 1,000-row rows/s ÷ 3 row writes)",
           F.ratio(e2eN, (RAW, "batch1000", "NORMAL", "rows_per_s"), 1.0 / ROW_WRITES_PER_TASK), 0.5)
    fullr = F.runs(e2eF)
    if fullr:
        m = statistics.median(fullr.values())
        target("FULL end-to-end, group commit", ">= 20,000 tasks/s", (m / 20000, min(fullr.values()) / 20000, max(fullr.values()) / 20000),
               1.0, detail="%s tasks/s (%s–%s) = %.2fx the bar" % (fmt(m), fmt(min(fullr.values())), fmt(max(fullr.values())), m / 20000))
    target("FULL end-to-end vs naive per-statement cycle", ">= 10x raw naive cycle (FULL)",
           F.ratio(e2eF, (RAW, "naive_cycle", "FULL", "tasks_per_s")), 10)
    lost = F.runs((C, "e2e", "FULL", "lost"))
    if lost:
        tot = sum(lost.values())
        w("| FULL: no acknowledged result lost | 0 missing after reopening | %d missing over %d runs | %s |"
          % (tot, len(lost), "**pass**" if tot == 0 else "**MISS**"))
        if tot:
            misses.append(("FULL: no acknowledged result lost", "0", "%d missing" % tot, 0))
    for s in ("NORMAL", "FULL"):
        target("single enqueue, 1 call at a time, %s" % s, ">= 0.8x raw single-row commit",
               F.ratio((C, "enqueue_single", s, "tasks_per_s"), (RAW, "single", s, "rows_per_s")), 0.8)
        target("4 producer threads, %s" % s, "> 1x raw single-row commit (group commit)",
               F.ratio((C, "enqueue_4threads", s, "tasks_per_s"), (RAW, "single", s, "rows_per_s")), 1.0000001)
    pye = (PY, "e2e", "NORMAL", "tasks_per_s")
    target("Python end-to-end vs Celery", ">= 20x Celery", F.ratio(pye, CE) if CE in data else None, 20)
    target("Python end-to-end vs plainjob", ">= 2x plainjob", F.ratio(pye, PJ) if PJ in data else None, 2)
    p50 = F.runs((C, "latency", "NORMAL", "start_p50_us"))
    if p50:
        v = list(p50.values())
        m = statistics.median(v)
        target("enqueue-to-start p50, in process", "<= 1 ms", (m / 1000.0, min(v) / 1000, max(v) / 1000), 1.0,
               higher=False, detail="%s µs (%s–%s)" % (fmt(m, "us"), fmt(min(v), "us"), fmt(max(v), "us")))
    if depth_keys:
        deepest = depth_keys[-1]
        target("claim throughput, %s queued vs 10k" % deepest[2], ">= 0.8x (within 20%)", F.ratio(deepest, base), 0.8)
    g = F.runs((C, "memory", "NORMAL", "rss_growth_after_10pct_mib"))
    r10 = F.runs((C, "memory", "NORMAL", "rss_at_10pct_mib"))
    n_mem = F.med((C, "memory", "NORMAL", "tasks"))
    if g and r10:
        rel = [g[k] / r10[k] for k in g if k in r10 and r10[k] > 0]
        m = statistics.median(rel)
        target("worker memory flat over %s tasks" % fmt(n_mem), "growth after the first 10% <= 10% of RSS",
               (m, min(rel), max(rel)), 0.10, higher=False,
               detail="+%s MiB = %.1f%% (%.1f–%.1f%%)" % (fmt(F.med((C, "memory", "NORMAL", "rss_growth_after_10pct_mib"))),
                                                      100 * m, 100 * min(rel), 100 * max(rel)))
    w("")

    misses.extend(pipeline_misses)
    misses.extend(pg_misses)

    # ---- closing note ----
    w("## Closing note")
    w("")
    if not misses:
        w("Every target that was measured passes.")
    else:
        w("Missed targets, and by how much (measured ÷ bar; for a ceiling, bar ÷ measured):")
        w("")
        for name, bar, meas, factor in misses:
            w("- %s: bar %s, measured %s → %.2f of the bar (needs %.1fx more)." %
              (name, bar, meas, factor, (1 / factor) if factor else float("inf")))
    prof = os.path.join(a.results, "profile.md")
    if os.path.exists(prof):
        w("")
        w("Where the time goes: see the profile below (bench/profile.sh).")
        w("")
        with open(prof) as f:
            w(f.read().strip())
    if notes:
        w("")
        w("Notes from this run:")
        w("")
        for line in notes.splitlines():
            w("- " + line)
    w("")
    w("![throughput per system](throughput.png)")
    w("")
    with open(os.path.join(a.results, "results.md"), "w") as f:
        f.write("\n".join(out))

    chart(F, a.results)
    print("report.py: wrote %s" % os.path.join(a.results, "results.md"))


def chart(F, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: matplotlib missing (apt-get install python3-matplotlib): no chart")
        return
    bars = [
        ("sitq C API, NORMAL", ("sitq-c", "e2e", "NORMAL", "tasks_per_s"), "#1f77b4"),
        ("sitq C API, FULL", ("sitq-c", "e2e", "FULL", "tasks_per_s"), "#1f77b4"),
        ("sitq Python, NORMAL", ("sitq-python", "e2e", "NORMAL", "tasks_per_s"), "#17becf"),
        ("plainjob (Node, SQLite)", ("plainjob", "e2e", "NORMAL", "tasks_per_s"), "#ff7f0e"),
        ("Celery (redis)", ("celery", "e2e", "redis", "tasks_per_s"), "#d62728"),
        ("raw SQLite naive cycle, NORMAL", ("sqlite-raw", "naive_cycle", "NORMAL", "tasks_per_s"), "#7f7f7f"),
        ("raw SQLite naive cycle, FULL", ("sqlite-raw", "naive_cycle", "FULL", "tasks_per_s"), "#7f7f7f"),
    ]
    bars = [b for b in bars if F.runs(b[1])]
    enq = [
        ("sitq C enqueue, NORMAL", ("sitq-c", "enqueue_single", "NORMAL", "tasks_per_s"), "#1f77b4"),
        ("sitq C enqueue, 4 threads, NORMAL", ("sitq-c", "enqueue_4threads", "NORMAL", "tasks_per_s"), "#1f77b4"),
        ("sitq C enqueue, FULL", ("sitq-c", "enqueue_single", "FULL", "tasks_per_s"), "#1f77b4"),
        ("sitq C enqueue, 4 threads, FULL", ("sitq-c", "enqueue_4threads", "FULL", "tasks_per_s"), "#1f77b4"),
        ("sitq Python enqueue", ("sitq-python", "enqueue_single", "NORMAL", "tasks_per_s"), "#17becf"),
        ("plainjob add()", ("plainjob", "enqueue_single", "NORMAL", "tasks_per_s"), "#ff7f0e"),
        ("Celery .delay()", ("celery", "enqueue_single", "redis", "tasks_per_s"), "#d62728"),
        ("raw SQLite single-row commit, NORMAL", ("sqlite-raw", "single", "NORMAL", "rows_per_s"), "#7f7f7f"),
        ("raw SQLite single-row commit, FULL", ("sqlite-raw", "single", "FULL", "rows_per_s"), "#7f7f7f"),
    ]
    enq = [b for b in enq if F.runs(b[1])]
    fig, axes = plt.subplots(2, 1, figsize=(10, 9), gridspec_kw={"height_ratios": [len(bars) + 1, len(enq) + 1]})
    for ax, items, title in ((axes[0], bars, "End-to-end no-op tasks (N enqueued, then drained by 2 workers/threads)"),
                             (axes[1], enq, "Enqueue, one call (one commit) at a time")):
        labels = [b[0] for b in items][::-1]
        keys = [b[1] for b in items][::-1]
        meds = [F.med(k) for k in keys]
        lo = [m - F.spread(k)[0] for m, k in zip(meds, keys)]
        hi = [F.spread(k)[1] - m for m, k in zip(meds, keys)]
        ax.barh(labels, meds, xerr=[lo, hi], color=[b[2] for b in items][::-1], capsize=3)
        ax.set_xscale("log")
        ax.set_xlabel("tasks per second (log scale; median, whiskers min–max)")
        ax.set_title(title, fontsize=11)
        for y, (m, k) in enumerate(zip(meds, keys)):
            ax.text(F.spread(k)[1] * 1.1, y, "{:,.0f}".format(m), va="center", fontsize=8)
        if items is bars:
            bl = F.med(("sqlite-raw", "batch1000", "NORMAL", "rows_per_s"))
            if bl:
                ax.axvline(bl / ROW_WRITES_PER_TASK / 2, color="green", ls="--", lw=1,
                           label="target: ½ × raw batched rows/s ÷ 3 (NORMAL)")
            pj = F.med(("plainjob", "e2e", "NORMAL", "tasks_per_s"))
            if pj:
                ax.axvline(pj * 10, color="#ff7f0e", ls=":", lw=1, label="target: 10 × plainjob")
            ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "throughput.png"), dpi=110)


if __name__ == "__main__":
    main()
