"""Every libsitq error code has a name, a message and a Python exception class.

The codes come from libsitq's one table (SITQ_ERRNO_MAP in sitq.h), which
the extension publishes as ``sitq._sitq.ERROR_CODES``; the classes come from
``sitq.errors.BY_CODE``, which the extension checks against that table at
import.
"""
import pytest

import sitq
from sitq import errors

EXPECTED = {
    "SITQ_EINVAL": (1, sitq.InvalidArgumentError),
    "SITQ_ENOMEM": (2, MemoryError),
    "SITQ_ENOTFOUND": (3, sitq.TaskNotFoundError),
    "SITQ_ESTATE": (4, sitq.InvalidStateError),
    "SITQ_ETIMEDOUT": (5, sitq.TaskTimeoutError),
    "SITQ_EDEPENDENCY": (6, sitq.DependencyError),
    "SITQ_ENOTREADY": (7, sitq.TaskNotReadyError),
    "SITQ_ELEASE": (8, sitq.LeaseLostError),
    "SITQ_ESTORAGE": (9, sitq.StorageError),
    "SITQ_ESCHEMA": (10, sitq.SchemaError),
    "SITQ_ENOHANDLER": (11, sitq.NoHandlerError),
    "SITQ_ESYSTEM": (12, sitq.SitqSystemError),
    "SITQ_EBUSY": (13, sitq.DatabaseBusyError),
}


def test_table_has_every_code_with_its_value():
    codes = sitq._sitq.ERROR_CODES
    assert {name: value for name, (value, _) in codes.items()} == {
        name: value for name, (value, _) in EXPECTED.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_code_has_message_and_class(name):
    value, message = sitq._sitq.ERROR_CODES[name]
    assert isinstance(message, str) and message
    cls = errors.BY_CODE[name]
    assert cls is EXPECTED[name][1]
    if cls is not MemoryError:
        assert issubclass(cls, sitq.SitqError)
        assert cls._default_code == name
        assert cls("boom").code == name


def test_by_code_has_no_code_outside_the_table():
    assert set(errors.BY_CODE) == set(sitq._sitq.ERROR_CODES)


def test_messages_are_distinct():
    messages = [m for _, m in sitq._sitq.ERROR_CODES.values()]
    assert len(set(messages)) == len(messages)


def test_raised_error_carries_its_class_and_code(tmp_path):
    backend = sitq.SQLiteBackend(str(tmp_path / "t.db"))
    queue = sitq.TaskQueue(backend=backend)
    with pytest.raises(sitq.TaskNotFoundError) as info:
        queue.cancel(12345)
    assert info.value.code == "SITQ_ENOTFOUND"
    assert "12345" in info.value.message
