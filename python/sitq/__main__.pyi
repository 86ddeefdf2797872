# Type stubs of sitq.__main__ (python/sitq/__main__.py): `python -m sitq worker`.
from typing import Optional, Sequence

def main(argv: Optional[Sequence[str]] = ...) -> int: ...
