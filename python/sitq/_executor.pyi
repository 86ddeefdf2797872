# Type stubs of sitq._executor (python/sitq/_executor.py): sitq.Executor.
import concurrent.futures
import os
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple, TypeVar, Union, ParamSpec



from ._sitq import TaskQueue

_P = ParamSpec("_P")
_T = TypeVar("_T")

def run_star_chunk(function: Callable[..., _T], chunk: Iterable[Tuple[Any, ...]]) -> List[_T]: ...

class Future(concurrent.futures.Future[_T]):
    task_id: int
    def __init__(self, queue: TaskQueue, task_id: int) -> None: ...

class Executor(concurrent.futures.Executor):
    def __init__(
        self,
        queue: Union[TaskQueue, str, "os.PathLike[str]"],
        max_workers: Optional[int] = ...,
        *,
        start_workers: bool = ...,
        threads: int = ...,
        worker_args: Iterable[object] = ...,
        **options: Any,
    ) -> None: ...
    @property
    def queue(self) -> TaskQueue: ...
    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]: ...
    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: Optional[float] = ...,
        chunksize: int = ...,
    ) -> Iterator[_T]: ...
    def shutdown(self, wait: bool = ..., *, cancel_futures: bool = ...) -> None: ...
