"""Reading a SPARQL 1.1 Protocol request (https://www.w3.org/TR/sparql11-protocol/) from an HTTP request.

Three ways to send a query are accepted: GET with ``query`` in the URL, POST of an
``application/x-www-form-urlencoded`` form, and POST of the query itself as ``application/sparql-query``
(then the other parameters are in the URL). ``default-graph-uri`` and ``named-graph-uri`` may be repeated;
given at all, they replace the query's FROM and FROM NAMED. A GET without ``query`` asks for the service
description. Anything else is refused with a message saying what is wrong.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from rdflib import URIRef
from werkzeug.datastructures import MultiDict
from werkzeug.sansio.utils import get_current_url
from werkzeug.wrappers import Request

from calcinosis_kg.queries.catalog import ABSOLUTE_IRI
from calcinosis_kg.server.engines.contract import DatasetSpec
from calcinosis_kg.server.errors import (
    READ_ONLY_MESSAGE,
    BodyTooLarge,
    ProtocolError,
    ReadOnly,
    UnsupportedContentType,
)

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
_UTF8 = frozenset({"utf-8", "utf8"})
_MAX_FORM_FIELDS = 1000


@dataclass(frozen=True)
class ProtocolRequest:
    """What a request asks of the endpoint."""

    query: str | None
    """The query text, or None for a GET without query (a request for the service description)."""
    dataset: DatasetSpec | None
    """The dataset given by ``default-graph-uri``/``named-graph-uri``, if any."""
    formats: tuple[str, ...]
    """Values of the ``format`` parameter (override of ``Accept``)."""


def base_iri(request: Request) -> str:
    """The base IRI of a query sent with ``request``: the URL the client used, without its query string.

    Werkzeug's ``request.base_url``, memoized on its four parts (:func:`_base_url`): writing it costs about
    0.1 ms (IRI decoding, IDNA), a sixth of what the server process spends on a unique query, and a server
    sees few distinct values. The bound keeps a client varying ``Host`` from growing the table.
    """
    return _base_url(request.scheme, request.host, request.root_path, request.path)


@functools.lru_cache(maxsize=256)
def _base_url(scheme: str, host: str, root_path: str, path: str) -> str:
    return get_current_url(scheme, host, root_path, path)


def read_request(request: Request, max_body: int) -> ProtocolRequest:
    """Validate ``request`` (GET or POST on the endpoint) and extract the query, dataset and format override.

    Raises :class:`ProtocolError` (missing, repeated or conflicting parameters, a body that is not UTF-8),
    :class:`ReadOnly` (any SPARQL Update), :class:`UnsupportedContentType` (POST content type or charset)
    and :class:`BodyTooLarge` (body over ``max_body`` bytes).
    """
    if request.method == "POST":
        params, body_query = _read_post(request, max_body)
    else:
        params, body_query = url_parameters(request), None
    if params.getlist("update"):
        if params.getlist("query") or body_query is not None:
            raise ProtocolError("The request has both a query and an update; send one query.")
        raise ReadOnly(READ_ONLY_MESSAGE)
    queries = params.getlist("query")
    if body_query is not None:
        if queries:
            raise ProtocolError(f"The query is both in the body ({SPARQL_QUERY}) and in the URL; send one.")
        queries = [body_query]
    if len(queries) > 1:
        raise ProtocolError(f"The request has {len(queries)} 'query' parameters; send exactly one.")
    dataset = _dataset(params.getlist("default-graph-uri"), params.getlist("named-graph-uri"))
    if not queries:
        if request.method == "POST" or dataset is not None:
            raise ProtocolError("The request has no 'query' parameter.")
        return ProtocolRequest(query=None, dataset=None, formats=tuple(params.getlist("format")))
    if not queries[0].strip():
        raise ProtocolError("The 'query' parameter is empty.")
    return ProtocolRequest(query=queries[0], dataset=dataset, formats=tuple(params.getlist("format")))


def url_parameters(request: Request) -> MultiDict[str, str]:
    """The URL's parameters, as werkzeug's ``request.args`` has them, decoded faster in the common case.

    A query sent by GET is a kilobyte of ``%hh`` escapes, which ``urllib.parse`` decodes one at a time in
    Python; here each value is decoded at once by the codec machinery (``%`` becomes ``\\x``, the
    backslashes already there doubled). What that cannot decode (an invalid escape, bytes that are not UTF-8)
    goes to werkzeug, which quotes such bytes back.
    """
    try:
        return MultiDict(_decode_pairs(request.environ.get("QUERY_STRING", "")))
    except (ValueError, UnicodeDecodeError):
        return request.args


def _decode_pairs(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(text: str) -> str:
    if "%" not in text and "+" not in text:
        return text.encode("latin-1").decode("utf-8")
    raw = text.replace("+", " ").encode("latin-1").replace(b"\\", b"\\\\").replace(b"%", b"\\x")
    decoded: bytes = codecs.escape_decode(raw)[0]
    return decoded.decode("utf-8")


def _read_post(request: Request, max_body: int) -> tuple[MultiDict[str, str], str | None]:
    """The parameters of a POST (URL and form together) and, for a direct POST, the query in the body."""
    media_type = request.mimetype
    charset = request.mimetype_params.get("charset")
    if media_type == SPARQL_UPDATE:
        raise ReadOnly(READ_ONLY_MESSAGE)
    if media_type not in (FORM, SPARQL_QUERY):
        given = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
        raise UnsupportedContentType(
            f"A POST must be {FORM} (with a 'query' parameter) or {SPARQL_QUERY} (the query as body); "
            f"this one has {given}."
        )
    if charset is not None and charset.lower() not in _UTF8:
        raise UnsupportedContentType(f"Charset {charset!r} is not supported; send the request in UTF-8.")
    body = _read_body(request, max_body)
    text = _utf8(body)
    if media_type == SPARQL_QUERY:
        return url_parameters(request), text
    params: MultiDict[str, str] = url_parameters(request)
    params.update(_form_fields(body, text))
    return params, None


def _form_fields(body: bytes, text: str) -> list[tuple[str, str]]:
    """The fields of a form (``body``, already checked to be UTF-8 ``text``), as ``urllib.parse.parse_qsl``
    reads them (blank values kept, at most :data:`_MAX_FORM_FIELDS` fields).

    Decoded like the URL (:func:`url_parameters`): a form's query is a kilobyte of ``%hh`` escapes, which
    ``parse_qsl`` took 100-200 µs to decode, a fifth of what the web process spends on a unique query. The body
    is read as the URL is (one character per byte), so that raw UTF-8 bytes and escaped ones decode alike. What
    that cannot decode (an invalid escape, bytes that are not UTF-8 once decoded) and a form with too many
    fields go to ``parse_qsl``, which says what is wrong.
    """
    if text.count("&") < _MAX_FORM_FIELDS:
        try:
            return _decode_pairs(body.decode("latin-1"))
        except (ValueError, UnicodeDecodeError):
            pass
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=_MAX_FORM_FIELDS)
    except UnicodeDecodeError as error:
        raise ProtocolError(f"A form value is not UTF-8 once percent-decoded ({error.reason}).") from None
    except ValueError:
        raise ProtocolError(f"The form has more than {_MAX_FORM_FIELDS} fields.") from None


def _read_body(request: Request, max_body: int) -> bytes:
    """The body, read here (not by werkzeug) so that a chunked body over the limit is refused, not cut."""
    if request.content_length is not None and request.content_length > max_body:
        raise _too_large(max_body)
    body = bytearray()
    while len(body) <= max_body:
        chunk = request.stream.read(max_body + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
    raise _too_large(max_body)


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(f"The body is not valid UTF-8 ({error.reason} at byte {error.start}).") from None


def _dataset(default: Sequence[str], named: Sequence[str]) -> DatasetSpec | None:
    if not default and not named:
        return None
    for name, values in (("default-graph-uri", default), ("named-graph-uri", named)):
        for value in values:
            if not ABSOLUTE_IRI.fullmatch(value):
                raise ProtocolError(
                    f"{name} must be an absolute IRI (scheme:rest, without spaces, control characters or "
                    f'<>"{{}}|\\^`), got {value!r}.'
                )
    return DatasetSpec(default=tuple(map(URIRef, default)), named=tuple(map(URIRef, named)))


def _too_large(max_body: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is larger than the limit of {max_body} bytes (KG_MAX_BODY).")
