"""The flights pipeline in Python: real data through a sitq queue, with pandas.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/flights_pipeline.py
        [--data CSV] [--airports CSV] [--chunks N] [--workers N] [--db PATH] [--out DIR]
        [--min-flights N] [--outlier-minutes N] [--fail-chunk K] [--quiet]

One command: it cuts the flights CSV (gzip or plain; by default the bundled
200,000 rows of January 2001) into chunks, stores the whole task graph in one
``enqueue_batch``, starts ``python -m sitq worker --concurrency N`` (worker
*processes*, so the pandas work runs on several cores despite the GIL), waits
for the graph, prints what the data says and stops the workers. Two
pipelines share the workers:

    ETL fan-out / fan-in:
      transform_chunk x N --result_of--> aggregate_partials --result_of--> load_reports
      (parse, validate,                  (merge the partial   (join airports, write
       partial aggregates)                aggregates)          by_origin.csv, by_day.csv)

    dependent chain, each stage reading the previous one's result:
      validate --> clean --> enrich --> aggregate_states
      (valid.csv)  (cleaned.csv: duplicates dropped, outliers flagged)
                             (enriched.csv: airports joined)  (by_state.csv)

Results stay compact: a chunk's result is its partial aggregate (a few
hundred groups as plain lists, about 5 KB pickled), never its rows, and the
chain stages hand each other file paths and counts. A chunk's rows travel in
its payload, so that a chunk run again after a crash needs nothing else.

The functions below are the tasks; the worker processes import them by
module path (``--path`` is this file's directory), and the benchmark
(bench/python_pipeline_bench.py) times the same ``transform_chunk`` with
other tools. Outputs: ``by_origin.csv``, ``by_day.csv``, ``cleaned.csv``,
``enriched.csv``, ``by_state.csv`` and ``summary.json`` in ``--out``.
Exit status: 0 success, 1 a runtime error or a failed task, 2 a bad option.
"""

import argparse
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COLUMNS = ["date", "delay", "distance", "origin", "destination"]
LATE_MINUTES = 15  # a flight is "late" from 15 minutes on (the BTS definition)
GROUP_FIELDS = ["flights", "delay_sum", "min_delay", "max_delay", "late"]


class PipelineError(Exception):
    """A problem with the input or the run, reported as one line (exit 1)."""


# ---- reading and validating -------------------------------------------------

def read_bytes(path):
    """The whole file at path as bytes, gunzipped when it is gzip."""
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:
        raise PipelineError("cannot read %s: %s" % (path, e.strerror or e)) from None


def split_records(data, n_chunks):
    """Cut CSV bytes into (header, [chunk, ...]) at line ends: n_chunks chunks
    of about equal size (fewer when there are fewer records). Each chunk is
    the header line followed by whole records, itself a CSV file."""
    data = data.replace(b"\r\n", b"\n")
    end = data.find(b"\n")
    if end < 0:
        end = len(data)
    header = data[:end + 1]
    names = header.decode("utf-8", "replace").strip().split(",")
    if sorted(names) != sorted(COLUMNS):
        raise PipelineError("the header must name the columns %s, got %r"
                            % (",".join(COLUMNS), header.decode("utf-8", "replace").strip()))
    body = data[end + 1:]
    if not body.strip():
        raise PipelineError("no records after the header")
    chunks, start, step = [], 0, max(1, len(body) // max(1, n_chunks))
    while start < len(body):
        cut = body.find(b"\n", min(len(body) - 1, start + step - 1))
        cut = len(body) if cut < 0 else cut + 1
        chunks.append(header + body[start:cut])
        start = cut
    return header, chunks


def parse_rows(csv_bytes):
    """Parse and validate CSV bytes (a header, then records).

    Returns (frame, bad): the valid rows as a DataFrame with columns date
    (str), day (str YYYY-MM-DD), delay and distance (int64), origin and
    destination (str), in input order; and the number of bad records. A
    record is bad when it has the wrong number of fields, a date that is not
    a real ``YYYY-MM-DD HH:MM[:SS]``, a delay or distance that is not an
    integer (a negative distance), or an airport code that is not 2-7
    upper-case letters or digits. Raises PipelineError on a wrong header."""
    records = sum(1 for line in csv_bytes.split(b"\n")[1:] if line.strip())
    df = pd.read_csv(io.BytesIO(csv_bytes), dtype=str, keep_default_na=False,
                     on_bad_lines="skip", skip_blank_lines=True)
    if sorted(df.columns) != sorted(COLUMNS):
        raise PipelineError("the header must name the columns %s, got %s"
                            % (",".join(COLUMNS), ",".join(df.columns)))
    df = df[COLUMNS].fillna("")
    date = df["date"].str.strip()
    date = date.where(date.str.len() != 16, date + ":00")
    ok = date.str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
    ok &= pd.to_datetime(date, format="%Y-%m-%d %H:%M:%S", errors="coerce").notna()
    ok &= df["delay"].str.fullmatch(r"-?\d{1,9}")
    ok &= df["distance"].str.fullmatch(r"\d{1,9}")
    for col in ("origin", "destination"):
        ok &= df[col].str.fullmatch(r"[A-Z0-9]{2,7}")
    valid = df[ok]
    frame = pd.DataFrame({
        "date": date[ok],
        "day": date[ok].str.slice(0, 10),
        "delay": valid["delay"].astype("int64"),
        "distance": valid["distance"].astype("int64"),
        "origin": valid["origin"],
        "destination": valid["destination"],
    }).reset_index(drop=True)
    return frame, records - len(frame)


def read_airports(path):
    """The airports table (iata, name, city, state), every field a str."""
    data = read_bytes(path)
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as e:
        raise PipelineError("cannot parse %s: %s" % (path, e)) from None
    missing = {"iata", "name", "city", "state"} - set(df.columns)
    if missing:
        raise PipelineError("%s lacks the column(s) %s" % (path, ", ".join(sorted(missing))))
    return df[["iata", "name", "city", "state"]].drop_duplicates("iata")


def write_csv(frame, path):
    """Write frame to path atomically (a temporary name, then a rename), so
    that an attempt run again replaces the file instead of mixing with it."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


# ---- pipeline 1: chunks, fan-in, load ------------------------------------------

def _groups(frame, key):
    g = frame.groupby(key, sort=True)["delay"]
    out = pd.DataFrame({"flights": g.size(), "delay_sum": g.sum(), "min_delay": g.min(),
                        "max_delay": g.max(),
                        "late": frame["delay"].ge(LATE_MINUTES).groupby(frame[key]).sum()})
    return [[k] + [int(v) for v in row] for k, row in zip(out.index, out.to_numpy())]


def transform_chunk(csv_bytes, index=0, fail=False):
    """Task: parse and validate one chunk, return its partial aggregate.

    The result is small and exact (integer sums): {"chunk", "rows", "bad",
    "origin": [[code, flights, delay_sum, min, max, late], ...], "day":
    [[YYYY-MM-DD, ...same...], ...]}, plain lists so that any tool can carry
    it (JSON included). fail=True raises (the failure demonstration)."""
    if fail:
        raise RuntimeError("chunk %d: injected failure (--fail-chunk)" % index)
    frame, bad = parse_rows(csv_bytes)
    return {"chunk": index, "rows": len(frame) + bad, "bad": bad,
            "origin": _groups(frame, "origin"), "day": _groups(frame, "day")}


def merge_partials(partials):
    """Merge partial aggregates (from transform_chunk) in any order into
    {"rows", "bad", "chunks", "by_origin": DataFrame, "by_day": DataFrame},
    the frames indexed by key with the columns of GROUP_FIELDS."""
    merged = {}
    for name in ("origin", "day"):
        rows = [r for p in partials for r in p[name]]
        frame = pd.DataFrame(rows, columns=[name] + GROUP_FIELDS)
        g = frame.groupby(name, sort=True)
        merged["by_" + name] = g.agg({"flights": "sum", "delay_sum": "sum", "min_delay": "min",
                                      "max_delay": "max", "late": "sum"}).astype("int64")
    merged["rows"] = sum(p["rows"] for p in partials)
    merged["bad"] = sum(p["bad"] for p in partials)
    merged["chunks"] = len(partials)
    return merged


def aggregate_partials(partials):
    """Task (fan-in): the merge of every chunk's partial aggregate; its
    argument is a list of sitq.result_of placeholders, one per chunk."""
    return merge_partials(partials)


def _report_frame(groups, key):
    out = groups.reset_index()
    out["mean_delay"] = out["delay_sum"] / out["flights"]
    out["late_pct"] = 100.0 * out["late"] / out["flights"]
    return out[[key, "flights", "mean_delay", "min_delay", "max_delay", "late", "late_pct"]]


def load_reports(merged, airports_path, out_dir, min_flights):
    """Task: join the per-airport aggregate with the airports table and write
    by_origin.csv (origin, name, city, state, flights, mean_delay, min_delay,
    max_delay, late, late_pct) and by_day.csv (day, flights, ...); returns
    the figures the summary prints (compact: lists of small dicts)."""
    airports = read_airports(airports_path)
    by_origin = _report_frame(merged["by_origin"], "origin")
    by_origin = by_origin.merge(airports.rename(columns={"iata": "origin"}), on="origin",
                                how="left").fillna({"name": "", "city": "", "state": ""})
    by_origin = by_origin[["origin", "name", "city", "state", "flights", "mean_delay",
                           "min_delay", "max_delay", "late", "late_pct"]]
    by_day = _report_frame(merged["by_day"], "day")
    write_csv(by_origin, os.path.join(out_dir, "by_origin.csv"))
    write_csv(by_day, os.path.join(out_dir, "by_day.csv"))
    busy = by_origin[by_origin["flights"] >= min_flights]
    worst = busy.sort_values(["mean_delay", "origin"], ascending=[False, True]).head(5)
    return {"rows": merged["rows"], "bad": merged["bad"], "chunks": merged["chunks"],
            "flights": int(by_origin["flights"].sum()),
            "mean_delay": float(merged["by_day"]["delay_sum"].sum()
                                / max(1, merged["by_day"]["flights"].sum())),
            "origins": len(by_origin), "days": len(by_day), "min_flights": min_flights,
            "worst_origins": worst.to_dict("records"), "by_day": by_day.to_dict("records")}


# ---- pipeline 2: the dependent chain -------------------------------------------

def validate(input_path, out_dir):
    """Task: keep the valid rows of the input, written canonically to
    staging/valid.csv; returns {"path", "rows", "bad"}."""
    frame, bad = parse_rows(read_bytes(input_path))
    os.makedirs(os.path.join(out_dir, "staging"), exist_ok=True)
    path = write_csv(frame[COLUMNS], os.path.join(out_dir, "staging", "valid.csv"))
    return {"path": path, "rows": len(frame), "bad": bad}


def clean(validated, out_dir, outlier_minutes):
    """Task: drop exact duplicate rows (all five fields equal, the first
    kept) and flag |delay| > outlier_minutes (column outlier, 0/1); writes
    cleaned.csv, returns {"path", "rows", "duplicates", "outliers"}."""
    frame = pd.read_csv(validated["path"], dtype={"date": str, "origin": str,
                                                  "destination": str},
                        keep_default_na=False)
    dup = frame.duplicated(keep="first")
    frame = frame[~dup].copy()
    frame["outlier"] = (frame["delay"].abs() > outlier_minutes).astype("int64")
    path = write_csv(frame, os.path.join(out_dir, "cleaned.csv"))
    return {"path": path, "rows": len(frame), "duplicates": int(dup.sum()),
            "outliers": int(frame["outlier"].sum())}


def enrich(cleaned, airports_path, out_dir):
    """Task: join the airports table on origin and on destination (city and
    state of each; empty when the code is unknown); writes enriched.csv,
    returns {"path", "rows", "unmatched_origin", "unmatched_destination"}."""
    frame = pd.read_csv(cleaned["path"], dtype={"date": str, "origin": str,
                                                "destination": str},
                        keep_default_na=False)
    airports = read_airports(airports_path)[["iata", "city", "state"]]
    unmatched = {}
    for side in ("origin", "destination"):
        named = airports.rename(columns={"iata": side, "city": side + "_city",
                                         "state": side + "_state"})
        frame = frame.merge(named, on=side, how="left", validate="many_to_one")
        unmatched[side] = int(frame[side + "_state"].isna().sum())
        frame = frame.fillna({side + "_city": "", side + "_state": ""})
    path = write_csv(frame, os.path.join(out_dir, "enriched.csv"))
    return {"path": path, "rows": len(frame), "unmatched_origin": unmatched["origin"],
            "unmatched_destination": unmatched["destination"]}


def aggregate_states(enriched, out_dir):
    """Task: flights, mean/min/max delay and outliers per origin state
    (unknown origins under "(unmatched)"); writes by_state.csv, returns
    {"path", "states", "top": the three states with the most flights}."""
    frame = pd.read_csv(enriched["path"], dtype={"origin_state": str}, keep_default_na=False,
                        usecols=["delay", "outlier", "origin_state"])
    frame["state"] = frame["origin_state"].where(frame["origin_state"] != "", "(unmatched)")
    g = frame.groupby("state", sort=True)
    out = pd.DataFrame({"flights": g.size(), "mean_delay": g["delay"].mean(),
                        "min_delay": g["delay"].min(), "max_delay": g["delay"].max(),
                        "outliers": g["outlier"].sum()}).reset_index()
    path = write_csv(out, os.path.join(out_dir, "by_state.csv"))
    top = out.sort_values(["flights", "state"], ascending=[False, True]).head(3)
    return {"path": path, "states": len(out), "top": top.to_dict("records")}


# ---- the main job ------------------------------------------------------------

def _options(argv):
    def count(lo, hi):
        def parse(text):
            try:
                v = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError("%r is not an integer" % text)
            if not lo <= v <= hi:
                raise argparse.ArgumentTypeError("must be %d..%d, got %d" % (lo, hi, v))
            return v
        return parse
    build = os.path.join(ROOT, "build")
    ap = argparse.ArgumentParser(
        prog="flights_pipeline.py",
        description="The flights data pipeline on sitq worker processes, with pandas "
                    "(see docs/demo.md).")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "flights-200k.csv.gz"),
                    help="flights CSV, gzip or plain (default: the bundled 200,000 rows)")
    ap.add_argument("--airports", default=os.path.join(ROOT, "data", "airports.csv.gz"),
                    help="airports CSV, gzip or plain (default: the bundled table)")
    ap.add_argument("--chunks", type=count(1, 10000), default=40,
                    help="transform_chunk tasks (default 40)")
    ap.add_argument("--workers", type=count(1, 64), default=4,
                    help="task processes of the worker (default 4)")
    ap.add_argument("--db", default=os.path.join(build, "demo", "pipeline-py.db"),
                    help="queue database, a SQLite file deleted and recreated (default "
                         "build/demo/pipeline-py.db), or a postgresql:// URI of an empty queue")
    ap.add_argument("--out", default=os.path.join(build, "demo", "out-py"),
                    help="output directory, created if needed (default build/demo/out-py)")
    ap.add_argument("--min-flights", type=count(1, 10**9), default=1000,
                    help="airports with fewer flights are left out of the worst five "
                         "(default 1000)")
    ap.add_argument("--outlier-minutes", type=count(0, 10**6), default=300,
                    help="clean flags rows with |delay| above this (default 300)")
    ap.add_argument("--fail-chunk", type=count(0, 10**6), default=None,
                    help="make chunk K fail on every attempt (failure demonstration)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    return ap.parse_args(argv)


def _remove_db(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def _start_workers(sitq, db, n):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(sitq.__file__)))]
        + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.Popen([sys.executable, "-m", "sitq", "worker", db, "--concurrency", str(n),
                             "--path", HERE, "--quiet"], env=env, stdin=subprocess.DEVNULL)


def _stop_workers(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # graceful: running tasks finish
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait(queue, ids, chain, t0, quiet, workers):
    """Wait until every task is finished, printing progress lines on stderr;
    PipelineError if the worker processes end first."""
    names = ["validate", "clean", "enrich", "aggregate_states"]
    last = None
    while True:
        stats = queue.get_stats()
        done = stats["succeeded"] + stats["failed"] + stats["cancelled"]
        stage = next((n for n, i in zip(names, chain)
                      if queue.get_task_status(i) != "succeeded"), "done")
        line = ("[%6.1fs] tasks %d/%d succeeded, %d running, %d waiting, %d queued, "
                "%d failed; chain: %s" % (time.monotonic() - t0, stats["succeeded"], len(ids),
                                          stats["running"], stats["waiting"], stats["queued"],
                                          stats["failed"], stage))
        if not quiet and line[9:] != last:
            print(line, file=sys.stderr, flush=True)
            last = line[9:]
        if done >= len(ids):
            return stats
        if workers.poll() is not None:
            raise PipelineError("the workers (python -m sitq worker) exited with status %s "
                                "before the tasks were done" % workers.returncode)
        try:
            queue.get_result(ids[-1], timeout=0.5)
            queue.get_result(chain[-1], timeout=0.01)
        except TimeoutError:
            pass


def _print_summary(a, load, chain, stats, times, elapsed, workers):
    v, c, e, s = chain
    print("sitq flights pipeline (Python, pandas) - done")
    print("  input             %s" % a.data)
    print("  rows in           %d (%d bad) in %d chunks, %d task processes"
          % (load["rows"], load["bad"], load["chunks"], workers))
    print("  ETL fan-out       %d transform_chunk tasks: %.2f s wall (%.2f s of task time), "
          "aggregate %.3f s, load %.3f s" % (load["chunks"], times["chunks_wall"],
                                             times["chunks_cpu"], times["aggregate"],
                                             times["load"]))
    print("  chain             validate %.2f s -> clean %.2f s -> enrich %.2f s -> "
          "aggregate %.2f s" % tuple(times["chain"]))
    print("  duplicates        %d dropped; outliers %d flagged (|delay| > %d min)"
          % (c["duplicates"], c["outliers"], a.outlier_minutes))
    print("  unmatched codes   %d origin, %d destination rows; %d states"
          % (e["unmatched_origin"], e["unmatched_destination"], s["states"]))
    print("  tasks             %d succeeded, %d failed; elapsed %.2f s"
          % (stats["succeeded"], stats["failed"], elapsed))
    print()
    print("%d flights, mean delay %.2f min, from %d airports over %d days."
          % (load["flights"], load["mean_delay"], load["origins"], load["days"]))
    print("Worst mean delay (airports with >= %d flights):" % load["min_flights"])
    for r in load["worst_origins"]:
        place = ", ".join(x for x in (r["city"], r["state"]) if x) or "unknown airport"
        print("  %-4s %-34s %7d flights  mean %6.2f min  late %5.1f%%"
              % (r["origin"], place[:34], r["flights"], r["mean_delay"], r["late_pct"]))
    print("Per day:")
    print("  day         flights  mean delay  late (>= %d min)  worst" % LATE_MINUTES)
    counts = sorted(r["flights"] for r in load["by_day"])
    median = counts[len(counts) // 2] if counts else 0
    for r in load["by_day"]:
        # a day with under half the median day's flights is where the data ends
        partial = "  partial day" if 2 * r["flights"] < median else ""
        print("  %s %8d  %7.2f min  %14.1f%%  %5d min%s"
              % (r["day"], r["flights"], r["mean_delay"], r["late_pct"], r["max_delay"],
                 partial))
    print("Busiest origin states: %s" % ", ".join(
        "%s %d" % (t["state"], t["flights"]) for t in s["top"]))
    print("Outputs: %s/{by_origin,by_day,by_state,cleaned,enriched}.csv, summary.json"
          % a.out)


def _slots(spans):
    """Pack (start, end) spans into the fewest lanes where none overlap
    (greedy by start time): the task processes a worker ran them on, as far
    as the recorded times tell."""
    lanes = []  # [end of the lane's last span, [spans]]
    for sp in sorted(spans):
        free = [lane for lane in lanes if lane[0] <= sp[0]]
        lane = min(free, key=lambda x: x[0]) if free else None
        if lane is None:
            lane = [sp[1], []]
            lanes.append(lane)
        lane[0] = sp[1]
        lane[1].append(sp)
    return [lane[1] for lane in lanes]


def timeline(chunk_results, width=60, processes=None, others=()):
    """Text lines: for each worker, a lane per concurrently running chunk
    task, '#' where a chunk ran on an axis from the first start to the last
    end, and the chunks of each lane. With processes (task processes per
    worker) and others ((name, result) of the other tasks), a worker with
    fewer lanes than processes gets a line naming the other tasks it ran
    meanwhile, which is what kept those processes from the chunks."""
    runs = [(r.worker_id or "?", r.started_at.timestamp(), r.finished_at.timestamp())
            for r in chunk_results if r.started_at and r.finished_at]
    if not runs:
        return []
    t0, t1 = min(x[1] for x in runs), max(x[2] for x in runs)
    total = max(t1 - t0, 1e-6)
    lines = ["Chunk tasks per worker slot (# = running), %.2f s from the first start to the "
             "last end:" % total]
    for worker in sorted({x[0] for x in runs}):
        for k, lane in enumerate(_slots([(a, b) for w, a, b in runs if w == worker])):
            cells = [" "] * width
            for a, b in lane:
                lo = min(int((a - t0) / total * width), width - 1)
                hi = min(max(int((b - t0) / total * width), lo + 1), width)
                cells[lo:hi] = "#" * (hi - lo)
            lines.append("  %s slot %d |%s| %d chunks" % (worker, k + 1, "".join(cells),
                                                          len(lane)))
        idle = (processes or 0) - len(_slots([(a, b) for w, a, b in runs if w == worker]))
        if idle > 0:
            during = [name for name, r in others
                      if (r.worker_id or "?") == worker and r.started_at and r.finished_at
                      and r.started_at.timestamp() < t1 and r.finished_at.timestamp() > t0]
            lines.append("  %s: %d of its %d task processes ran no chunk%s"
                         % (worker, idle, processes,
                            "; it ran %s meanwhile" % ", ".join(during) if during else ""))
    return lines


def timeline_png(chunk_results, path):
    """Draw the timeline as a PNG with matplotlib; returns False (and draws
    nothing) when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    runs = [(r.worker_id or "?", r.started_at.timestamp(), r.finished_at.timestamp())
            for r in chunk_results if r.started_at and r.finished_at]
    t0 = min(x[1] for x in runs)
    rows = []
    for worker in sorted({x[0] for x in runs}):
        for k, lane in enumerate(_slots([(a, b) for w, a, b in runs if w == worker])):
            rows.append(("%s slot %d" % (worker, k + 1), lane))
    fig, ax = plt.subplots(figsize=(10, 1 + 0.4 * len(rows)))
    for y, (_, lane) in enumerate(rows):
        ax.broken_barh([(a - t0, b - a) for a, b in lane], (y - 0.4, 0.8))
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_xlabel("seconds since the first chunk started")
    ax.set_title("transform_chunk tasks per worker slot")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _failures(queue):
    lines = []
    for t in sorted(queue.list_tasks(status="failed", limit=1000), key=lambda t: t["id"]):
        lines.append("  task %d %s failed after %d attempt(s): %s"
                     % (t["id"], t["function"].rsplit(".", 1)[-1], t["attempts"], t["error"]))
    return lines


def run(argv=None):
    """The main job; returns the exit status (0 ok, 1 runtime error or failed task)."""
    a = _options(argv)
    import sitq
    import flights_pipeline as fp  # the workers import the tasks by this module path
    t0 = time.monotonic()
    header, chunks = split_records(read_bytes(a.data), a.chunks)
    read_airports(a.airports)  # a missing or broken table fails here, before any task
    on_pg = a.db.startswith(("postgresql://", "postgres://"))
    try:
        os.makedirs(a.out, exist_ok=True)
        if not on_pg:
            os.makedirs(os.path.dirname(os.path.abspath(a.db)), exist_ok=True)
    except OSError as e:
        raise PipelineError("cannot create %s: %s" % (e.filename, e.strerror)) from None
    if on_pg:
        queue = sitq.TaskQueue(backend=sitq.PostgresBackend(a.db))
        if queue.get_stats()["total"]:
            raise PipelineError("the queue of %s already holds tasks: give a schema of "
                                "its own (?sitq_schema=NAME)" % queue.backend.path)
    else:
        _remove_db(a.db)
        queue = sitq.TaskQueue(backend=sitq.SQLiteBackend(a.db))
    out, data, airports = os.path.abspath(a.out), os.path.abspath(a.data), \
        os.path.abspath(a.airports)
    v = sitq.Task(fp.validate, args=[data, out], max_retries=1)
    c = sitq.Task(fp.clean, args=[sitq.result_of(v), out, a.outlier_minutes], max_retries=1)
    e = sitq.Task(fp.enrich, args=[sitq.result_of(c), airports, out], max_retries=1)
    s = sitq.Task(fp.aggregate_states, args=[sitq.result_of(e), out], max_retries=1)
    parts = [sitq.Task(fp.transform_chunk, args=[chunk, i, i == a.fail_chunk], max_retries=2,
                       retry_backoff=0.1, retry_backoff_max=1.0)
             for i, chunk in enumerate(chunks)]
    agg = sitq.Task(fp.aggregate_partials, args=[[sitq.result_of(p) for p in parts]],
                    max_retries=1)
    load = sitq.Task(fp.load_reports, args=[sitq.result_of(agg), airports, out, a.min_flights],
                     max_retries=1)
    ids = queue.enqueue_batch([v, c, e, s] + parts + [agg, load])
    chain, part_ids = ids[:4], ids[4:-2]
    if not a.quiet:
        print("extract: %d chunks of %s; enqueued %d tasks in one batch in %.2f s"
              % (len(chunks), a.data, len(ids), time.monotonic() - t0), file=sys.stderr)
    workers = _start_workers(sitq, a.db, a.workers)
    try:
        stats = _wait(queue, ids, chain, t0, a.quiet, workers)
    finally:
        _stop_workers(workers)
    elapsed = time.monotonic() - t0
    failed = _failures(queue)
    if failed:
        print("flights_pipeline.py: error: %d of %d tasks failed:" % (len(failed), len(ids)),
              file=sys.stderr)
        print("\n".join(failed), file=sys.stderr)
        return 1
    results = [queue.get_result(i) for i in ids]
    chunk_res = results[4:-2]
    times = {"chunks_wall": (max(r.finished_at for r in chunk_res)
                             - min(r.started_at for r in chunk_res)).total_seconds(),
             "chunks_cpu": sum(r.duration for r in chunk_res),
             "aggregate": results[-2].duration, "load": results[-1].duration,
             "chain": [r.duration for r in results[:4]]}
    load_v = results[-1].value
    chain_v = [r.value for r in results[:4]]
    _print_summary(a, load_v, chain_v, stats, times, elapsed, a.workers)
    print()
    print("\n".join(timeline(chunk_res, processes=a.workers,
                              others=list(zip(("validate", "clean", "enrich", "aggregate_states"),
                                              results[:4])))))
    png = os.path.join(out, "timeline.png")
    if timeline_png(chunk_res, png):
        print("Timeline chart: %s" % png)
    summary = {k: load_v[k] for k in ("rows", "bad", "chunks", "flights", "mean_delay",
                                      "origins", "days", "min_flights", "worst_origins")}
    summary.update({"duplicates": chain_v[1]["duplicates"], "outliers": chain_v[1]["outliers"],
                    "rows_out": chain_v[1]["rows"], "states": chain_v[3]["states"],
                    "unmatched_origin": chain_v[2]["unmatched_origin"],
                    "unmatched_destination": chain_v[2]["unmatched_destination"],
                    "tasks": len(ids), "chunk_task_ids": part_ids,
                    "worker_processes": a.workers, "elapsed_s": elapsed})
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=float)
    return 0


def main(argv=None):
    """Command line entry: run() with one-line errors (exit 1)."""
    import sitq
    try:
        return run(argv)
    except (PipelineError, sitq.SitqError) as e:
        print("flights_pipeline.py: error: %s" % e, file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, as a
        # shell tool killed by SIGPIPE does; stdout points at /dev/null so
        # that the interpreter's own flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
