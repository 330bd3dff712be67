"""The request's head and body bounded before any route sees it: header size, body size and body time.

:class:`RequestGuard` is the outermost WSGI layer under ``serve`` (before the response replay and the SPARQL
fast path), so every route, SPARQL, FHIR or any other reading a body, gets the same limits, whatever the
transfer encoding:

- **Headers** over :data:`MAX_HEAD_BYTES` (64 KiB, names and values together): 431. hyper, under granian,
  refuses a request line over 64 KiB (414) but let a 100 KB header through.
- **Body size** over ``KG_MAX_BODY``: 413 at once when ``Content-Length`` says so, otherwise (chunked) as soon
  as the bytes read pass the limit, so a 400 MB chunked body costs ``KG_MAX_BODY`` of memory, not 1.2 GB.
- **Bodies in flight**: at most :data:`BODY_READERS` bodies are being received per server process; one more
  gets 503 with ``Retry-After`` at once. granian has no body timeout and its ``wsgi.input.read(n)`` blocks
  until ``n`` bytes came: 50 clients sending a body one byte a second each held a Python thread and took
  every thread ``/health`` needed. Now they hold at most :data:`BODY_READERS` (counted in
  :func:`~calcinosis_kg.server.http.serve.app_threads`).
- **Body time**: a body still arriving ``KG_BODY_TIMEOUT`` seconds after the request reached the app gets 408
  (with ``Connection: close``), checked between reads (see :meth:`RequestGuard._read`); a client that stops
  sending altogether is not answered before it closes (no thread may read a granian body after its
  response: granian 2.8.9 then blocks the worker holding the GIL, measured). nginx in front
  (``deploy/nginx.conf``: ``client_body_timeout``, bodies buffered before they reach us) answers those 408.
- A body shorter than its ``Content-Length`` is a 400. With granian a malformed chunk ends the body where it
  stands (granian reads a chunk error as the end of the stream and tells the app nothing); a chunked body
  that ends before its first byte is a 400 naming this; behind ``deploy/nginx.conf`` nginx reads and checks
  the chunks itself (400) and forwards the body with a ``Content-Length``. werkzeug's embedded server
  raises on a malformed chunk: a 400 too.

The body read is then handed to the app as ``wsgi.input`` (an in-memory file) with its ``Content-Length``, so
the routes read it as any fixed-length body.

A family of routes with a body limit and an error format of its own (FHIR: 5 MiB, refusals as
OperationOutcomes) registers them for its path prefix with :func:`register_route_limits` when its blueprint is
registered; the guard then applies them to that prefix, so a FHIR client gets a FHIR answer from the guard too.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from flask import Flask

from calcinosis_kg.server.errors import (
    BodyTimeout,
    BodyTooLarge,
    EndpointError,
    HeadersTooLarge,
    ProtocolError,
    ServerBusy,
    error_parts,
)
from calcinosis_kg.server.http.hooks import COMMON_HEADERS, access_log
from calcinosis_kg.server.http.metrics import Metrics

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MAX_HEAD_BYTES = 64 * 1024
"""Largest request head the guard lets through: the request line and every header, names and values."""

BODY_READERS = 32
"""Request bodies one server process receives at once (each holds the thread of its request meanwhile). A body
sent at a normal rate holds its place for microseconds; the places are for slow clients: enough that a few
stalled ones (8 in ``tests/server/test_worker_bounds.py``) leave room for every POST, and few enough that the
threads stay countable (:func:`~calcinosis_kg.server.http.serve.app_threads`)."""

READ_SIZE = 64 * 1024
"""Bytes asked of ``wsgi.input`` at a time."""

GUARD_ROUTE = "guard"
"""The route ``/metrics`` counts the guard's refusals under."""

ROUTE_LIMITS = "calcinosis_kg.guard_routes"
"""The key of ``app.extensions`` holding the :class:`RouteLimits` registered per path prefix."""

Refusal = Callable[[EndpointError], tuple[int, bytes, list[tuple[str, str]]]]
"""Status, body and headers refusing a request with an error (:func:`~calcinosis_kg.server.errors.error_parts`)."""


@dataclass(frozen=True)
class RouteLimits:
    """The body limit and the refusal format of the routes under one path prefix."""

    max_body: int
    refusal: Refusal = error_parts
    limit_name: str = "KG_MAX_BODY"
    """What the 413 names as the limit."""


def register_route_limits(app: Flask, prefix: str, limits: RouteLimits) -> None:
    """Give the routes under ``prefix`` (e.g. ``/fhir/``) their own body limit and refusal format in the guard."""
    app.extensions.setdefault(ROUTE_LIMITS, {})[prefix] = limits


class RequestGuard:
    """The WSGI middleware bounding heads and bodies (see the module docstring)."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        max_body: int,
        body_timeout: float,
        readers: int = BODY_READERS,
        metrics: Metrics | None = None,
        routes: dict[str, RouteLimits] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.default = RouteLimits(max_body)
        self.routes = sorted((routes or {}).items(), key=lambda item: -len(item[0]))
        """Path prefixes with limits of their own, longest first."""
        self.body_timeout = body_timeout
        self.readers = readers
        self.metrics = metrics
        self._slots = threading.BoundedSemaphore(readers)
        self._log = access_log()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        limits = self._limits(str(environ.get("PATH_INFO", "")))
        try:
            if head_size(environ) > MAX_HEAD_BYTES:
                raise HeadersTooLarge(
                    f"The request's headers are larger than {MAX_HEAD_BYTES} bytes; send long queries in the body."
                )
            if _has_body(environ):
                self._receive(environ, limits)
        except EndpointError as error:
            return self._refuse(environ, start_response, error, limits.refusal)
        return self.app(environ, start_response)

    def _limits(self, path: str) -> RouteLimits:
        return next((limits for prefix, limits in self.routes if path.startswith(prefix)), self.default)

    def _receive(self, environ: WSGIEnvironment, limits: RouteLimits) -> None:
        """Read the body within the limits and put it back in ``environ`` as a fixed-length body."""
        chunked = "HTTP_TRANSFER_ENCODING" in environ
        length = None if chunked else _content_length(environ)
        if length is not None and length > limits.max_body:
            raise _too_large(limits)
        if not self._slots.acquire(blocking=False):
            raise ServerBusy(f"{self.readers} request bodies are being received by this server process; retry.")
        try:
            data = self._read(environ["wsgi.input"], length, limits)
        except (OSError, ValueError) as error:  # werkzeug's dechunker on a malformed chunk, a reset connection
            raise ProtocolError(f"The request body could not be read: {error}") from None
        finally:
            self._slots.release()
        if length is not None and len(data) < length:
            raise ProtocolError(f"The request body ended after {len(data)} of its {length} bytes (Content-Length).")
        if chunked and not data:
            raise ProtocolError("The chunked request body is empty or its first chunk is malformed.")
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ["wsgi.input_terminated"] = True
        environ.pop("HTTP_TRANSFER_ENCODING", None)

    def _read(self, stream: Any, length: int | None, limits: RouteLimits) -> bytes:
        """``length`` bytes of ``stream`` (chunked: to its end), refused past ``max_body`` or the deadline.

        granian's ``read(n)`` returns only once ``n`` bytes came (or the body ended), so each read asks for
        at most as many bytes as came so far (1, 2, 4, ... up to :data:`READ_SIZE`): a client sending at any
        steady rate answers it within the time the bytes so far took, and the deadline is checked between
        reads (the 408 comes within about twice ``KG_BODY_TIMEOUT``). A client that stops sending altogether
        keeps its read until it closes the connection, holding one of the :data:`BODY_READERS` places.
        """
        wanted = limits.max_body + 1 if length is None else length
        deadline = time.monotonic() + self.body_timeout
        parts: list[bytes] = []
        size = 0
        while size < wanted:
            if time.monotonic() > deadline:
                raise BodyTimeout(
                    f"The request body did not arrive within {self.body_timeout:g} s (KG_BODY_TIMEOUT): "
                    f"{size} bytes came."
                )
            chunk: bytes = stream.read(min(max(1, size), READ_SIZE, wanted - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        if size > limits.max_body:
            raise _too_large(limits)
        return b"".join(parts)

    def _refuse(
        self, environ: WSGIEnvironment, start_response: StartResponse, error: EndpointError, refusal: Refusal
    ) -> list[bytes]:
        started = time.perf_counter()
        status, body, headers = refusal(error)
        headers += [("Content-Length", str(len(body))), *COMMON_HEADERS]
        start_response(f"{status} {HTTPStatus(status).phrase.upper()}", headers)
        path = str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")
        self._log.write(environ.get("REMOTE_ADDR"), str(environ.get("REQUEST_METHOD", "-")), path, status, started)
        if self.metrics is not None:
            self.metrics.count_request(GUARD_ROUTE, status)
        return [body]


def head_size(environ: WSGIEnvironment) -> int:
    """Bytes of the request's headers (names and values) and URL as the server received them."""
    size = len(str(environ.get("PATH_INFO", ""))) + len(str(environ.get("QUERY_STRING", "")))
    for name, value in environ.items():
        if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            size += len(name) + len(value) if isinstance(value, str) else len(name)
    return size


def _has_body(environ: WSGIEnvironment) -> bool:
    return "HTTP_TRANSFER_ENCODING" in environ or str(environ.get("CONTENT_LENGTH") or "0").strip() not in ("", "0")


def _content_length(environ: WSGIEnvironment) -> int:
    text = str(environ.get("CONTENT_LENGTH", "")).strip()
    if not text.isdigit():
        raise ProtocolError(f"Content-Length must be a number of bytes, got {text[:40]!r}.")
    return int(text)


def _too_large(limits: RouteLimits) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is larger than the limit of {limits.max_body} bytes ({limits.limit_name}).")


def install_guard(app: Flask, *, max_body: int, body_timeout: float, metrics: Metrics | None = None) -> RequestGuard:
    """Wrap ``app.wsgi_app`` (whatever wraps it already) in a :class:`RequestGuard`: call it last, once the
    blueprints have registered their :class:`RouteLimits`."""
    routes = app.extensions.get(ROUTE_LIMITS, {})
    guard = RequestGuard(app.wsgi_app, max_body=max_body, body_timeout=body_timeout, metrics=metrics, routes=routes)
    app.wsgi_app = guard  # type: ignore[method-assign]
    return guard
