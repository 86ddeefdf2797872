"""The registry of workers, as :meth:`sitq.TaskQueue.workers` returns it.

Every started worker (``sitq.Worker``, ``python -m sitq worker``, the
``sitq worker`` command, a C program's worker) keeps a row in its store:
written by its first cycle, renewed with its heartbeat and marked stopped
by a clean stop. A worker that stops renewing it (killed, hung, cut off) is
shown ``"dead"`` once its lease has passed; rows of workers stopped or dead
for a day are deleted by the running workers.
"""

import dataclasses
import datetime
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """One worker of the registry (read-only; a snapshot at the call).

    Counts are as of the worker's last heartbeat (by default at most a
    second old, and final once it stopped). Times are timezone-aware UTC
    datetimes.
    """

    id: str
    """The worker's id (``Worker.worker_id``)."""
    state: str
    """``"running"``, ``"stopped"`` (stopped cleanly) or ``"dead"`` (no
    heartbeat past its lease)."""
    host: str
    """Host name of the worker's process ("" when unknown)."""
    pid: int
    """Process id on that host (0 when unknown)."""
    queues: Tuple[str, ...]
    """The queues it serves, in its order."""
    functions: Tuple[str, ...]
    """Its handlers' names (prefix handlers end with ``*``)."""
    concurrency: int
    """Its handler threads."""
    started_at: Optional[datetime.datetime]
    """When it started (its host's clock)."""
    heartbeat_at: Optional[datetime.datetime]
    """When it last renewed its row."""
    lease_until: Optional[datetime.datetime]
    """Its row counts as live until then (the store's clock)."""
    stopped_at: Optional[datetime.datetime]
    """When it stopped cleanly; None unless ``state == "stopped"``."""
    succeeded: int
    """Attempts that succeeded."""
    failed: int
    """Attempts that failed (timeouts included)."""
    lost: int
    """Outcomes dropped because its lease was lost."""
    running: Tuple[int, ...]
    """Ids of the tasks it runs now (started), read from the tasks."""
    held: int
    """Tasks its claims hold: the running ones plus those claimed ahead."""
