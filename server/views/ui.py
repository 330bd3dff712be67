"""The web UI: server-rendered pages that work without JavaScript and load nothing from other sites.

- ``/``: a search box (``/search`` without JavaScript, ``/lookup`` suggestions with it), a picture of the
  knowledge (:mod:`.pages.overview`), calcinosis cutis's genetic differential from HPO (:mod:`.pages.genetics`,
  the rows of its page, with genes), the example questions by topic (the canned queries, linking to the
  query page pre-filled and to ``/queries/{name}``), what the graph holds (counts per class, folded), and
  links to ``/sparql``, ``/.well-known/void``, the dumps, ``/openapi.json`` and ``/lookup``;
- ``/query``: a SPARQL form (pre-filled by ``?example={name}``), enhanced with JavaScript into YASGUI
  (:mod:`.pages.editor`, ``static/query.js``: completion, sortable results, canned questions as tabs);
  the form's query runs through the app's query
  pool like any ``/sparql`` query (same parsing, safety checks, time limit and row cap); SELECT results
  are shown as a table whose IRIs under the base link to their pages, ASK as yes/no, CONSTRUCT and
  DESCRIBE as Turtle; a refused query shows its message with the endpoint's status (400 for a syntax error);
- the resource pages (the HTML representation of every IRI, served by
  :mod:`~calcinosis_kg.server.resources.linked_data` through :class:`ResourcePages`): types, labels, synonyms,
  definition, then the codes grouped by code system, a class's place in the hierarchy (:mod:`.pages.tree`),
  notes, statements grouped by relation with their qualifiers and short source markers
  (:mod:`.pages.resource`), the genetic differential from HPO (:mod:`.pages.genetics`), the neighbourhood
  (:mod:`.pages.neighbourhood`, with the differential's diseases and genes marked as HPO's), members of a class,
  incoming links, and the numbered references with DOI links. The ontology's page opens on its class tree.

Every page is a Jinja template under ``server/views/templates`` with autoescaping (nothing is marked safe), links
only to ``http(s)`` IRIs, and is sent with a Content-Security-Policy that allows scripts, styles, images
and requests from this server only (``server/views/static``, served at ``/assets/``), none inline, unless the
route set its own policy. Scripts only enhance: every page is complete without JavaScript.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request
from rdflib import Graph, URIRef
from rdflib.term import Node

from calcinosis_kg.ontology import BIBO, CCO
from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.errors import EndpointError, status_of
from calcinosis_kg.server.http.formats import Family, formats_of
from calcinosis_kg.server.http.openapi import (
    DATASET_PARAMETERS,
    ERROR_RESPONSES,
    HTML_CONTENT,
    error_responses,
    html_page,
    operation,
    parameter,
)
from calcinosis_kg.server.resources.linked_data import LinkedData, label_of
from calcinosis_kg.server.resources.void import DatasetDumps, DatasetStatistics
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.sparql.protocol import read_request
from calcinosis_kg.server.views.linked_data import local_path
from calcinosis_kg.server.views.pages.assets import Assets, add_npm_route, own_asset
from calcinosis_kg.server.views.pages.editor import by_topic, editor_config
from calcinosis_kg.server.views.pages.genetics import (
    DifferentialRow,
    differential,
    genetic_differential,
    mapped_hpo_terms,
)
from calcinosis_kg.server.views.pages.model import ontology_terms, resource_view, source_view
from calcinosis_kg.server.views.pages.neighbourhood import draw_neighbourhood, elements, hpo_groups
from calcinosis_kg.server.views.pages.overview import ROOT, KnowledgeMap, draw, knowledge_map
from calcinosis_kg.server.views.pages.picture import Picture
from calcinosis_kg.server.views.pages.query import DEFAULT_QUERY, QueryOutcome, prefilled, query_outcome
from calcinosis_kg.server.views.pages.resource import References
from calcinosis_kg.server.views.pages.search import search
from calcinosis_kg.server.views.pages.terms import KNOWN_LABELS, TermView, term_view
from calcinosis_kg.server.views.pages.tree import ClassNode, class_context, class_tree
from calcinosis_kg.server.workers.pool import QueryPool

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""Sent with every HTML response that has no policy of its own: scripts, styles, images and requests from
this server only, no inline script or style, no ``eval`` (a route that needs more, such as the API explorer,
sets its own). The scripts only enhance pages that are complete without them."""

UI_ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"
"""What the query page asks the query workers for: SPARQL JSON for SELECT/ASK, Turtle for graphs."""


# --- terms as shown on a page ----------------------------------------------------------------------------


# --- resource pages ----------------------------------------------------------------------------------------


class ResourcePages:
    """The HTML representations of the graph's IRIs (the ``HtmlPages`` of :mod:`.linked_data`)."""

    def __init__(
        self,
        linked_data: LinkedData,
        statistics: DatasetStatistics | None = None,
        pool: QueryPool | None = None,
        catalog: Mapping[str, CannedQuery] | None = None,
    ) -> None:
        self._linked_data = linked_data
        self._counts = statistics.class_entities if statistics is not None else {}
        self._pool = pool
        """Runs the genetic differential's query (:mod:`.pages.genetics`); without it pages go without."""
        self._catalog = catalog or {}

    @functools.cached_property
    def _tree(self) -> list[ClassNode]:
        """The class hierarchy shown on the ontology page, made from the ontology document when first shown."""
        return class_tree(self._linked_data.ontology_graph, self._counts, self._linked_data.label)

    def resource(self, iri: URIRef, document: Graph) -> str:
        """The resource page of ``iri``, or the ontology page for the ontology IRI and its versions."""
        ontology = self._linked_data.ontology
        if ontology is not None and self._linked_data.is_ontology(iri):
            return render_template(
                "ontology.html",
                page=resource_view(ontology, document, requested=iri),
                requested=str(iri),
                versions=sorted(str(version) for version in self._linked_data.versions),
                groups=ontology_terms(document),
                tree=self._tree,
            )
        page = resource_view(iri, document)

        def labeler(node: Node) -> str | None:
            return label_of(document, node) or self._linked_data.label(node) or KNOWN_LABELS.get(node)

        def view(node: Node) -> TermView:
            return term_view(node, labeler)

        context = class_context(self._linked_data.ontology_graph, iri)
        hierarchy = None
        if context is not None:
            hierarchy = {
                "ancestors": [[view(c) for c in path] for path in context.ancestors],
                "subclasses": [view(c) for c in context.subclasses],
                "domain_of": [view(p) for p in context.domain_of],
                "range_of": [view(p) for p in context.range_of],
                "inherited_domain_of": [view(p) for p in context.inherited_domain_of],
            }
        references = References(page, lambda source: source_view(document, source, view))
        doi = document.value(iri, BIBO.doi)
        genetics = genetic_differential(self._pool, self._catalog, document, iri, labeler)
        hpo = hpo_groups(genetics, labeler)
        return render_template(
            "resource.html",
            page=page,
            refs=references,
            hierarchy=hierarchy,
            doi=str(doi) if doi else None,
            neighbourhood=draw_neighbourhood(page, hpo),
            graph_elements=elements(page, hpo),
            genetics=genetics,
        )

    def not_found(self, iri: str) -> str:
        """The page for an IRI under the base that the graph does not use."""
        return render_template("not_found.html", iri=iri)


def make_ui_blueprint(
    linked_data: LinkedData,
    statistics: DatasetStatistics,
    dumps: DatasetDumps,
    catalog: Mapping[str, CannedQuery],
    pool: QueryPool,
    settings: Settings,
) -> Blueprint:
    """The home page ``/``, the query page ``/query``, the stylesheet under ``/assets/``, and the CSP header.

    Queries of the query page are :class:`~.evaluation.Job`\\ s for ``pool``, read from the request like a
    SPARQL Protocol request (``query`` by GET or a form POST, ``default-graph-uri``/``named-graph-uri``,
    the ``KG_MAX_BODY`` limit); their base IRI is the endpoint's URL, as at ``/sparql``.
    """
    blueprint = Blueprint(
        "ui", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
    )
    classes = {class_: count for class_, count in statistics.class_entities.items() if class_.startswith(str(CCO))}
    assets = Assets.find()
    add_npm_route(blueprint, assets)

    @blueprint.app_context_processor
    def page_assets() -> dict[str, Any]:
        return {"assets": assets, "own_asset": own_asset}

    @blueprint.get("/query/editor.json")
    def editor() -> Response:
        config = editor_config(linked_data, catalog, prefilled, f"{request.script_root}/sparql")
        return Response(json.dumps(config), content_type="application/json")

    @blueprint.after_app_request
    def protect_html(response: Response) -> Response:
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    known: list[KnowledgeMap] = []
    pictures: dict[str, Picture] = {}

    def knowledge_picture() -> Picture | None:
        """The home page's picture: its data read on the first visit (the graph does not change while serving),
        drawn once per script root (its links are paths)."""
        if ROOT not in linked_data.resources:
            return None
        if not known:
            try:
                known.append(knowledge_map(pool, linked_data.label))
            except EndpointError as refused:  # busy or too slow now: the page goes without, the next visit retries
                log.warning("home page picture not drawn: %s", refused)
                return None
        if request.script_root not in pictures:
            pictures[request.script_root] = draw(known[0], local_path)
        return pictures[request.script_root]

    differentials: list[list[DifferentialRow]] = []

    def genetic_rows() -> list[DifferentialRow]:
        """The home page's genetic differential: calcinosis cutis's, as on its page (:mod:`.pages.genetics`), read
        on the first visit that gets an answer (an empty one is kept too: the graph does not change while serving)."""
        if ROOT not in linked_data.resources:
            return []
        if not differentials:
            try:
                terms = mapped_hpo_terms(pool, ROOT)
            except EndpointError as refused:  # busy or too slow now: the page goes without, the next visit retries
                log.warning("home page genetic differential not shown: %s", refused)
                return []
            rows = differential(pool, catalog, terms, linked_data.label, about=ROOT)
            if rows or not terms:
                differentials.append(rows)
            return rows
        return differentials[0]

    @blueprint.get("/search")
    def search_page() -> Response:
        text = request.args.get("q", "")
        found = [term_view(iri, linked_data.label) for iri, _ in search(linked_data.labels, text)]
        page = render_template("search.html", text=text, found=found)
        return Response(page, content_type="text/html; charset=utf-8")

    @blueprint.get("/")
    def home() -> Response:
        page = render_template(
            "home.html",
            knowledge=knowledge_picture(),
            genetics=genetic_rows(),
            root=term_view(ROOT, linked_data.label),
            topics=by_topic(catalog),
            statistics=statistics,
            classes=sorted(
                ((term_view(class_, linked_data.label), count) for class_, count in classes.items()),
                key=lambda item: item[0].text.lower(),
            ),
            catalog=sorted(catalog.values(), key=lambda query: query.summary.lower()),
            dumps=dumps.dumps,
            ontology=local_path(str(linked_data.ontology)) if linked_data.ontology is not None else None,
        )
        return Response(page, content_type="text/html; charset=utf-8")

    @blueprint.route("/query", methods=["GET", "POST"])
    def query() -> Response:
        example = request.args.get("example")
        chosen = catalog.get(example) if example else None
        if example and chosen is None:
            abort(404, f"No example query named {example!r}.")
        error: str | None = None
        outcome: QueryOutcome | None = None
        status = 200
        text = prefilled(chosen) if chosen else None
        try:
            protocol = read_request(request, settings.max_body)
            if protocol.query is not None:
                text = protocol.query
                job = Job(
                    query=protocol.query,
                    base=f"{request.url_root}sparql",
                    accept=UI_ACCEPT,
                    dataset=protocol.dataset,
                )
                started = time.perf_counter()
                answer = pool.run(job)
                elapsed = (time.perf_counter() - started) * 1000
                outcome = query_outcome(answer.body, answer.content_type, linked_data, elapsed)
        except EndpointError as refused:
            error, status = str(refused), status_of(refused)
        if text is None:
            subtypes = catalog.get("subtypes")
            text = prefilled(subtypes) if subtypes else DEFAULT_QUERY
        downloads = []
        if outcome is not None:
            family = Family.GRAPH if outcome.form == "graph" else Family.RESULTS
            downloads = [
                (fmt.label, f"{request.script_root}/sparql?{urlencode({'query': text, 'format': fmt.key})}")
                for fmt in formats_of(family)
            ]
        page = render_template(
            "query.html",
            text=text,
            chosen=chosen,
            topics=by_topic(catalog),
            outcome=outcome,
            error=error,
            downloads=downloads,
        )
        return Response(page, status=status, content_type="text/html; charset=utf-8")

    return blueprint


# --- OpenAPI ----------------------------------------------------------------------------------------------


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI paths of the pages: home, search, the query page and its editor's configuration."""
    description = (
        "An HTML form to write a SPARQL query and see its results as a table, with links to download them in "
        "every format. The query is sent like a SPARQL Protocol request (by GET in the URL or by a form POST) "
        "and runs under the same limits as at /sparql."
    )
    page = {"description": "The page, with the results or the error if a query was sent.", "content": HTML_CONTENT}

    def shown(*statuses: int) -> dict[str, Any]:
        """Refusals shown on the query page itself: the page, with the message, under the refusal's status."""
        return {
            str(status): {"description": f"{ERROR_RESPONSES[status][1]} Shown on the page.", "content": HTML_CONTENT}
            for status in statuses
        }

    text = {"type": "string"}
    form = {
        "type": "object",
        "required": ["query"],
        "properties": {"query": {**text, "description": "The SPARQL query."}},
    }
    query_get = operation(
        "Service",
        "Query page",
        "queryPage",
        {"200": page, **shown(400, 403, 503), **error_responses(404)},
        description=description,
        parameters=[
            parameter("query", "query", "A SPARQL query to run and show.", text),
            parameter("example", "query", "The name of a canned query to fill the form with.", text),
            *DATASET_PARAMETERS,
        ],
    )
    query_post = operation(
        "Service",
        "Query page: run the query of the form",
        "queryPagePost",
        {"200": page, **shown(400, 403, 413, 415, 503)},
        description=description,
        request_body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
    )
    editor = operation(
        "Service",
        "Configuration of the query page's SPARQL editor",
        "editorConfig",
        {"200": {"description": "The configuration.", "content": {"application/json": {}}}},
        description=(
            "What the editor (YASGUI) completes and offers: the endpoint, the project's prefixes, the "
            "ontology's classes and properties and the entities' labels as [IRI, label] pairs, and the canned "
            "questions (name, summary, topic, query text)."
        ),
    )
    return {
        "/": html_page("Home page", "The home page: what the knowledge graph holds and where to start.", "homePage"),
        "/query": {"get": query_get, "post": query_post},
        "/search": html_page(
            "Search page",
            "The resources whose label holds every word of q (the home page's search box without JavaScript).",
            "searchPage",
            parameter("q", "query", "Words of a label.", text),
        ),
        "/query/editor.json": {"get": editor},
    }
