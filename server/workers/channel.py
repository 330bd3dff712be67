"""The pipe between the server and a query worker: one message a frame (its length, then the pickled object).

Both ends are this server's own processes (a socket pair made before the fork), so nothing unpickled here
comes from a client.
"""

from __future__ import annotations

import pickle
import socket
import struct

_FRAME = struct.Struct("!Q")
"""A message on a worker's socket pair: its length, then the pickled object (a Job, an Answer or an error)."""


def send_message(channel: socket.socket, message: object) -> None:
    """Write ``message`` as one frame (blocking)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    channel.sendall(_FRAME.pack(len(payload)) + payload)


def receive_message(channel: socket.socket) -> object:
    """Read one frame and unpickle it (blocking); raises :class:`EOFError` when the other end has closed."""
    header = _receive_exactly(channel, _FRAME.size)
    # Both ends are this server's own processes (a socket pair made before the fork): nothing untrusted.
    return pickle.loads(_receive_exactly(channel, _FRAME.unpack(header)[0]))  # noqa: S301


def _receive_exactly(channel: socket.socket, size: int) -> bytes:
    data = channel.recv(size)
    if len(data) == size:
        return data
    buffer = bytearray(data)
    while len(buffer) < size:
        chunk = channel.recv(min(size - len(buffer), 1 << 20))
        if not chunk:
            raise EOFError("the other end of the worker channel closed")
        buffer += chunk
    return bytes(buffer)
