"""The blueprint dereferencing the graph's IRIs (what is served: :mod:`~calcinosis_kg.server.resources.linked_data`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request
from rdflib import URIRef

from calcinosis_kg.ontology import BASE
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.errors import FormatNotAcceptable
from calcinosis_kg.server.http import formats
from calcinosis_kg.server.http.formats import Family, ResultFormat
from calcinosis_kg.server.http.openapi import (
    HTML_CONTENT,
    NAME_SCHEMA,
    error_responses,
    media_types,
    operation,
    parameter,
)
from calcinosis_kg.server.resources.linked_data import (
    DESCRIBE_QUERY,
    EXTENSIONS,
    HTML,
    NTRIPLES,
    REPRESENTATIONS,
    HtmlPages,
    LinkedData,
    namespaces,
    new_document,
    not_found_body,
)
from calcinosis_kg.server.sparql.results import write_graph
from calcinosis_kg.server.workers.cache import SegmentedLRU
from calcinosis_kg.server.workers.pool import QueryPool

_PATH_SAFE = "/:@!$&'()*+,;=-._~%"

RENDERED_PAGES = 2048
"""Most HTML pages each server process keeps once rendered (IRI and script root). The RDF representations are
kept by the query pool's result cache."""

RENDERED_EXTENSION = "calcinosis_kg.rendered_pages"
"""Key of the rendered pages' cache in ``app.extensions`` (for operators' and tests' inspection)."""

RENDERED_PAGE_BYTES = 4 * 1024 * 1024
"""Most bytes of rendered HTML pages each server process keeps (the result cache's share of a process beside the
shared cache). Bounded by count alone, a crawler walking every page filled 2,048 of them in every granian worker
(the release graph's pages weigh 5-180 KB: tens of MB each); a page out of the cache is rendered again from its
description, which the result cache keeps."""


def representation_for(accept: str | None, offered: Sequence[ResultFormat] = REPRESENTATIONS) -> ResultFormat:
    """The representation to send for ``Accept`` (:func:`~.formats.negotiate`'s rules).

    Raises :class:`FormatNotAcceptable` listing what is available when nothing offered is acceptable.
    """
    best = formats.negotiate(accept, offered)
    if best is None:
        listed = ", ".join(f"{fmt.label} ({fmt.media_type})" for fmt in offered)
        raise FormatNotAcceptable(
            f"Nothing in 'Accept: {accept}' is available for this resource. Available: {listed}; or the "
            f"format-specific documents ({', '.join('.' + extension for extension in EXTENSIONS)})."
        )
    return best


def make_linked_data_blueprint(linked_data: LinkedData, pages: HtmlPages, pool: QueryPool) -> Blueprint:
    """The blueprint dereferencing the graph's IRIs: ``/{path}`` for ``https://w3id.org/calcinosis-kg/{path}``.

    For each namespace ``ns`` (see :func:`namespaces`) it answers ``GET /ns``, ``/ns/{rest}`` and
    ``/ns.{extension}``; an IRI of those namespaces that the graph does not use is a 404 in the negotiated
    format. Other paths are not this blueprint's: they get the app's plain-text 404.
    """
    blueprint = Blueprint("linked_data", __name__)

    def resource(segment: str, rest: str | None = None, extension: str | None = None) -> Response:
        path = segment + (f"/{rest}" if rest is not None else "") + (f".{extension}" if extension else "")
        iri = URIRef(BASE + path)
        stem, dot, suffix = path.rpartition(".")
        if dot and suffix in EXTENSIONS and not linked_data.is_served(iri):
            return _represent(URIRef(BASE + stem), EXTENSIONS[suffix], negotiated=False)
        return _represent(iri, representation_for(request.headers.get("Accept")), negotiated=True)

    for index, segment in enumerate(namespaces(linked_data)):
        defaults = {"segment": segment}
        blueprint.add_url_rule(f"/{segment}", f"namespace{index}", resource, defaults=defaults)
        blueprint.add_url_rule(f"/{segment}/<path:rest>", f"member{index}", resource, defaults=defaults)
        blueprint.add_url_rule(f"/{segment}.<extension>", f"document{index}", resource, defaults=defaults)

    def describe(iri: URIRef, fmt: ResultFormat) -> bytes:
        """The description of ``iri`` in ``fmt``, from the query pool (time limit, result cache)."""
        job = Job(query=DESCRIBE_QUERY, base=BASE, formats=(fmt.key,), bindings=(("resource", iri),))
        return pool.run(job).body

    rendered: SegmentedLRU[tuple[URIRef, str], bytes] = SegmentedLRU(
        max_entries=RENDERED_PAGES, max_bytes=RENDERED_PAGE_BYTES
    )
    blueprint.record_once(lambda state: state.app.extensions.setdefault(RENDERED_EXTENSION, rendered))

    def page(iri: URIRef, script_root: str) -> bytes:
        """The HTML page of ``iri`` (links use ``script_root``), rendered from its N-Triples description, kept in
        ``rendered`` if it fits there."""
        key = (iri, script_root)
        body = rendered.get(key)
        if body is None:
            document = new_document()
            document.parse(data=describe(iri, NTRIPLES), format="nt")
            body = pages.resource(iri, document).encode()
            if rendered.fits(len(body)):
                rendered.put(key, body, len(body))
        return body

    def render(iri: URIRef, fmt: ResultFormat, script_root: str) -> bytes | None:
        """The representation of ``iri`` in ``fmt`` (links in HTML use ``script_root``), None if unknown."""
        if linked_data.is_ontology(iri):
            document = linked_data.ontology_graph
            return pages.resource(iri, document).encode() if fmt is HTML else write_graph(fmt, document)
        if iri not in linked_data.resources:
            return None
        return page(iri, script_root) if fmt is HTML else describe(iri, fmt)

    def _represent(iri: URIRef, fmt: ResultFormat, *, negotiated: bool) -> Response:
        body = render(iri, fmt, request.script_root)
        if body is None:
            body = pages.not_found(str(iri)).encode() if fmt is HTML else not_found_body(fmt, str(iri))
            response = Response(body, status=404, content_type=fmt.content_type)
        else:
            response = Response(body, content_type=fmt.content_type)
            response.headers["Link"] = ", ".join(
                f'<{document_path(iri, other)}>; rel="alternate"; type="{other.media_type}"'
                for other in REPRESENTATIONS
                if other is not fmt
            )
        if negotiated:
            response.headers["Vary"] = "Accept"
            if response.status_code == 200:
                response.headers["Content-Location"] = document_path(iri, fmt)
        return response

    return blueprint


def local_path(iri: str) -> str | None:
    """The server path serving ``iri`` (with the app's script root), or None if it is not under the base.

    Characters not allowed in a URL path are percent-encoded (existing ``%XX`` escapes are kept), so the
    path can go in a header (``Content-Location``, ``Link``) as well as in a page.
    """
    if not iri.startswith(BASE):
        return None
    return f"{request.script_root}/{quote(iri[len(BASE) :], safe=_PATH_SAFE)}"


def document_path(iri: URIRef, fmt: ResultFormat) -> str:
    """The path of the format-specific document of ``iri`` (an IRI under the base): ``/id/acne.ttl``."""
    return f"{local_path(iri)}.{fmt.extension}"


# --- OpenAPI ----------------------------------------------------------------------------------------------


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI paths of the linked-data resources: entities, ontology terms and the ontology itself."""
    extensions = list(EXTENSIONS)
    note = (
        "Slash IRIs with direct content negotiation: `Accept` chooses between HTML and the RDF formats (Turtle for "
        "`*/*`), and the response has `Vary: Accept`, `Content-Location` naming the format-specific document sent "
        "and `Link` headers naming the others. The format-specific documents are served at the same path plus "
        + ", ".join(f"`.{extension}`" for extension in extensions)
        + ", whatever `Accept` says. An IRI that is not in the graph is a 404 in the negotiated format."
    )

    def resource(operation_id: str, summary: str, description: str, *parameters: dict[str, Any]) -> dict[str, Any]:
        representations = {**HTML_CONTENT, **media_types(Family.GRAPH)}
        responses = {
            "200": {"description": "The resource's description.", "content": representations},
            **(error_responses(400) if parameters else {}),  # a control character in a path parameter
            "404": {
                "description": "No such resource: an HTML page, or an empty RDF document that parses.",
                "content": representations,
            },
            **error_responses(406),
        }
        return {
            "get": operation(
                "Linked data",
                summary,
                operation_id,
                responses,
                description=f"{description} {note}",
                parameters=parameters,
            )
        }

    def named(what: str, operation_id: str, name: str, description: str) -> dict[str, Any]:
        mentions = f"{what}: its triples, incoming triples, axiom annotations and the labels of what it mentions."
        return resource(operation_id, what, mentions, parameter(name, "path", description, NAME_SCHEMA))

    ontology = "The whole ontology (the document of its IRI and of its version IRI)."
    formats = parameter(
        "extension", "path", f"The format: {', '.join(extensions)}.", {"type": "string", "enum": extensions}
    )
    version = parameter("version", "path", "The release, e.g. 0.1.0.", NAME_SCHEMA)
    return {
        "/id/{local}": named(
            "An entity of the knowledge graph", "entity", "local", "The entity's local name, e.g. calcinosis-cutis."
        ),
        "/ontology/{term}": named(
            "A class or property of the ontology", "ontologyTerm", "term", "The local name of the term, e.g. hasCause."
        ),
        "/ontology": resource("ontology", "The ontology", ontology),
        "/ontology.{extension}": resource("ontologyDocument", "The ontology in one format", ontology, formats),
        "/releases/{version}/ontology": resource(
            "ontologyVersion", "A release of the ontology (its version IRI)", ontology, version
        ),
    }
