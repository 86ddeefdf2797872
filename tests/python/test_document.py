"""The user's document (docs/data-processing.md) runs as written.

Its six code blocks are copied unchanged into examples/python/. They are
run in order in one interpreter and one namespace (a reader pasting them;
block 2 relies on names imported by block 1), in a temporary directory,
by run_document.py in a subprocess. Takes about 2.5 minutes: the stream
processor of block 4 runs for 120 seconds by design. With
SITQ_TEST_BACKEND=postgres (ctest pg.document) the same blocks run on
PostgreSQL, each database path of the document being a schema.
"""
import csv
import json
import os
import subprocess
import sys

import pytest

from sitq_test_backend import ON_PG

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "python"))
DOC = os.path.normpath(os.path.join(HERE, "..", "..", "docs", "data-processing.md"))
OPENED = []  # database paths of the document opened as PostgreSQL schemas


def test_examples_are_the_document_blocks_unchanged():
    import re
    blocks = re.findall(r"```python\n(.*?)```", open(DOC).read(), re.S)
    files = sorted(f for f in os.listdir(EXAMPLES) if f[:2].isdigit() and f.endswith(".py"))
    assert len(blocks) == 6 and len(files) == 6
    for block, name in zip(blocks, files):
        assert open(os.path.join(EXAMPLES, name)).read() == block, name


@pytest.fixture(scope="module")
def document_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("document")
    out = cwd / "report.json"
    # The blocks run in a temporary directory: a relative PYTHONPATH (as in
    # PYTHONPATH=build/python) would no longer find sitq there.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "run_document.py"), str(out), EXAMPLES],
        cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600)
    assert out.exists(), proc.stdout[-5000:]
    report = json.loads(out.read_text())
    assert report["backend"] == ("postgres" if ON_PG else "sqlite")
    OPENED[:] = [o["path"] for o in report["opened"]]
    blocks = {b["file"][:2]: b for b in report["blocks"]}
    for b in report["blocks"]:
        assert b["error"] is None, b["error"]
        assert "check_error" not in b, b["check_error"]
    assert proc.returncode == 0, proc.stdout[-5000:]
    return cwd, blocks


def test_etl_pipeline_loads_100_records(document_run):
    cwd, blocks = document_run
    b = blocks["01"]
    assert b["result"] == {"source_records": 100, "transformed_records": 100,
                           "loaded_records": 100, "destination": "output.csv"}
    with open(cwd / "output.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100
    assert set(rows[0]) == {"id", "doubled_value", "category_upper", "processed_at"}
    assert [int(r["id"]) for r in rows] == list(range(100))
    assert rows[7]["doubled_value"] == "28" and rows[7]["category_upper"] == "CAT_1"
    assert "Pipeline completed: {'source_records': 100" in b["stdout"]


def test_parallel_processor_20_chunks_on_4_workers_in_about_5_seconds(document_run):
    _, blocks = document_run
    b = blocks["02"]
    assert b["processed"] == 1000
    assert b["ids"] is True
    assert b["chunks"] == list(range(20))
    assert "Split into 20 chunks" in b["stdout"]
    assert b["stdout"].count("Processing chunk") == 20
    assert "failed" not in b["stdout"]
    # 20 one-second chunks on 4 single-threaded workers: 5 s, not 20
    assert 4.9 <= b["elapsed"] < 7.5, b["elapsed"]
    assert "Processed 1000 records in" in b["stdout"]


def test_dependent_pipeline(document_run):
    _, blocks = document_run
    b = blocks["03"]
    assert (b["valid"], b["invalid"]) == (110, 5)
    assert b["cleaned"] == b["enriched"] == b["aggregated"] == 110


def test_stream_processor_runs_its_windows_for_120_seconds(document_run):
    _, blocks = document_run
    b = blocks["04"]
    assert "Starting stream processing for 120 seconds..." in b["stdout"]
    assert b["stdout"].count("Window processed:") == 4  # 120 s of 30 s windows
    assert "Stream processing completed" in b["stdout"]
    assert 119 <= b["seconds"] < 135, b["seconds"]
    for line in b["stdout"].splitlines():
        if line.startswith("Window processed:"):
            points = int(line.split()[2])
            # 10 Hz for 30 s; the generator yields its very first point
            # without sleeping, so the first window can hold 301.
            assert 250 <= points <= 301, line


def test_quality_monitor(document_run):
    _, blocks = document_run
    b = blocks["05"]
    assert b["passed_all"] is False
    assert round(b["overall_score"], 2) == 0.94
    assert "Quality check completed: False" in b["stdout"]
    assert "Quality report: Overall score = 0.94" in b["stdout"]


def test_optimized_processor_backend_options_accepted(document_run):
    cwd, blocks = document_run
    b = blocks["06"]
    assert b["optimized_chunks"] == [1000, 1000, 1000]
    if ON_PG:  # run_document.py opened the path as a schema
        assert "optimized_processing.db" in OPENED
    else:
        assert os.path.exists(cwd / "optimized_processing.db")
