"""The ``/sparql`` endpoint: SPARQL 1.1 queries by GET and POST, and the service description."""

from __future__ import annotations

from flask import Blueprint, Response, request

from calcinosis_kg.server.data import DatasetSummary
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.formats import Family, choose_format
from calcinosis_kg.server.protocol import read_request
from calcinosis_kg.server.results import write_graph
from calcinosis_kg.server.service_description import service_description
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.workers.pool import QueryPool


def make_sparql_blueprint(pool: QueryPool, summary: DatasetSummary, settings: Settings) -> Blueprint:
    """The blueprint answering ``/sparql`` (and ``/sparql/``) with queries evaluated by ``pool``.

    The endpoint's URL as the client used it (after ProxyFix, when proxies are trusted) is both the
    service description's ``sd:endpoint`` and the base IRI of queries.
    """
    blueprint = Blueprint("sparql", __name__)

    @blueprint.route("/sparql", methods=["GET", "POST"])
    @blueprint.route("/sparql/", methods=["GET", "POST"])
    def sparql() -> Response:
        protocol = read_request(request, settings.max_body)
        accept = request.headers.get("Accept")
        if protocol.query is None:
            fmt = choose_format(accept, protocol.formats, Family.GRAPH)
            body = write_graph(fmt, service_description(request.base_url, summary))
            return _negotiated(body, fmt.content_type)
        job = Job(
            query=protocol.query,
            base=request.base_url,
            accept=accept,
            formats=protocol.formats,
            dataset=protocol.dataset,
        )
        answer = pool.run(job)
        return _negotiated(answer.body, answer.content_type)

    return blueprint


def _negotiated(body: bytes, content_type: str) -> Response:
    """A response whose format depended on the request's Accept header (so caches must key on it)."""
    return Response(body, content_type=content_type, headers={"Vary": "Accept"})
