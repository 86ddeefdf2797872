"""Which backend the Python tests run on, for the tests and for the scripts
they start in other processes (this directory is on their sys.path).

SITQ_TEST_BACKEND=postgres (under tests/pg/with_pg.sh, which sets
SITQ_TEST_PG_URI) runs them on PostgreSQL: a test's database is then a URI
of a fresh schema of that cluster, named by the URI's sitq_schema parameter,
so that one string names it in this process, in `python -m sitq worker` and
in the `sitq` command alike. Otherwise a database is a SQLite file.
"""
import os
import uuid

import sitq

ON_PG = os.environ.get("SITQ_TEST_BACKEND") == "postgres"


def fresh_target(tmp_path, name="test.db"):
    """A new, empty database: a file path in tmp_path, or a URI of a schema
    that does not exist yet."""
    if not ON_PG:
        return str(tmp_path / name)
    uri = os.environ["SITQ_TEST_PG_URI"]
    schema = "py_" + uuid.uuid4().hex[:16]
    return uri + ("&" if "?" in uri else "?") + "sitq_schema=" + schema


def open_backend(target, **sqlite_options):
    """Open target (a path or a postgresql:// URI); sqlite_options apply to
    SQLite files only."""
    if target.startswith(("postgresql://", "postgres://")):
        return sitq.PostgresBackend(target)
    return sitq.SQLiteBackend(target, **sqlite_options)
