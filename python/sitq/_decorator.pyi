# Type stubs of sitq._decorator (python/sitq/_decorator.py): @queue.task.
from typing import Any, Callable, Dict, FrozenSet, Generic, Iterable, List, Mapping, Optional, Tuple, TypeVar, ParamSpec



from ._sitq import Task, TaskQueue

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")

OPTIONS: FrozenSet[str]

def check_options(options: Mapping[str, Any], where: str) -> None: ...
def run_chunk(function: Callable[[Any], _T], items: Iterable[Any]) -> List[_T]: ...

class TaskFunction(Generic[_P, _R]):
    queue: TaskQueue
    function: Callable[_P, _R]
    options: Dict[str, Any]
    def __init__(self, queue: TaskQueue, function: Callable[_P, _R], options: Mapping[str, Any]) -> None: ...
    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R: ...
    def to_task(
        self,
        args: Iterable[Any] = ...,
        kwargs: Optional[Dict[str, Any]] = ...,
        depends_on: Optional[Iterable[int]] = ...,
        **options: Any,
    ) -> Task: ...
    def enqueue(
        self,
        args: Iterable[Any] = ...,
        kwargs: Optional[Dict[str, Any]] = ...,
        depends_on: Optional[Iterable[int]] = ...,
        **options: Any,
    ) -> int: ...
    def delay(self, *args: _P.args, **kwargs: _P.kwargs) -> int: ...
    def map(self, iterable: Iterable[Any], chunksize: int = ...) -> List[int]: ...

def task_decorator(queue: TaskQueue, function: Optional[Callable[..., Any]] = ..., /, **options: Any) -> Any: ...
