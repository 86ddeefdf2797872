"""Run the six code blocks of the user's document (examples/python/0*.py)
in order, in ONE namespace, in the current directory - as a reader pasting
them into one interpreter would (block 2 uses List/Dict imported by block
1) - and write what they produced as JSON to the file named by argv[1].

Usage: python3 run_document.py OUT.json [EXAMPLES_DIR]
Used by test_document.py, which runs it in a temporary directory.

With SITQ_TEST_BACKEND=postgres (under tests/pg/with_pg.sh, ctest
pg.document) the blocks run unchanged on PostgreSQL: sitq.SQLiteBackend is
replaced, for this interpreter only, by a function that opens each database
path the document names as its own fresh schema of SITQ_TEST_PG_URI (the
same path twice: the same schema), keeps connection_pool_size and drops the
options that only a SQLite file has. The report lists the paths so opened.
"""
import contextlib
import io
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "python")


class Tee(io.TextIOBase):
    """Capture stdout while still showing it (thread-safe enough for print)."""

    def __init__(self, real):
        self.real = real
        self.buf = io.StringIO()

    def write(self, s):
        self.buf.write(s)
        self.real.write(s)
        return len(s)

    def flush(self):
        self.real.flush()


def use_postgres(report):
    """Make sitq.SQLiteBackend(path, ...) open a PostgreSQL schema per path."""
    import uuid

    import sitq

    uri = os.environ["SITQ_TEST_PG_URI"]
    run = uuid.uuid4().hex[:8]
    schemas = {}

    def backend(path, connection_pool_size=None, **sqlite_only_options):
        name = os.path.basename(os.fspath(path))
        if name not in schemas:
            stem = "".join(c if c.isalnum() else "_" for c in name.lower())
            schemas[name] = "doc_%s_%s" % (run, stem)
            report["opened"].append({"path": name, "schema": schemas[name]})
        kw = {} if connection_pool_size is None else {"connection_pool_size": connection_pool_size}
        return sitq.PostgresBackend(uri, schema=schemas[name], **kw)

    sitq.SQLiteBackend = backend


def main():
    out_path = sys.argv[1]
    examples = sys.argv[2] if len(sys.argv) > 2 else EXAMPLES
    files = sorted(f for f in os.listdir(examples) if f[:2].isdigit() and f.endswith(".py"))
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    report = {"blocks": [], "backend": "sqlite", "opened": []}
    if os.environ.get("SITQ_TEST_BACKEND") == "postgres":
        report["backend"] = "postgres"
        use_postgres(report)
    for name in files:
        src = open(os.path.join(examples, name)).read()
        tee = Tee(sys.stdout)
        t0 = time.monotonic()
        error = None
        with contextlib.redirect_stdout(tee):
            try:
                exec(compile(src, name, "exec"), ns)
            except BaseException as e:  # report, keep going
                import traceback
                error = "".join(traceback.format_exception(e))
        elapsed = time.monotonic() - t0
        block = {"file": name, "seconds": elapsed, "stdout": tee.buf.getvalue(), "error": error}
        # values the document implies, read right after each block
        try:
            if name.startswith("01"):
                block["result"] = ns["result"]
            elif name.startswith("02"):
                block["processed"] = len(ns["processed_data"])
                block["elapsed"] = ns["end_time"] - ns["start_time"]
                block["ids"] = sorted({r["id"] for r in ns["processed_data"]}) == list(range(1000))
                block["chunks"] = sorted({r["chunk_id"] for r in ns["processed_data"]})
            elif name.startswith("03"):
                r = ns["result"]
                block["valid"] = r["validation"]["valid_count"]
                block["invalid"] = r["validation"]["invalid_count"]
                block["cleaned"] = r["cleaning"]["records_processed"]
                block["enriched"] = r["enrichment"]["records_processed"]
                block["aggregated"] = r["aggregation"]["total_records"]
            elif name.startswith("05"):
                block["passed_all"] = ns["quality_result"]["passed_all"]
                block["overall_score"] = ns["report"]["latest_check"]["overall_score"]
            elif name.startswith("06") and error is None:
                # The block only defines the class: construct it (the backend
                # options must be accepted) and run it with the chunk function
                # of the parallel processor of block 2.
                cls = ns["OptimizedProcessor"]
                cls.process_chunk = ns["ParallelDataProcessor"].process_chunk
                with contextlib.redirect_stdout(tee):
                    opt = cls()
                    t1 = time.monotonic()
                    res = opt.process_large_dataset(
                        ns["ParallelDataProcessor"].generate_sample_data(None, 3000))
                block["optimized_chunks"] = [r["processed_count"] for r in res]
                block["optimized_seconds"] = time.monotonic() - t1
                block["stdout"] = tee.buf.getvalue()
        except BaseException as e:
            block["check_error"] = "%s: %s" % (type(e).__name__, e)
        report["blocks"].append(block)
        with open(out_path, "w") as f:
            json.dump(report, f, indent=1, default=repr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
