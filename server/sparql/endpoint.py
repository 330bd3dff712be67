"""The ``/sparql`` endpoint: SPARQL 1.1 queries by GET and POST, and the service description.

Two doors lead to the same code (:func:`query_job` reads the request, the pool answers the job):

- :class:`QueryFastPath`, a WSGI middleware in front of Flask, answers every query request: a ``GET`` with a
  query and no conditional header, and every ``POST`` (a form or ``application/sparql-query``: YASGUI and
  clients with long queries POST), with the headers Flask's hooks would give (validators on a GET, CORS,
  ``nosniff``, the access-log line, the request counter). Flask's request cycle costs more than evaluating a
  typical query (measured: 180-250 µs of the web process's 530-700 µs per unique POST), and a query endpoint
  is judged by its rate of unique queries;
- the blueprint answers everything else: ``HEAD``, conditional GETs (304) and the service description; and
  any request when the fast path is not installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from werkzeug.wrappers import Request

from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.errors import INTERNAL_ERROR_MESSAGE, TEXT_PLAIN, EndpointError, error_parts, text_body
from calcinosis_kg.server.http.clients import CLIENT
from calcinosis_kg.server.http.conditional import CONDITIONAL_HEADERS, DataVersion, validators
from calcinosis_kg.server.http.formats import FORMAT_PARAMETER, Family, choose_format
from calcinosis_kg.server.http.hooks import COMMON_HEADERS, access_log
from calcinosis_kg.server.http.metrics import ROUTE, Metrics
from calcinosis_kg.server.http.openapi import (
    DATASET_PARAMETERS,
    IRIS_SCHEMA,
    component_ref,
    error_responses,
    media_types,
    operation,
    parameter,
)
from calcinosis_kg.server.http.replay import note_answer
from calcinosis_kg.server.resources.data import DatasetSummary
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.sparql.protocol import ProtocolRequest, base_iri, read_request
from calcinosis_kg.server.sparql.results import write_graph
from calcinosis_kg.server.sparql.service_description import service_description
from calcinosis_kg.server.workers.pool import QueryPool

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

ENDPOINT_PATHS = ("/sparql", "/sparql/")
VARY = ("Vary", "Accept")
"""Every answer's format depends on the request's Accept header (so caches must key on it)."""


def query_job(req: Request, protocol: ProtocolRequest, query: str) -> Job:
    """The job of a protocol request with a query. The endpoint's URL as the client used it (after ProxyFix,
    when proxies are trusted) is the base IRI of the query."""
    return Job(
        query=query,
        base=base_iri(req),
        accept=req.headers.get("Accept"),
        formats=protocol.formats,
        dataset=protocol.dataset,
    )


def make_sparql_blueprint(pool: QueryPool, summary: DatasetSummary, settings: Settings) -> Blueprint:
    """The blueprint answering ``/sparql`` (and ``/sparql/``) with queries evaluated by ``pool``.

    The endpoint's URL as the client used it is also the service description's ``sd:endpoint``.
    """
    blueprint = Blueprint("sparql", __name__)

    @blueprint.route(ENDPOINT_PATHS[0], methods=["GET", "POST"])
    @blueprint.route(ENDPOINT_PATHS[1], methods=["GET", "POST"])
    def sparql() -> Response:
        protocol = read_request(request, settings.max_body)
        if protocol.query is None:
            fmt = choose_format(request.headers.get("Accept"), protocol.formats, Family.GRAPH)
            body = write_graph(fmt, service_description(request.base_url, summary))
            return Response(body, content_type=fmt.content_type, headers=[VARY])
        answer = pool.run(query_job(request, protocol, protocol.query))
        origin = note_answer(request.environ, answer)
        return Response(answer.body, content_type=answer.content_type, headers=[VARY, origin])

    return blueprint


class QueryFastPath:
    """Answers ``GET /sparql?query=...`` and every ``POST /sparql`` without entering Flask; passes every other
    request to ``app``.

    The response is the one the blueprint and Flask's hooks give the same request: the answer with
    ``Content-Type`` and ``Vary``, the validators of :mod:`~calcinosis_kg.server.http.conditional` on a 200 to
    a GET (Flask's hook gives a POST none), a refusal as :func:`~calcinosis_kg.server.errors.error_parts`
    writes it, then the :data:`~calcinosis_kg.server.http.hooks.COMMON_HEADERS`; one access-log line, one
    count in ``/metrics``. A GET with a conditional header goes to Flask, which answers 304; a request for the
    service description too. A POST is always answered here: the protocol reader refuses every POST without
    a query, and conditional headers mean nothing to a POST. The client whose share
    :mod:`~calcinosis_kg.server.workers.fairness` counts is the one :class:`~calcinosis_kg.server.http.clients.
    ClientIdentity` (outside this layer) set, as for Flask's routes.
    """

    def __init__(
        self, app: WSGIApplication, pool: QueryPool, settings: Settings, version: DataVersion, metrics: Metrics
    ) -> None:
        self.app = app
        self.pool = pool
        self.settings = settings
        self.version = version
        self.metrics = metrics
        self.answered = 0
        """Requests answered here, not by Flask (what tests see of the path a request took)."""
        self._log = access_log()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        method = environ.get("REQUEST_METHOD")
        if path not in ENDPOINT_PATHS or not (
            method == "POST"
            or (
                method == "GET"
                and "query=" in environ.get("QUERY_STRING", "")
                and not any(name in environ for name in CONDITIONAL_HEADERS)
            )
        ):
            return self.app(environ, start_response)
        started = time.perf_counter()
        req = Request(environ)
        try:
            protocol = read_request(req, self.settings.max_body)
            if protocol.query is None:  # a GET for the service description (read_request refuses such a POST)
                return self.app(environ, start_response)
            answer = self.pool.run(query_job(req, protocol, protocol.query))
            origin = note_answer(environ, answer)
            status = 200
            body = answer.body
            headers = [("Content-Type", answer.content_type), VARY, origin]
            if method == "GET":
                headers += validators(self.version, body)
        except EndpointError as error:
            status, body, headers = error_parts(error)
        except Exception:
            log.exception("unexpected failure answering %s", req.full_path[:500])
            status, body, headers = 500, text_body(INTERNAL_ERROR_MESSAGE), [("Content-Type", TEXT_PLAIN)]
        headers.append(("Content-Length", str(len(body))))
        headers.extend(COMMON_HEADERS)
        start_response(_STATUS_LINES.get(status) or f"{status} {_reason(status)}", headers)
        self._log.write(environ.get(CLIENT) or req.remote_addr, str(method), req.path, status, started)
        environ[ROUTE] = str(path)
        self.metrics.count_request(str(path), status)
        self.answered += 1
        return [body]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase.upper()
    except ValueError:
        return "UNKNOWN"


_STATUS_LINES = {status: f"{status} {_reason(status)}" for status in (200, 400, 403, 406, 413, 415, 429, 500, 503)}
"""Status lines as werkzeug writes them (``200 OK``, ``400 BAD REQUEST``)."""


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI path of the endpoint (``/sparql``; ``/sparql/`` answers the same)."""
    ok = {
        "description": (
            "The answer: SELECT and ASK results in a results format, CONSTRUCT and DESCRIBE results (and the "
            "service description) in an RDF format, as negotiated."
        ),
        "headers": {"Vary": {"description": "Accept", "schema": {"type": "string"}}},
        "content": {**media_types(Family.RESULTS), **media_types(Family.GRAPH)},
    }
    form = {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "description": "The SPARQL 1.1 query."},
            "default-graph-uri": IRIS_SCHEMA,
            "named-graph-uri": IRIS_SCHEMA,
            FORMAT_PARAMETER: {"type": "string", "description": "The result format, overriding Accept."},
        },
    }
    query = parameter(
        "query",
        "query",
        "The SPARQL 1.1 query (SELECT, ASK, CONSTRUCT or DESCRIBE).",
        {"type": "string"},
        example="SELECT ?subtype WHERE { cc:calcinosis-cutis cco:hasSubtype ?subtype }",
    )
    get = operation(
        "SPARQL",
        "Run a SPARQL query, or get the service description",
        "sparqlGet",
        {"200": ok, **error_responses(400, 403, 406, 429, 500, 503)},
        description=(
            "SPARQL 1.1 Protocol query by GET (also at `/sparql/`). Without `query`, the SPARQL 1.1 service "
            "description in an RDF format. The project's prefixes (cc:, cco:, skos:, ...) are predeclared. "
            "Queries run under a time limit (KG_QUERY_TIMEOUT) and a row limit (KG_MAX_ROWS); SERVICE and "
            "updates are refused."
        ),
        parameters=[query, *DATASET_PARAMETERS, component_ref("parameters", "resultFormat")],
    )
    body = {
        "application/x-www-form-urlencoded": {"schema": form},
        "application/sparql-query": {"schema": {"type": "string"}},
    }
    post = operation(
        "SPARQL",
        "Run a SPARQL query sent in the body",
        "sparqlPost",
        {"200": ok, **error_responses(400, 403, 406, 413, 415, 429, 500, 503)},
        description=(
            "SPARQL 1.1 Protocol query by POST: an HTML form (`application/x-www-form-urlencoded`, with "
            "`query`) or the query itself (`application/sparql-query`, the other parameters in the URL). "
            "The body is limited to KG_MAX_BODY bytes; it must be UTF-8."
        ),
        parameters=[*DATASET_PARAMETERS, component_ref("parameters", "resultFormat")],
        request_body={"required": True, "content": body},
    )
    return {ENDPOINT_PATHS[0]: {"get": get, "post": post}}
