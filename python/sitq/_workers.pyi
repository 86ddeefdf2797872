import datetime
from typing import Optional, Tuple

class WorkerInfo:
    id: str
    state: str
    host: str
    pid: int
    queues: Tuple[str, ...]
    functions: Tuple[str, ...]
    concurrency: int
    started_at: Optional[datetime.datetime]
    heartbeat_at: Optional[datetime.datetime]
    lease_until: Optional[datetime.datetime]
    stopped_at: Optional[datetime.datetime]
    succeeded: int
    failed: int
    lost: int
    running: Tuple[int, ...]
    held: int
    def __init__(
        self,
        id: str,
        state: str,
        host: str,
        pid: int,
        queues: Tuple[str, ...],
        functions: Tuple[str, ...],
        concurrency: int,
        started_at: Optional[datetime.datetime],
        heartbeat_at: Optional[datetime.datetime],
        lease_until: Optional[datetime.datetime],
        stopped_at: Optional[datetime.datetime],
        succeeded: int,
        failed: int,
        lost: int,
        running: Tuple[int, ...],
        held: int,
    ) -> None: ...
