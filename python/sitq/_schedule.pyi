# Type stubs of sitq._schedule (python/sitq/_schedule.py): the functions
# behind TaskQueue.schedule, periodic, schedules, unschedule, pause_schedule
# and resume_schedule.
import datetime
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, TypeVar, Union

from ._sitq import TaskQueue

_F = TypeVar("_F", bound=Callable[..., Any])
_Every = Optional[Union[int, float, datetime.timedelta]]

TASK_OPTIONS: FrozenSet[str]

def schedule(queue: TaskQueue, func: Callable[..., Any], cron: Optional[str] = ..., *,
             every: _Every = ..., args: Iterable[Any] = ...,
             kwargs: Optional[Dict[str, Any]] = ..., timezone: Optional[str] = ...,
             name: Optional[str] = ..., catch_up: bool = ..., allow_overlap: bool = ...,
             paused: bool = ..., **options: Any) -> datetime.datetime: ...
def schedules(queue: TaskQueue) -> List[Dict[str, Any]]: ...
def unschedule(queue: TaskQueue, name: str) -> None: ...
def pause_schedule(queue: TaskQueue, name: str) -> None: ...
def resume_schedule(queue: TaskQueue, name: str) -> None: ...
def periodic(queue: TaskQueue, cron: Optional[str] = ..., *, every: _Every = ...,
             name: Optional[str] = ..., timezone: Optional[str] = ...,
             **kwargs: Any) -> Callable[[_F], _F]: ...
