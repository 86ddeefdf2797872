"""Messages between the worker process and its task processes.

A Channel is one end of a connected stream socket (a socket pair made by
the worker) carrying messages, each framed by its length: a pickled object
(``send``/``recv``) or raw bytes (``send_bytes``/``recv_bytes``, which the
payload and the result take so that they are not pickled again).

Why not ``multiprocessing.connection.Connection``, which did this before:
its reader asks ``os.read`` for the whole rest of a message on every read
of the socket, so a 400 MB message allocated a 400 MB buffer for each of
thousands of reads (a fan-in of 40 values of 10 MB took 13-15 s to reach a
task process, against 0.03 s in thread mode), and a cancel or the death of
the task process went unseen by the worker for that long. Here a message is
read into one buffer of its size, allocated once from its header
(``recv_into``).

Frame: an 8-byte big-endian length, then that many bytes. A frame longer
than ``MESSAGE_MAX`` is refused before anything is allocated: only a
corrupted stream says that, and it ends the channel (``ChannelError``).

The worker's end watches the task process (``watch_peer``): a process it
forked may hold a copy of the other end, so the death of the task process
in the middle of a message brings no end of file, and a read or write of
the rest would wait for that other process instead.
"""

import pickle
import select
import socket
import struct

_HEADER = struct.Struct("!Q")
# Messages up to this size go out with their header in one write.
_JOINED_MAX = 1 << 16
# The largest message a channel accepts: beyond any payload or result the
# backends store (the SQLite backend's row limit is 1e9 bytes).
MESSAGE_MAX = 1 << 34


class ChannelError(OSError):
    """The stream is not one of this module's frames (a length past
    MESSAGE_MAX): the channel cannot be read any further."""


class Channel:
    """One end of a message stream (see the module's docstring).

    Blocking. One thread may send while another receives; two threads must
    not send (or receive) on one channel at once. ``recv``/``recv_bytes``
    raise EOFError when the other end closed the socket, OSError when it
    failed (ChannelError for a malformed frame); the send methods raise
    OSError (BrokenPipeError once the other end is gone)."""

    def __init__(self, sock):
        self._sock = sock
        self._poller = select.poll()  # not select(): a descriptor may be past 1023
        self._poller.register(sock, select.POLLIN)
        self._alive = None

    def watch_peer(self, alive, every=0.1):
        """From now on, a read or write that makes no progress for `every`
        seconds asks alive(); when it returns False the read raises EOFError
        and the write BrokenPipeError, as they would at an end of file."""
        self._alive = alive
        self._sock.settimeout(every)

    def _check_peer(self, what):
        if self._alive is not None and not self._alive():
            raise what("the other process ended in the middle of a message")

    def _send_all(self, data):
        view = memoryview(data).cast("B")
        while view.nbytes:
            try:
                k = self._sock.send(view)
            except socket.timeout:
                self._check_peer(BrokenPipeError)
                continue
            view = view[k:]

    def _recv_into(self, view, n):
        while True:
            try:
                return self._sock.recv_into(view, n)
            except socket.timeout:
                self._check_peer(EOFError)

    @classmethod
    def from_fd(cls, fd):
        """A channel on the connected stream socket fd (which it owns)."""
        return cls(socket.socket(fileno=fd))

    def fileno(self):
        return self._sock.fileno()

    def close(self):
        """Close the socket (the other end then reads end of file)."""
        try:
            self._poller.unregister(self._sock)
        except (KeyError, ValueError):  # closed before
            pass
        self._sock.close()

    def send_bytes(self, data):
        """Send data (bytes-like) as one message, unchanged."""
        view = memoryview(data).cast("B")
        header = _HEADER.pack(view.nbytes)
        if view.nbytes <= _JOINED_MAX:
            self._send_all(header + view)
        else:
            self._send_all(header)
            self._send_all(view)

    def send(self, obj):
        """Send obj pickled (the highest protocol) as one message."""
        self.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def recv_bytes(self):
        """The next message's bytes (a bytearray of its exact size). When
        its buffer cannot be allocated, the message is read and dropped and
        MemoryError raised: the channel stays usable."""
        n = _HEADER.unpack(self._read(_HEADER.size))[0]
        if n > MESSAGE_MAX:
            raise ChannelError("a message of %d bytes was announced (at most %d): the "
                               "stream is corrupt" % (n, MESSAGE_MAX))
        try:
            buf = bytearray(n)
        except MemoryError:
            self._skip(n)
            raise MemoryError("out of memory for a message of %d bytes" % n) from None
        return self._read(n, buf)

    def recv(self):
        """The next message, unpickled."""
        return pickle.loads(self.recv_bytes())

    def poll(self, timeout):
        """True when a message (or end of file) can be read now, or becomes
        readable within timeout seconds."""
        return bool(self._poller.poll(max(0, int(timeout * 1000))))

    def _skip(self, n):
        chunk = memoryview(bytearray(min(n, 1 << 20)))
        while n > 0:
            k = self._recv_into(chunk, min(n, len(chunk)))
            if k == 0:
                raise EOFError("the other process closed the channel")
            n -= k

    def _read(self, n, buf=None):
        buf = bytearray(n) if buf is None else buf
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self._recv_into(view[got:], n - got)
            if k == 0:
                raise EOFError("the other process closed the channel")
            got += k
        return buf
