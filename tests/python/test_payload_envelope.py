"""A stored payload that is not one of the binding's pickles fails its task
with a message saying so, before pickle.loads sees it."""
import sqlite3

import pytest

import sitq
import sitq_test_tasks as tasks
from sitq_test_backend import ON_PG

# SQLite by nature: skipped when the suite runs on PostgreSQL.
pytestmark = pytest.mark.skipif(
    ON_PG, reason="writes a payload into the SQLite file directly")


def _replace_payload(db_path, make):
    """Replace the one stored pickle (wherever the schema keeps it) by make(old)."""
    con = sqlite3.connect(db_path)
    replaced = 0
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sitq%'")]
    for t in tables:
        for col in [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]:
            try:
                rows = con.execute(
                    f'SELECT rowid, "{col}" FROM "{t}" WHERE typeof("{col}") = \'blob\' '
                    f'AND substr("{col}", 1, 1) = x\'80\'').fetchall()
            except sqlite3.OperationalError:  # a WITHOUT ROWID table: no payloads there
                break
            for rowid, old in rows:
                con.execute(f'UPDATE "{t}" SET "{col}" = ? WHERE rowid = ?', (make(old), rowid))
                replaced += 1
    con.commit()
    con.close()
    assert replaced == 1


@pytest.mark.parametrize("make, why", [
    (lambda old: b"#!/bin/sh\necho not a pickle\n", "not a pickle"),
    (lambda old: old[:-1], "truncated"),
    (lambda old: b"\x80\x09" + old[2:], "protocol 9 is not supported"),
])
def test_foreign_payload_fails_with_a_clear_message(db_path, queue, make, why):
    tid = queue.enqueue(tasks.add, 1, 2)
    _replace_payload(db_path, make)
    r = sitq.Worker(queue).process_task(tid)
    assert r.status == "failed"
    assert "was not enqueued by the sitq Python binding" in r.error
    assert why in r.error
