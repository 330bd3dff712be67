"""Behaviour shared by every route: CORS headers, ``nosniff``, and one log line per request."""

from __future__ import annotations

import functools
import re
import sys
import time
from typing import TextIO
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from calcinosis_kg.server.errors import text_response
from calcinosis_kg.server.http.clients import CLIENT

_PREFLIGHT_MAX_AGE = 86_400

COMMON_HEADERS = (("Access-Control-Allow-Origin", "*"), ("X-Content-Type-Options", "nosniff"))
"""Headers of every response: any origin may read it (without credentials), and every body is served as the
type it is declared as (no browser guesses HTML out of a query answer)."""


def install_cors(app: Flask) -> None:
    """Let browser pages on any origin use the endpoint, without credentials.

    Every response carries ``Access-Control-Allow-Origin: *`` (and ``X-Content-Type-Options: nosniff``). An
    ``OPTIONS`` preflight (answered by
    Flask's automatic OPTIONS handling) also gets the allowed methods, the requested headers and a max age.
    """

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        for name, value in COMMON_HEADERS:
            response.headers[name] = value
        location = response.headers.get("Location")
        if location is not None and 300 <= response.status_code < 400:
            # A redirect names the path only: an absolute URL would repeat the Host header the client chose
            # (werkzeug's slash redirects build one), and a cache could keep a redirect to another host.
            target = urlsplit(location)
            if target.netloc:
                response.headers["Location"] = target.path + (f"?{target.query}" if target.query else "")
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            requested = request.headers.get("Access-Control-Request-Headers")
            response.headers["Access-Control-Allow-Headers"] = requested or "Accept, Content-Type"
            response.headers["Access-Control-Max-Age"] = str(_PREFLIGHT_MAX_AGE)
        return response


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def refuse_control_characters(app: Flask) -> None:
    """Answer 400, saying so, to a path with a control character (C0, DEL or C1): no IRI has one.

    Without it such a path would get a 404 from whichever route happens to match it, or from none (werkzeug's
    rules do not match a newline), which says nothing of what is wrong.
    """

    @app.before_request
    def check_path() -> Response | None:
        found = _CONTROL.search(request.path)
        if found is None:
            return None
        return text_response(
            f"The path has a control character (U+{ord(found.group()):04X}) at character {found.start() + 1}: "
            "no IRI or name served here has one.",
            400,
        )


def install_access_log(app: Flask) -> None:
    """Log each request as one line on stderr: client (:mod:`~calcinosis_kg.server.http.clients`), method, path,
    status and duration."""
    log = access_log()

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        started: float = g.get("request_started", time.perf_counter())
        client = request.environ.get(CLIENT) or request.remote_addr
        log.write(client, request.method, request.path, response.status_code, started)
        return response


class AccessLog:
    """The access log: one line per request, ``time client method path status duration``, on a text stream.

    Written straight to the stream (stderr), not through :mod:`logging`: a line per request through a logger
    costs about 14 µs, five times the write itself, and a replayed answer costs less than that to serve. The
    time is local, as the other log lines have it (``2026-12-01 15:00:00,123``), written once per second.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._second = -1
        self._stamp = ""

    def write(self, client: str | None, method: str, path: str, status: int, started: float) -> None:
        """The line of one request that began at ``started`` (:func:`time.perf_counter`)."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._stamp, self._second = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)), second
        elapsed = (time.perf_counter() - started) * 1000
        line = (
            f"{self._stamp},{int((now - second) * 1000):03d} {client or '-'} {method} {path} {status} {elapsed:.1f}ms\n"
        )
        try:
            self._stream.write(line)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: the request is answered all the same
            pass


@functools.cache
def access_log() -> AccessLog:
    """This process's access log, on stderr."""
    return AccessLog()
