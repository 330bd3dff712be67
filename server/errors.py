"""The endpoint's exceptions and the one place that maps them to HTTP responses.

Every refusal the endpoint can give is an :class:`EndpointError` carrying a message written for the client.
The exceptions know nothing about HTTP: query workers raise them in another process and send them back
pickled, and :data:`HTTP_STATUS` below is the only mapping from exception to status code. Error bodies are
``text/plain`` and never contain a traceback.

Status choices (see also ``docs/sparql-endpoint.md``):

- 400 for requests the client must change: protocol misuse, malformed queries, queries that fail in
  evaluation, graphs the dataset does not hold, results over the row limit;
- 403 for well-formed requests the endpoint refuses by policy: SPARQL Update (the endpoint is read-only;
  405 would wrongly suggest another HTTP method could work) and ``SERVICE`` (federation is disabled);
- 406, 413 and 415 for content negotiation, body size and content type or charset; 408 for a body that
  does not arrive in time, 431 for headers over the size limit;
- 429 when one client already has as many queries running and waiting as it may (``KG_CLIENT_CONCURRENCY``):
  the server is not busy, that client is, so other clients and a load balancer must not read it as 503;
- 503 when a query reaches the time limit or every query worker is busy (the convention of Apache Jena
  Fuseki; 504 is meant for gateways and proxies would take it for their own upstream failing);
- 502 and 504 only with ``KG_ENGINE=sparql``, where the endpoint is a gateway to a remote store: 502 when the
  store cannot be reached or answers with an error or a body we cannot read, 504 when it does not answer
  within the time limit. Both name the store.
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, InternalServerError

from calcinosis_kg.errors import KGError

READ_ONLY_MESSAGE = (
    "This endpoint is read-only: SPARQL Update is refused (send a SELECT, ASK, CONSTRUCT or DESCRIBE query)."
)


class EndpointError(KGError):
    """A request the endpoint refuses; the message is shown to the client as is."""


class ProtocolError(EndpointError):
    """The request misuses the SPARQL 1.1 Protocol (missing or repeated parameters, bad encoding, ...)."""


class MalformedQuery(EndpointError):
    """The query is not valid SPARQL 1.1 (syntax error, undeclared prefix, too deeply nested, ...)."""


class EvaluationError(EndpointError):
    """The query is valid SPARQL but cannot be evaluated here.

    A type error escaping an aggregate, an invalid regular expression, ``DESCRIBE *`` (which rdflib cannot
    translate), a LIMIT or OFFSET beyond 2**63, text that is not valid Unicode in the result.
    """


class UnknownGraph(EndpointError):
    """FROM, FROM NAMED, default-graph-uri or named-graph-uri names a graph the dataset does not hold."""


class ResultTooLarge(EndpointError):
    """The result has more rows (or triples) than the configured limit."""


class ReadOnly(EndpointError):
    """The request is a SPARQL Update; the endpoint only answers queries."""


class ServiceRefused(EndpointError):
    """The query uses SERVICE (federated query), which the endpoint never evaluates."""


class FormatNotAcceptable(EndpointError):
    """No result format the client accepts is available for this kind of query."""


class BodyTooLarge(EndpointError):
    """The request body is over the configured size limit."""


class BodyTimeout(EndpointError):
    """The request body did not arrive within the body time limit (``KG_BODY_TIMEOUT``)."""


class HeadersTooLarge(EndpointError):
    """The request's headers are over the size limit."""


class UnsupportedContentType(EndpointError):
    """A POST has a missing or unsupported content type, or a charset other than UTF-8."""


class QueryTimeout(EndpointError):
    """The query reached the time limit; its worker process was stopped and replaced."""


class ServerBusy(EndpointError):
    """Every query worker stayed busy for as long as the time limit; the client should retry."""


class QueueFull(ServerBusy):
    """Every query worker is busy and as many requests as the queue holds are waiting; retry."""


class ClientBusy(EndpointError):
    """The client already has as many queries running and waiting as one client may; it should retry later."""


class QueryTooComplex(MalformedQuery):
    """The query is over a size, nesting or token limit checked before the engine."""


class InternalQueryError(EndpointError):
    """Evaluating the query failed for a reason that is not the client's (details are in the server log)."""


class MemoryLimitExceeded(EndpointError):
    """The query needed more memory than a query worker may use; the worker was stopped and replaced."""


class WorkerLost(InternalQueryError):
    """A query worker exited while answering (killed from outside, out of memory, ...)."""


class StoreUnavailable(EndpointError):
    """The remote SPARQL store (``KG_ENGINE=sparql``) could not be reached or gave an answer we cannot use."""


class StoreTimeout(EndpointError):
    """The remote SPARQL store did not answer within the time limit."""


HTTP_STATUS: dict[type[EndpointError], int] = {
    ProtocolError: 400,
    MalformedQuery: 400,
    EvaluationError: 400,
    UnknownGraph: 400,
    ResultTooLarge: 400,
    ReadOnly: 403,
    ServiceRefused: 403,
    FormatNotAcceptable: 406,
    BodyTimeout: 408,
    BodyTooLarge: 413,
    HeadersTooLarge: 431,
    UnsupportedContentType: 415,
    ClientBusy: 429,
    InternalQueryError: 500,
    QueryTimeout: 503,
    MemoryLimitExceeded: 503,
    ServerBusy: 503,
    StoreUnavailable: 502,
    StoreTimeout: 504,
}
"""HTTP status of each endpoint error (subclasses inherit their parent's status)."""

RETRY_AFTER_SECONDS = 1
"""``Retry-After`` sent with :class:`ServerBusy` and :class:`ClientBusy`."""


def status_of(error: EndpointError) -> int:
    """The HTTP status for ``error``: that of its class or of its nearest listed ancestor (else 400)."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


TEXT_PLAIN = "text/plain; charset=utf-8"
INTERNAL_ERROR_MESSAGE = "Internal server error (the details are in the server log)."


def text_body(message: str) -> bytes:
    """``message`` followed by a newline, as UTF-8; text UTF-8 cannot encode (a lone surrogate echoed from the
    request) is written as a backslash escape."""
    return (message.rstrip("\n") + "\n").encode("utf-8", "backslashreplace")


def text_response(message: str, status: int) -> Response:
    """A ``text/plain`` response whose body is ``message`` followed by a newline (see :func:`text_body`)."""
    return Response(text_body(message), status=status, content_type=TEXT_PLAIN)


def error_parts(error: EndpointError) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers of the response refusing a request with ``error`` (the one mapping)."""
    headers = [("Content-Type", TEXT_PLAIN)]
    if isinstance(error, ServerBusy | ClientBusy):
        headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
    return status_of(error), text_body(str(error)), headers


def register_error_handlers(app: Flask) -> None:
    """Render endpoint errors, werkzeug's HTTP errors and unexpected failures as plain-text responses."""

    @app.errorhandler(EndpointError)
    def endpoint_error(error: EndpointError) -> Response:
        status, body, headers = error_parts(error)
        return Response(body, status=status, headers=headers)

    @app.errorhandler(InternalServerError)
    def internal_error(error: InternalServerError) -> Response:
        # Flask has already logged the original exception with its traceback; the client gets none of it.
        return text_response(INTERNAL_ERROR_MESSAGE, 500)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = text_response(f"{status} {error.name}: {error.description}", status)
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
