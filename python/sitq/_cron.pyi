# Type stubs of sitq._cron (python/sitq/_cron.py): sitq.cron_next.
import datetime
from typing import Optional, Union, overload

@overload
def cron_next(expr: str, after: datetime.datetime,
              timezone: Optional[str] = ...) -> datetime.datetime: ...
@overload
def cron_next(expr: str, after: Union[int, float], timezone: Optional[str] = ...) -> int: ...
