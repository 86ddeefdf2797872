# Type stubs of the sitq package (python/sitq/__init__.py): the public API,
# re-exported from the extension (_sitq.pyi) and sitq.errors (errors.pyi).
from typing import Tuple

from . import errors as errors
from ._cron import cron_next as cron_next
from ._decorator import TaskFunction as TaskFunction
from ._executor import Executor as Executor, Future as Future
from ._result_of import result_of as result_of
from ._workers import WorkerInfo as WorkerInfo
from ._sitq import (
    LIBSITQ_VERSION as LIBSITQ_VERSION,
    PostgresBackend as PostgresBackend,
    Result as Result,
    SQLiteBackend as SQLiteBackend,
    Task as Task,
    TaskContext as TaskContext,
    TaskQueue as TaskQueue,
    Worker as Worker,
    current_task as current_task,
    function_name as function_name,
    held_functions as held_functions,
    status_names as status_names,
)
from .errors import (
    DatabaseBusyError as DatabaseBusyError,
    DependencyError as DependencyError,
    InvalidArgumentError as InvalidArgumentError,
    InvalidStateError as InvalidStateError,
    LeaseLostError as LeaseLostError,
    NoHandlerError as NoHandlerError,
    SchemaError as SchemaError,
    SerializationError as SerializationError,
    SitqError as SitqError,
    SitqSystemError as SitqSystemError,
    StorageError as StorageError,
    TaskFailedError as TaskFailedError,
    Retry as Retry,
    NoRetry as NoRetry,
    TaskNotFoundError as TaskNotFoundError,
    TaskNotReadyError as TaskNotReadyError,
    TaskTimeoutError as TaskTimeoutError,
)

__version__: str
STATUSES: Tuple[str, ...]
__all__: list[str]
