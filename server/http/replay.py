"""Replaying whole responses to repeated query requests at the WSGI level, before Flask.

With the result cache (:mod:`calcinosis_kg.server.workers.cache`) a repeated query needs no query worker, but its
request still goes through Flask: routing, request parsing, the canned query's parameter validation, the
view and every ``after_request`` hook (CORS, conditional GET, access log) cost about two thirds of what the
server process spends on it. :class:`ResponseReplay` wraps the app's WSGI callable and keeps, for a GET or a
POST of ``/sparql`` or a GET of ``/queries/...`` whose answer the result cache holds, the response exactly as
the app produced it (status, headers, ETag included, and body); the same request is then answered with those
bytes and headers (``Date`` set anew), one access-log line in the app's format and one count of its route in
``/metrics``, without entering the app.

"The same request" is the same method, path, query string, ``Accept``, ``Host``, scheme and script name:
everything the response may depend on (the base IRI of a query is the URL the client used); for a POST also
the same ``Content-Type`` and the same body, byte for byte. A POST is keyed only once the body has been read
into memory by :class:`~calcinosis_kg.server.http.guard.RequestGuard` (outside this layer, within its limits):
a body still to be read goes to the app. Replaying a POST is safe because the endpoint is read-only: the answer
to the same query text, dataset and format is the result cache's, however it was sent. A GET with a
conditional or range header (``If-None-Match``, ``If-Modified-Since``, ...) always goes to Flask, whose hook
answers 304; so does every other method and path, and everything when reverse proxies are trusted
(``KG_TRUST_PROXY``: their ``X-Forwarded-*`` headers change the URL and the client's address). Only 200
responses whose answer came from (or went into) the result cache are kept, so volatile queries and refusals
never are. The entries (a POST's body counted in its size) are bounded like the result cache's
(``KG_CACHE_ENTRIES``, ``KG_CACHE_BYTES``, the same segmented LRU).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask

from calcinosis_kg.server.engines.contract import Answer
from calcinosis_kg.server.http.clients import CLIENTS_EXTENSION, ClientAddresses
from calcinosis_kg.server.http.conditional import CONDITIONAL_HEADERS, http_now
from calcinosis_kg.server.http.hooks import access_log
from calcinosis_kg.server.http.metrics import ROUTE, Metrics
from calcinosis_kg.server.workers.cache import SegmentedLRU

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REPLAYED_PATHS = ("/sparql", "/queries/")
CACHED_ANSWER = "calcinosis_kg.cached_answer"
"""WSGI environ key a view sets (:func:`note_answer`) when its response holds a cached answer."""


ANSWER_HEADER = "X-KG-Answer"
"""Response header saying where a query's answer came from (:attr:`~..engines.contract.Answer.origin`): ``query``,
``memory`` (this server process's cache, or a response it replays), ``shared`` (the cache shared by the server's
processes) or ``bundle``. For operators and tests: which answers waited for a query worker."""


def note_answer(environ: WSGIEnvironment, answer: Answer) -> tuple[str, str]:
    """Tell the replay whether the response to this request holds a cached answer (the same bytes next time);
    return the :data:`ANSWER_HEADER` of the response."""
    environ[CACHED_ANSWER] = answer.cached
    return (ANSWER_HEADER, answer.origin)


_KEY_FIELDS = ("PATH_INFO", "QUERY_STRING", "HTTP_ACCEPT", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")
_ENTRY_OVERHEAD = 512
_NOT_REPLAYED = ("date", ANSWER_HEADER.lower())
"""Headers of a stored response that each replay sets anew."""
_Key = tuple[str | bytes, ...]


@dataclass(frozen=True)
class _Response:
    status: str
    headers: list[tuple[str, str]]
    """Every header but ``Date``, which each replay sets to its own time."""
    body: bytes
    route: str
    """The route the first response was counted under in ``/metrics``."""


class ResponseReplay:
    """A WSGI middleware answering repeated cached query requests from stored responses (see module doc)."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        max_entries: int,
        max_bytes: int,
        metrics: Metrics | None = None,
        clients: ClientAddresses | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.clients = clients or ClientAddresses(())
        """Who the log line names (the app's :class:`ClientAddresses`, which the replay answers before)."""
        self.replayed = 0
        self._entries: SegmentedLRU[_Key, _Response] = SegmentedLRU(max_entries=max_entries, max_bytes=max_bytes)
        self._log = access_log()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        key = self._key(environ)
        if key is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        stored = self._entries.get(key)
        if stored is not None:
            self.replayed += 1
            start_response(stored.status, [*stored.headers, ("Date", http_now()), (ANSWER_HEADER, "memory")])
            self._log_request(environ, stored.status, started)
            if self.metrics is not None:
                self.metrics.count_request(stored.route, 200)
            return [stored.body]
        return self._capture(key, environ, start_response)

    def _capture(self, key: _Key, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Let the app answer; keep its response if it is a 200 whose answer the result cache holds."""
        sent: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            sent["status"], sent["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        if not (str(sent.get("status", "")).startswith("200 ") and environ.get(CACHED_ANSWER)):
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        headers = [(name, value) for name, value in sent["headers"] if name.lower() not in _NOT_REPLAYED]
        size = len(body) + sum(len(part) for part in key) + _ENTRY_OVERHEAD
        if self._entries.fits(size):
            route = str(environ.get(ROUTE, "unmatched"))
            self._entries.put(key, _Response(sent["status"], headers, body, route), size)
        return [body]

    @staticmethod
    def _key(environ: WSGIEnvironment) -> _Key | None:
        """The request's key, or None if it must go to the app (method, path, conditional headers, a body not
        yet read)."""
        method, path = environ.get("REQUEST_METHOD"), str(environ.get("PATH_INFO", ""))
        fields = (str(environ.get("wsgi.url_scheme", "")), *(str(environ.get(name, "")) for name in _KEY_FIELDS))
        if method == "POST" and path.startswith(REPLAYED_PATHS[0]):
            body = environ.get("wsgi.input")
            if not isinstance(body, io.BytesIO):  # not read by the guard (or no body: refused anyway)
                return None
            return ("POST", *fields, str(environ.get("CONTENT_TYPE", "")), body.getvalue())
        if method != "GET" or not path.startswith(REPLAYED_PATHS):
            return None
        if any(name in environ for name in CONDITIONAL_HEADERS):
            return None
        return ("GET", *fields)

    def _log_request(self, environ: WSGIEnvironment, status: str, started: float) -> None:
        """The access-log line :func:`~calcinosis_kg.server.http.hooks.install_access_log` writes for a request."""
        path = str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")
        self._log.write(self.clients(environ), str(environ.get("REQUEST_METHOD")), path, int(status[:3]), started)


def install_replay(
    app: Flask, *, max_entries: int, max_bytes: int, trust_proxy: int, metrics: Metrics | None = None
) -> ResponseReplay | None:
    """Wrap ``app.wsgi_app`` in a :class:`ResponseReplay`, unless caching is off or proxies are trusted."""
    if max_entries <= 0 or max_bytes <= 0 or trust_proxy:
        return None
    clients = app.extensions.get(CLIENTS_EXTENSION)
    replay = ResponseReplay(
        app.wsgi_app, max_entries=max_entries, max_bytes=max_bytes, metrics=metrics, clients=clients
    )
    app.wsgi_app = replay  # type: ignore[method-assign]
    return replay
