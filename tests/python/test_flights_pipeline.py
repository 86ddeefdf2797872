"""The Python main job (examples/python/flights_pipeline.py) on the bundled data.

The job runs once, as a user runs it (one command that starts and stops its
own worker processes), into a temporary directory; its figures are then
checked against an independent pandas computation on the same CSV files:
plain read_csv with inferred types, groupby, duplicated, merge. Also its
error paths: bad options, missing or malformed input, a failing chunk.
"""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import subprocess_env
from sitq_test_backend import fresh_target

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(ROOT, "examples", "python", "flights_pipeline.py")
FLIGHTS = os.path.join(ROOT, "data", "flights-200k.csv.gz")
AIRPORTS = os.path.join(ROOT, "data", "airports.csv.gz")


def run_job(tmp_path, *args, name="job"):
    out = tmp_path / (name + "-out")
    db = fresh_target(tmp_path, name + ".db")
    proc = subprocess.run([sys.executable, SCRIPT, "--db", db, "--out", str(out), *args],
                          env=subprocess_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=600)
    return proc, out


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flights")
    proc, out = run_job(tmp, "--chunks", "7", "--workers", "2", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, out


@pytest.fixture(scope="module")
def flights():
    return pd.read_csv(FLIGHTS)


@pytest.fixture(scope="module")
def airports():
    return pd.read_csv(AIRPORTS, keep_default_na=False)


def expected_groups(df, key):
    g = df.groupby(key)["delay"]
    return pd.DataFrame({"flights": g.count(), "mean_delay": g.mean(), "min_delay": g.min(),
                         "max_delay": g.max(),
                         "late": (df["delay"] >= 15).groupby(df[key]).sum()})


def assert_frames_match(got, want, key):
    got = got.set_index(key).sort_index()
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    for col in ("flights", "min_delay", "max_delay", "late"):
        assert (got[col].to_numpy() == want[col].to_numpy()).all(), col
    assert ((got["mean_delay"] - want["mean_delay"]).abs()
            <= 1e-9 * want["mean_delay"].abs().clip(lower=1)).all()
    assert ((got["late_pct"] - 100.0 * want["late"] / want["flights"]).abs() <= 1e-9).all()


def test_per_airport_aggregates_match_pandas(job, flights, airports):
    _, out = job
    got = pd.read_csv(out / "by_origin.csv", keep_default_na=False)
    want = expected_groups(flights, "origin")
    assert len(got) == 223
    assert_frames_match(got, want, "origin")
    names = airports.set_index("iata")
    for row in got.itertuples():
        if row.origin in names.index:
            assert (row.name, row.city, row.state) == tuple(names.loc[row.origin,
                                                                      ["name", "city", "state"]])
        else:
            assert (row.name, row.city, row.state) == ("", "", "")


def test_per_day_aggregates_match_pandas(job, flights):
    _, out = job
    got = pd.read_csv(out / "by_day.csv", dtype={"day": str})
    want = expected_groups(flights.assign(day=flights["date"].str.slice(0, 10)), "day")
    assert len(got) == 13 and got["flights"].sum() == 200000
    assert_frames_match(got, want, "day")


def test_summary_worst_airports_and_totals(job, flights, airports):
    proc, out = job
    summary = json.loads((out / "summary.json").read_text())
    counts = flights.groupby("origin")["delay"].agg(["count", "mean"])
    busy = counts[counts["count"] >= 1000].reset_index()
    worst = busy.sort_values(["mean", "origin"], ascending=[False, True]).head(5)
    assert [w["origin"] for w in summary["worst_origins"]] == list(worst["origin"])
    for w, (_, e) in zip(summary["worst_origins"], worst.iterrows()):
        assert w["flights"] == e["count"]
        assert abs(w["mean_delay"] - e["mean"]) <= 1e-9 * abs(e["mean"])
        # what the job prints about it
        line = next(x for x in proc.stdout.splitlines() if x.startswith("  %s " % e["origin"]))
        assert "%d flights" % e["count"] in line and "mean %6.2f min" % e["mean"] in line
    assert summary["rows"] == 200000 and summary["bad"] == 0 and summary["chunks"] == 7
    assert summary["flights"] == len(flights)
    assert abs(summary["mean_delay"] - flights["delay"].mean()) <= 1e-9
    assert summary["origins"] == flights["origin"].nunique() and summary["days"] == 13
    assert "200000 flights, mean delay %.2f min" % flights["delay"].mean() in proc.stdout
    per_day = flights.groupby(flights["date"].str.slice(0, 10))["delay"].agg(["count", "mean"])
    for day, row in per_day.iterrows():
        assert any(x.startswith("  %s %8d  %7.2f min" % (day, row["count"], row["mean"]))
                   for x in proc.stdout.splitlines()), day


def test_only_the_short_last_day_is_marked_partial(job, flights):
    proc, _ = job
    marked = [x.split()[0] for x in proc.stdout.splitlines() if x.endswith("  partial day")]
    per_day = flights.groupby(flights["date"].str.slice(0, 10)).size()
    median = sorted(per_day)[len(per_day) // 2]
    assert marked == [d for d, n in per_day.items() if 2 * n < median] == ["2001-01-13"]


def test_timeline_lanes_hold_every_chunk(job):
    proc, out = job
    lines = proc.stdout.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("Chunk tasks per worker slot"))
    lanes = [x for x in lines[start + 1:] if " slot " in x and x.endswith(" chunks")]
    assert 1 <= len(lanes) <= 2  # 2 task processes
    assert sum(int(x.split("| ")[-1].split()[0]) for x in lanes) == 7
    assert all(len(x.split("|")[1]) == 60 and "#" in x.split("|")[1] for x in lanes)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    png = out / "timeline.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Timeline chart: %s" % png in proc.stdout


def test_slots_pack_overlapping_spans_apart():
    sys.path.insert(0, os.path.dirname(SCRIPT))
    import flights_pipeline as fp
    assert fp._slots([(0, 2), (1, 3), (2, 4), (3, 5)]) == [[(0, 2), (2, 4)], [(1, 3), (3, 5)]]
    assert fp._slots([(0, 1), (0, 1), (0, 1)]) == [[(0, 1)], [(0, 1)], [(0, 1)]]
    assert fp._slots([]) == []


def test_timeline_names_what_kept_a_process_from_the_chunks():
    import datetime
    import types
    sys.path.insert(0, os.path.dirname(SCRIPT))
    import flights_pipeline as fp

    def run(worker, a, b):
        at = datetime.datetime.fromtimestamp
        return types.SimpleNamespace(worker_id=worker, started_at=at(a), finished_at=at(b))
    chunks = [run("w1", 100, 101), run("w1", 100, 102), run("w1", 101, 103)]
    others = [("validate", run("w1", 99, 102.5)), ("clean", run("w1", 103.5, 104)),
              ("enrich", run("w2", 100, 101))]
    lines = fp.timeline(chunks, processes=3, others=others)
    assert len([x for x in lines if x.startswith("  w1 slot ")]) == 2
    assert lines[-1] == "  w1: 1 of its 3 task processes ran no chunk; it ran validate meanwhile"
    assert fp.timeline(chunks, processes=2, others=others)[-1].endswith("| 1 chunks")
    assert fp.timeline(chunks, processes=4)[-1] == "  w1: 2 of its 4 task processes ran no chunk"
    assert fp.timeline(chunks)[-1].endswith("| 1 chunks")


def test_chain_outputs_match_pandas(job, flights, airports):
    _, out = job
    summary = json.loads((out / "summary.json").read_text())
    distinct = flights.drop_duplicates()
    assert summary["duplicates"] == int(flights.duplicated().sum()) == 14
    assert summary["rows_out"] == len(distinct)
    assert summary["outliers"] == int((distinct["delay"].abs() > 300).sum()) == 171
    cleaned = pd.read_csv(out / "cleaned.csv")
    assert len(cleaned) == len(distinct)
    assert (cleaned[["date", "delay", "distance", "origin", "destination"]].to_numpy()
            == distinct.to_numpy()).all()
    assert (cleaned["outlier"].to_numpy() == (distinct["delay"].abs() > 300).to_numpy()).all()
    enriched = pd.read_csv(out / "enriched.csv", keep_default_na=False)
    states = airports.set_index("iata")["state"]
    assert list(enriched["origin_state"]) == list(distinct["origin"].map(states).fillna(""))
    assert list(enriched["destination_state"]) == list(
        distinct["destination"].map(states).fillna(""))
    by_state = pd.read_csv(out / "by_state.csv", keep_default_na=False).set_index("state")
    want = distinct.assign(state=distinct["origin"].map(states).fillna("(unmatched)"))
    want = want.groupby("state")["delay"].agg(["count", "mean", "min", "max"])
    assert list(by_state.index) == list(want.index) and summary["states"] == len(want) == 51
    assert (by_state["flights"] == want["count"]).all()
    assert ((by_state["mean_delay"] - want["mean"]).abs() <= 1e-9 * want["mean"].abs()).all()


def test_bad_rows_are_counted_and_skipped(tmp_path):
    rows = ["date,delay,distance,origin,destination",
            "2001-01-01 00:01:00,33,2176,LAS,PHL",
            "2001-01-01 00:01:00,33,2176,LAS,PHL",       # duplicate
            "2001-01-02 10:05,-4,215,ATL,SAV",           # HH:MM
            "2001-02-30 10:00:00,5,100,ATL,SAV",         # no such day
            "2001/01/02 10:00:00,5,100,ATL,SAV",         # not the date format
            "2001-01-02 10:00:00,x,100,ATL,SAV",         # delay not an integer
            "2001-01-02 10:00:00,5,-100,ATL,SAV",        # negative distance
            "2001-01-02 10:00:00,5,100,atl,SAV",         # code not upper-case
            "2001-01-02 10:00:00,5,100,ATL",             # too few fields
            "2001-01-02 10:00:00,5,100,ATL,SAV,X",       # too many
            "2001-01-03 23:59:59,400,100,ZZZ9,ATL"]      # unknown airport, outlier
    data = tmp_path / "small.csv"
    data.write_text("\n".join(rows) + "\n")
    proc, out = run_job(tmp_path, "--data", str(data), "--chunks", "3", "--workers", "1",
                        "--min-flights", "1", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rows"], summary["bad"], summary["flights"]) == (11, 7, 4)
    assert (summary["duplicates"], summary["outliers"], summary["rows_out"]) == (1, 1, 3)
    assert summary["unmatched_origin"] == 1 and summary["unmatched_destination"] == 0
    by_day = pd.read_csv(out / "by_day.csv", dtype={"day": str})
    assert list(by_day["day"]) == ["2001-01-01", "2001-01-02", "2001-01-03"]
    assert list(by_day["flights"]) == [2, 1, 1] and list(by_day["mean_delay"]) == [33, -4, 400]
    assert [w["origin"] for w in summary["worst_origins"]] == ["ZZZ9", "LAS", "ATL"]
    by_state = pd.read_csv(out / "by_state.csv", keep_default_na=False)
    assert list(by_state["state"]) == ["(unmatched)", "GA", "NV"]


@pytest.mark.parametrize("args, status, message", [
    (["--chunks", "0"], 2, "argument --chunks: must be 1..10000, got 0"),
    (["--workers", "x"], 2, "argument --workers: 'x' is not an integer"),
    (["--data", "/nonexistent/f.csv"], 1, "cannot read /nonexistent/f.csv: No such file"),
    (["--airports", "/nonexistent/a.csv"], 1, "cannot read /nonexistent/a.csv"),
])
def test_bad_options_and_missing_files(tmp_path, args, status, message):
    proc, _ = run_job(tmp_path, *args)
    assert proc.returncode == status, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n", "the header must name the columns date,delay,distance,origin,destination"),
    ("date,delay,distance,origin,destination\n", "no records after the header"),
    ("", "the header must name the columns"),
])
def test_malformed_input_is_one_line_error(tmp_path, content, message):
    data = tmp_path / "in.csv"
    data.write_text(content)
    proc, _ = run_job(tmp_path, "--data", str(data))
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_failing_chunk_fails_its_fan_in_and_the_job(tmp_path):
    proc, out = run_job(tmp_path, "--chunks", "3", "--workers", "1", "--fail-chunk", "1",
                        "--quiet")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert "error: 3 of 9 tasks failed:" in err
    assert "transform_chunk failed after 3 attempt(s): RuntimeError: chunk 1: injected" in err
    assert "aggregate_partials failed after 0 attempt(s): dependency" in err
    assert "load_reports failed after 0 attempt(s): dependency" in err
    assert not (out / "by_origin.csv").exists()
    assert (out / "by_state.csv").exists()  # the independent chain still completed

