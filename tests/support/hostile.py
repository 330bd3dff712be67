"""Hostile HTTP clients for the connection and body tests: idle sockets, slow bodies, raw requests (loopback only,
bounded in count and time)."""

from __future__ import annotations

import http.client
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def timed_get(url: str, path: str, timeout: float = 5.0) -> tuple[float, int | str]:
    """Seconds a ``GET path`` took on a new connection, and its status (or the exception's name)."""
    host, port = address(url)
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return time.monotonic() - started, response.status
    except OSError as error:
        return time.monotonic() - started, type(error).__name__
    finally:
        connection.close()


def raw_request(
    url: str, head: bytes, body: bytes = b"", *, half_close: bool = False, timeout: float = 10.0
) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers, without the blank line) then ``body`` (then, with
    ``half_close``, end the sending side); the response's status and body."""
    host, port = address(url)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with suppress(BrokenPipeError):  # the server answered and closed before reading all of it
            sock.sendall(head + b"\r\n\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            received += part
            status_head, _, rest = received.partition(b"\r\n\r\n")
            length = _content_length(status_head)
            if length is not None and len(rest) >= length:
                break
    status_line, _, _ = received.partition(b"\r\n")
    return int(status_line.split()[1]), received.partition(b"\r\n\r\n")[2]


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def raise_open_files(needed: int) -> bool:
    """Raise this process's open-file limit to its hard limit; whether ``needed`` descriptors fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft == resource.RLIM_INFINITY or soft > needed + 64


def idle_socket(url: str) -> socket.socket:
    """A non-blocking TCP connection to the server, being made (it sends nothing)."""
    sock = socket.socket()
    sock.setblocking(False)
    with suppress(BlockingIOError):
        sock.connect(address(url))
    return sock


@contextmanager
def idle_connections(url: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` TCP connections to the server that send nothing; closed on exit (with any the caller put in the
    list in place of one the server closed)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(idle_socket(url))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SlowBodies:
    """Clients sending a ``Content-Length: 100`` body one byte a second, each until it is answered or ``seconds``
    pass; ``answers`` holds each one's status line (empty if none) and the seconds it took."""

    url: str
    clients: int
    seconds: float
    path: str = "/sparql"
    answers: list[tuple[bytes, float]] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> SlowBodies:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._send, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads:
            thread.join(timeout=self.seconds + 5)

    def _send(self) -> None:
        started = time.monotonic()
        received = b""
        with socket.create_connection(address(self.url), timeout=self.seconds + 5) as sock:
            head = f"POST {self.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            sock.sendall(head.encode() + b"Content-Length: 100\r\n\r\n")
            sock.setblocking(False)
            while time.monotonic() - started < self.seconds and b"\r\n" not in received:
                # Read before sending: once the server has answered (408) and closed, a byte sent makes the
                # peer reset the connection, and a reset drops the answer not yet read.
                try:
                    part = sock.recv(1000)
                except BlockingIOError:
                    part = None
                except OSError:
                    break
                if part == b"":
                    break
                received += part or b""
                if b"\r\n" in received:
                    break
                try:
                    sock.send(b"A")
                except OSError:
                    break
                time.sleep(1.0)
        self.answers.append((received.partition(b"\r\n")[0], time.monotonic() - started))
