"""Conditional GET for every route: ``ETag``, ``Last-Modified`` and ``304 Not Modified``.

One ``after_request`` hook (:func:`install_conditional_get`) gives every successful (200) response to a
GET or HEAD

- a strong ``ETag``: a SHA-256 of the graph version (a hash of the data files' content) and the body, so
  that each representation of each resource, each query result and each page has its own tag, and a new
  graph changes them all;
- ``Last-Modified``: the newest modification time of the data files;
- ``Cache-Control: no-cache`` unless the route set its own: caches may store responses but must revalidate
  them, which costs a 304 when nothing changed;

and then answers ``If-None-Match`` (which takes precedence) and ``If-Modified-Since`` with werkzeug's
``Response.make_conditional``: a 304 without body, or a 412 for a failed ``If-Match``. Responses that
already carry an ETag (static files sent by ``send_file``) keep theirs; streamed bodies get no ETag, only
``Last-Modified``. Error responses and other methods are left alone. A response whose route sets
``Accept-Ranges: bytes`` (:data:`RANGES`) also answers a single byte range (206, 416).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date

from calcinosis_kg.server.errors import text_response

_CHUNK = 1 << 20
CONDITIONAL_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)
"""The request headers (WSGI names) that make a response conditional or partial."""

RANGES = "bytes"
"""``Accept-Ranges`` of a response that serves byte ranges: a route sets it (the dumps do), and the hook
answers a ``Range`` of one byte range with 206 (or 416 when it lies past the end), ``If-Range`` included.
Other responses ignore ``Range`` (a 200 with the whole body, as HTTP allows)."""


@dataclass(frozen=True)
class DataVersion:
    """What identifies the served graph for caching: a hash of the data files and their newest mtime."""

    tag: str
    """Hex SHA-256 over the data files' names and contents, in the order they were loaded."""
    last_modified: datetime
    """The newest modification time of the data files (UTC, whole seconds)."""

    @classmethod
    def of(cls, paths: Iterable[Path]) -> DataVersion:
        """The version of the graph loaded from ``paths`` (files that exist: they were just loaded)."""
        digest = hashlib.sha256()
        newest = 0.0
        for path in paths:
            digest.update(path.name.encode() + b"\0")
            with path.open("rb") as data:
                while chunk := data.read(_CHUNK):
                    digest.update(chunk)
            newest = max(newest, path.stat().st_mtime)
        return cls(tag=digest.hexdigest(), last_modified=datetime.fromtimestamp(int(newest), UTC))

    @functools.cached_property
    def last_modified_header(self) -> str:
        """:attr:`last_modified` as an HTTP date."""
        return http_date(self.last_modified)

    def etag(self, body: bytes) -> str:
        """The entity tag (without quotes) of a response whose body is ``body``."""
        return hashlib.sha256(self.tag.encode() + b"\0" + body).hexdigest()[:40]


def validators(version: DataVersion, body: bytes) -> list[tuple[str, str]]:
    """The headers :func:`install_conditional_get` gives a 200 response with ``body`` that sets none of them."""
    return [
        ("Last-Modified", version.last_modified_header),
        ("ETag", f'"{version.etag(body)}"'),
        ("Cache-Control", "no-cache"),
        ("Date", http_now()),
    ]


def install_conditional_get(app: Flask, version: DataVersion) -> None:
    """Add validators to every successful GET/HEAD response of ``app`` and answer revalidations with 304."""

    @app.after_request
    def make_conditional(response: Response) -> Response:
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        headers = response.headers
        if "Last-Modified" not in headers:
            headers["Last-Modified"] = version.last_modified_header
        if "ETag" not in headers and not (response.is_streamed or response.direct_passthrough):
            headers["ETag"] = f'"{version.etag(response.get_data())}"'
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-cache"
        if any(name in request.environ for name in CONDITIONAL_HEADERS):
            if headers.get("Accept-Ranges") == RANGES:  # a single byte range: 206 with Content-Range, or 416
                length = None if response.is_streamed else response.content_length
                try:
                    response.make_conditional(request, accept_ranges=RANGES, complete_length=length)
                except RequestedRangeNotSatisfiable as error:  # raised in a hook: no error handler runs
                    refusal = text_response(f"416 {error.name}: {error.description}", 416)
                    refusal.headers.update({"Content-Range": f"bytes */{length}", "Accept-Ranges": RANGES})
                    return refusal
            else:
                response.make_conditional(request)  # 304 or 412; adds Date
        elif "Date" not in headers:
            headers["Date"] = http_now()
        return response


def http_now() -> str:
    """The ``Date`` header for now, written once per second."""
    second = int(time.time())
    if _DATE[0] != second:
        _DATE[:] = [second, http_date(second)]
    return str(_DATE[1])


_DATE: list[int | str] = [0, ""]
