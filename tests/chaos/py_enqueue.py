"""Enqueue N chaos_tasks.record tasks in one batch; print their ids in key order.

    python py_enqueue.py DB N LOG_PATH
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chaos_tasks  # noqa: E402
import sitq  # noqa: E402


def main():
    db, n, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    pg = db.startswith(("postgresql://", "postgres://"))
    backend = sitq.PostgresBackend(db) if pg else sitq.SQLiteBackend(db)
    queue = sitq.TaskQueue(backend=backend)
    ids = queue.enqueue_batch([sitq.Task(chaos_tasks.record, args=[log_path, key])
                               for key in range(n)])
    sys.stdout.write("".join("%d\n" % i for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
