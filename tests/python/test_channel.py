"""The message channel between the worker process and its task processes
(sitq/_channel.py): framing, end of file, a corrupt stream."""
import socket
import struct
import threading

import pytest

from sitq._channel import Channel, ChannelError, MESSAGE_MAX


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    ends = Channel(a), Channel(b)
    yield ends
    for c in ends:
        c.close()


def _sent_from_thread(fn, *args):
    # A message larger than the socket's buffer is sent while the other end
    # reads it, as between two processes.
    t = threading.Thread(target=fn, args=args)
    t.start()
    return t


def _pattern(n):
    return (bytes(range(251)) * (n // 251 + 1))[:n]


@pytest.mark.parametrize("n", [0, 1, 65535, 65536, 65537, 5 << 20])
def test_bytes_arrive_whole_and_in_order(pair, n):
    a, b = pair
    first, second = _pattern(n), b"next"
    t = _sent_from_thread(lambda: (a.send_bytes(first), a.send_bytes(second)))
    got = b.recv_bytes()
    assert len(got) == n and got == first
    assert b.recv_bytes() == second
    t.join()


def test_objects_and_bytes_like_inputs(pair):
    a, b = pair
    a.send(("call", "deprange", (3, 1024)))
    a.send_bytes(bytearray(b"raw"))
    a.send_bytes(memoryview(b"abcdef")[2:4])
    assert b.recv() == ("call", "deprange", (3, 1024))
    assert b.recv_bytes() == b"raw"
    assert b.recv_bytes() == b"cd"


def test_poll_says_when_a_message_waits(pair):
    a, b = pair
    assert b.poll(0) is False
    assert b.poll(0.01) is False
    a.send(1)
    assert b.poll(0) is True
    assert b.recv() == 1
    assert b.poll(0) is False


def test_end_of_file_and_a_broken_pipe(pair):
    a, b = pair
    a.send(7)
    a.close()
    assert b.poll(0) is True
    assert b.recv() == 7
    assert b.poll(0) is True  # the end of file is readable too
    with pytest.raises(EOFError, match="closed the channel"):
        b.recv()
    with pytest.raises(BrokenPipeError):
        for _ in range(4):  # the first write after the close may still succeed
            b.send_bytes(b"x" * 65536)


def test_end_of_file_in_the_middle_of_a_message():
    x, y = socket.socketpair()
    b = Channel(y)
    x.sendall(struct.pack("!Q", 10) + b"12345")
    x.close()
    with pytest.raises(EOFError):
        b.recv_bytes()
    b.close()


def test_a_corrupt_length_is_refused_before_allocating():
    x, y = socket.socketpair()
    b = Channel(y)
    x.sendall(struct.pack("!Q", MESSAGE_MAX + 1))
    with pytest.raises(ChannelError, match="corrupt"):
        b.recv_bytes()
    assert isinstance(ChannelError("x"), OSError)  # callers treat it as a failed socket
    x.close()
    b.close()


def test_close_twice_is_harmless(pair):
    a, _ = pair
    a.close()
    a.close()
