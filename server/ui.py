"""The web UI: server-rendered pages that work without JavaScript and load nothing from other sites.

- ``/``: a search box (``/search`` without JavaScript, ``/lookup`` suggestions with it), a picture of the
  knowledge (:mod:`.pages.overview`), the example questions by topic (the canned queries, linking to the
  query page pre-filled and to ``/queries/{name}``), what the graph holds (counts per class, folded), and
  links to ``/sparql``, ``/.well-known/void``, the dumps, ``/openapi.json`` and ``/lookup``;
- ``/query``: a SPARQL form (pre-filled by ``?example={name}``), enhanced with JavaScript into YASGUI
  (:mod:`.pages.editor`, ``static/query.js``: completion, sortable results, canned questions as tabs);
  the form's query runs through the app's query
  pool like any ``/sparql`` query (same parsing, safety checks, time limit and row cap); SELECT results
  are shown as a table whose IRIs under the base link to their pages, ASK as yes/no, CONSTRUCT and
  DESCRIBE as Turtle; a refused query shows its message with the endpoint's status (400 for a syntax error);
- the resource pages (the HTML representation of every IRI, served by
  :mod:`~calcinosis_kg.server.linked_data` through :class:`ResourcePages`): types, labels, synonyms,
  definition, then the codes grouped by code system, a class's place in the hierarchy (:mod:`.pages.tree`),
  notes, statements grouped by relation with their qualifiers and short source markers
  (:mod:`.pages.resource`), the neighbourhood (:mod:`.pages.neighbourhood`), members of a class, incoming
  links, and the numbered references with DOI links. The ontology's page opens on its class tree.

Every page is a Jinja template under ``server/templates`` with autoescaping (nothing is marked safe), links
only to ``http(s)`` IRIs, and is sent with a Content-Security-Policy that allows scripts, styles, images
and requests from this server only (``server/static``, served at ``/assets/``), none inline, unless the
route set its own policy. Scripts only enhance: every page is complete without JavaScript.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, render_template, request
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from calcinosis_kg.errors import QueryError
from calcinosis_kg.ontology import BASE, BIBO, CCO, HAS_EVIDENCE, PREFIXES, SCHEMA, SSSOM
from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.errors import EndpointError, status_of
from calcinosis_kg.server.formats import Family, formats_of
from calcinosis_kg.server.linked_data import (
    LABEL_PROPERTIES,
    REPRESENTATIONS,
    LinkedData,
    document_path,
    label_of,
    local_path,
)
from calcinosis_kg.server.pages.assets import Assets, add_npm_route, own_asset
from calcinosis_kg.server.pages.editor import by_topic, editor_config
from calcinosis_kg.server.pages.neighbourhood import draw_neighbourhood, elements
from calcinosis_kg.server.pages.overview import ROOT, KnowledgeMap, draw, knowledge_map
from calcinosis_kg.server.pages.picture import Picture
from calcinosis_kg.server.pages.resource import References
from calcinosis_kg.server.pages.search import search
from calcinosis_kg.server.pages.tree import class_context, class_tree
from calcinosis_kg.server.protocol import read_request
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.void import DatasetDumps, DatasetStatistics
from calcinosis_kg.server.workers.pool import QueryPool

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""Sent with every HTML response that has no policy of its own: scripts, styles, images and requests from
this server only, no inline script or style, no ``eval`` (a route that needs more, such as the API explorer,
sets its own). The scripts only enhance pages that are complete without them."""

MAPPING_PREDICATES = (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)
AXIOM_STRUCTURE = frozenset(
    {RDF.type, OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget, DCTERMS.source, HAS_EVIDENCE}
)
"""Predicates of an axiom annotation shown apart from its qualifiers."""
SHOWN_APART = frozenset(
    {
        RDF.type,
        *LABEL_PROPERTIES,
        SKOS.altLabel,
        SKOS.hiddenLabel,
        SKOS.definition,
        SKOS.editorialNote,
        SKOS.scopeNote,
        RDFS.comment,
        CCO.supportedBy,
        *MAPPING_PREDICATES,
    }
)
"""Outgoing predicates a resource page shows in their own sections rather than among the statements."""
ANNOTATED = (OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget)
TERM_KINDS = (
    (OWL.Class, "Classes"),
    (OWL.ObjectProperty, "Object properties"),
    (OWL.DatatypeProperty, "Data properties"),
    (OWL.AnnotationProperty, "Annotation properties"),
)
"""How the ontology page groups the terms of the ontology namespace."""
DEFAULT_QUERY = """SELECT ?subtype ?label WHERE {
  cc:calcinosis-cutis cco:hasSubtype ?subtype .
  ?subtype skos:prefLabel ?label .
}
ORDER BY ?label
"""
"""The editor's text when no example is chosen and the catalog has no ``subtypes`` query."""
UI_ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"
"""What the query page asks the query workers for: SPARQL JSON for SELECT/ASK, Turtle for graphs."""
KNOWN_LABELS: Mapping[Node, str] = {
    RDF.type: "type",
    RDFS.subClassOf: "subclass of",
    RDFS.subPropertyOf: "subproperty of",
    RDFS.domain: "domain",
    RDFS.range: "range",
    RDFS.seeAlso: "see also",
    RDFS.isDefinedBy: "defined by",
    OWL.inverseOf: "inverse of",
    OWL.equivalentClass: "equivalent class",
    OWL.disjointWith: "disjoint with",
    OWL.versionIRI: "version IRI",
    OWL.versionInfo: "version",
    SKOS.exactMatch: "exact match",
    SKOS.closeMatch: "close match",
    SKOS.broadMatch: "broad match",
    SKOS.narrowMatch: "narrow match",
    SKOS.relatedMatch: "related match",
    SKOS.example: "example",
    SKOS.editorialNote: "editorial note",
    SKOS.note: "note",
    SKOS.scopeNote: "scope note",
    DCTERMS.source: "source",
    DCTERMS.title: "title",
    DCTERMS.description: "description",
    DCTERMS.license: "licence",
    DCTERMS.created: "created",
    DCTERMS.modified: "modified",
    DCTERMS.creator: "creator",
    DCTERMS.bibliographicCitation: "citation",
    BIBO.doi: "DOI",
    SCHEMA.url: "web page",
}
"""Names shown for common external terms that the graph gives no label."""
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


@dataclass(frozen=True)
class CodeSystem:
    """A code system of the mappings: its name, home page and, if it has one, a browser URL per code."""

    name: str
    homepage: str
    code_url: str | None = None
    """``{id}`` is replaced by the local id; without it the code's own IRI is the link."""


CODE_SYSTEMS: Mapping[str, CodeSystem] = {
    "SCTID": CodeSystem(
        "SNOMED CT",
        "https://www.snomed.org/",
        "https://browser.ihtsdotools.org/?perspective=full&conceptId1={id}&edition=MAIN&languages=en",
    ),
    "ICD10CM": CodeSystem(
        "ICD-10-CM", "https://www.cdc.gov/nchs/icd/icd-10-cm/", "https://www.icd10data.com/search?s={id}"
    ),
    "icd11.foundation": CodeSystem(
        "ICD-11", "https://icd.who.int/", "https://icd.who.int/browse/latest-release/mms/en#{id}"
    ),
    "LOINC": CodeSystem("LOINC", "https://loinc.org/", "https://loinc.org/{id}/"),
    "MESH": CodeSystem("MeSH", "https://meshb.nlm.nih.gov/", "https://meshb.nlm.nih.gov/record/ui?ui={id}"),
    "MONDO": CodeSystem("Mondo Disease Ontology", "https://mondo.monarchinitiative.org/"),
    "HP": CodeSystem("Human Phenotype Ontology", "https://hpo.jax.org/"),
    "DOID": CodeSystem("Human Disease Ontology", "https://disease-ontology.org/"),
    "UBERON": CodeSystem("Uberon anatomy ontology", "https://obophenotype.github.io/uberon/"),
    "Orphanet": CodeSystem("Orphanet", "https://www.orpha.net/", "https://www.orpha.net/en/disease/detail/{id}"),
    "RXNORM": CodeSystem(
        "RxNorm",
        "https://www.nlm.nih.gov/research/umls/rxnorm/",
        "https://mor.nlm.nih.gov/RxNav/search?searchBy=RXCUI&searchTerm={id}",
    ),
    "ATC": CodeSystem("ATC", "https://atcddd.fhi.no/", "https://atcddd.fhi.no/atc_ddd_index/?code={id}"),
    "UMLS": CodeSystem(
        "UMLS", "https://www.nlm.nih.gov/research/umls/", "https://uts.nlm.nih.gov/uts/umls/concept/{id}"
    ),
}
"""Code systems by SSSOM ``object_id`` prefix (links only: nothing is fetched from them)."""


# --- terms as shown on a page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TermView:
    """An RDF term as a page shows it: text, where it links to, and a note (language, datatype, IRI)."""

    text: str
    href: str | None = None
    """A path of this server for IRIs under the base, the IRI itself for other http(s) IRIs, else None."""
    iri: str | None = None
    curie: str | None = None
    note: str | None = None
    literal: bool = False

    @property
    def local(self) -> bool:
        """Whether the link stays on this server."""
        return self.iri is not None and self.iri.startswith(BASE)


Labeler = Callable[[Node], "str | None"]


def curie(iri: str) -> str | None:
    """``iri`` as a CURIE with one of the project's prefixes, if one fits."""
    best: tuple[int, str] | None = None
    for prefix, namespace in PREFIXES.items():
        local = iri[len(namespace) :] if iri.startswith(namespace) else None
        if local and "/" not in local and "#" not in local and (best is None or len(namespace) > best[0]):
            best = (len(namespace), f"{prefix}:{local}")
    return best[1] if best else None


def web_link(value: str) -> str | None:
    """``value`` if it is an http(s) URL (anything else, ``javascript:`` included, is never a link)."""
    return value if value.startswith(("https://", "http://")) else None


def term_view(node: Node, labeler: Labeler) -> TermView:
    """How ``node`` is shown: an IRI by its label (else CURIE, else IRI), a literal by its value."""
    if isinstance(node, URIRef):
        iri = str(node)
        short = curie(iri)
        return TermView(
            text=labeler(node) or short or iri,
            href=local_path(iri) or web_link(iri),
            iri=iri,
            curie=short,
        )
    if isinstance(node, Literal):
        if node.language:
            note: str | None = node.language
        elif node.datatype is not None and node.datatype != XSD.string:
            note = curie(str(node.datatype)) or str(node.datatype)
        else:
            note = None
        return TermView(text=str(node), href=web_link(str(node)), note=note, literal=True)
    return TermView(text=f"_:{node}")


# --- resource pages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One value of a relation, with what its axiom annotation says about it."""

    value: TermView
    qualifiers: tuple[tuple[str, TermView], ...] = ()
    sources: tuple[TermView, ...] = ()
    evidence: tuple[TermView, ...] = ()


@dataclass(frozen=True)
class Relation:
    """The statements of one predicate, outgoing or incoming."""

    predicate: TermView
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class MappingView:
    """One mapping of the resource to a code, with its SSSOM annotation."""

    predicate: TermView
    code: str
    code_href: str | None
    code_label: str | None
    confidence: str | None
    comment: str | None
    see_also: tuple[TermView, ...]
    sources: tuple[TermView, ...]


@dataclass(frozen=True)
class CodeSystemGroup:
    """The mappings to one code system."""

    prefix: str
    name: str
    homepage: str | None
    mappings: tuple[MappingView, ...]


@dataclass(frozen=True)
class SourceView:
    """A cited source with its bibliographic details."""

    term: TermView
    title: str | None
    authors: str | None
    journal: str | None
    year: str | None
    doi: str | None
    url: str | None


@dataclass(frozen=True)
class Citation:
    """An assertion citing the resource (as ``dcterms:source`` of its axiom annotation)."""

    subject: TermView
    predicate: TermView
    target: TermView


@dataclass(frozen=True)
class ResourceView:
    """Everything a resource page shows, read from the resource's description only."""

    iri: str
    label: str
    curie: str | None
    types: list[TermView]
    synonyms: list[str]
    definitions: list[str]
    comments: list[str]
    notes: list[str]
    statements: list[Relation]
    incoming: list[Relation]
    members: list[TermView]
    mappings: list[CodeSystemGroup]
    sources: list[SourceView]
    citations: list[Citation]
    alternates: list[tuple[str, str, str]]
    """(label, media type, path) of each representation of the requested IRI."""


class _Axioms:
    """The axiom annotations of a description, by the (source, property, target) triple they annotate."""

    def __init__(self, graph: Graph) -> None:
        self._by_triple: dict[tuple[Node, Node, Node], list[Node]] = {}
        for axiom in graph.subjects(RDF.type, OWL.Axiom):
            source, property_, target = (graph.value(axiom, part) for part in ANNOTATED)
            if source is not None and property_ is not None and target is not None:
                self._by_triple.setdefault((source, property_, target), []).append(axiom)

    def of(self, subject: Node, predicate: Node, obj: Node) -> list[Node]:
        return self._by_triple.get((subject, predicate, obj), [])


def _sorted(terms: Iterable[TermView]) -> list[TermView]:
    return sorted(terms, key=lambda term: (term.text.lower(), term.iri or ""))


def _texts(graph: Graph, subject: Node, predicate: URIRef) -> list[str]:
    return sorted(str(value) for value in graph.objects(subject, predicate))


def resource_view(iri: URIRef, graph: Graph, requested: URIRef | None = None) -> ResourceView:
    """The page of ``iri`` from its description ``graph`` (see :func:`.linked_data.describe_resource`).

    ``requested`` is the IRI whose documents the page links to (the version IRI for the ontology's page
    served there), by default ``iri``.
    """

    def labeler(node: Node) -> str | None:
        return label_of(graph, node) or KNOWN_LABELS.get(node)

    def view(node: Node) -> TermView:
        return term_view(node, labeler)

    axioms = _Axioms(graph)

    def statement(subject: Node, predicate: Node, obj: Node, shown: Node) -> Statement:
        qualifiers: list[tuple[str, TermView]] = []
        sources: set[Node] = set()
        evidence: set[Node] = set()
        for axiom in axioms.of(subject, predicate, obj):
            for qualifier, value in graph.predicate_objects(axiom):
                if qualifier == DCTERMS.source:
                    sources.add(value)
                elif qualifier == HAS_EVIDENCE:
                    evidence.add(value)
                elif qualifier not in AXIOM_STRUCTURE:
                    name = labeler(qualifier) or curie(str(qualifier)) or str(qualifier)
                    qualifiers.append((name.removesuffix(" qualifier"), view(value)))
        return Statement(
            value=view(shown),
            qualifiers=tuple(sorted(qualifiers, key=lambda item: (item[0], item[1].text))),
            sources=tuple(_sorted(map(view, sources))),
            evidence=tuple(_sorted(map(view, evidence))),
        )

    outgoing: dict[Node, list[Statement]] = {}
    for predicate, obj in graph.predicate_objects(iri):
        if predicate not in SHOWN_APART:
            outgoing.setdefault(predicate, []).append(statement(iri, predicate, obj, obj))
    incoming: dict[Node, list[Statement]] = {}
    for subject, predicate in graph.subject_predicates(iri):
        if isinstance(subject, URIRef) and predicate != RDF.type:
            incoming.setdefault(predicate, []).append(statement(subject, predicate, iri, subject))

    cited: set[Node] = set(graph.objects(iri, CCO.supportedBy))
    for predicate, obj in graph.predicate_objects(iri):
        if predicate not in MAPPING_PREDICATES:
            for axiom in axioms.of(iri, predicate, obj):
                cited.update(graph.objects(axiom, DCTERMS.source))
    sources = [_source_view(graph, source, view) for source in cited - {iri} if isinstance(source, URIRef)]

    citations = []
    for axiom in graph.subjects(DCTERMS.source, iri):
        annotated = [graph.value(axiom, part) for part in ANNOTATED]
        if all(part is not None for part in annotated):
            citations.append(Citation(*(view(part) for part in annotated if part is not None)))
    return ResourceView(
        iri=str(iri),
        label=labeler(iri) or curie(str(iri)) or str(iri),
        curie=curie(str(iri)),
        types=_sorted(map(view, graph.objects(iri, RDF.type))),
        synonyms=_texts(graph, iri, SKOS.altLabel),
        definitions=_texts(graph, iri, SKOS.definition),
        comments=_texts(graph, iri, RDFS.comment) + _texts(graph, iri, SKOS.scopeNote),
        notes=_texts(graph, iri, SKOS.editorialNote),
        statements=_relations(outgoing, view),
        incoming=_relations(incoming, view),
        members=_sorted(view(s) for s in graph.subjects(RDF.type, iri) if isinstance(s, URIRef)),
        mappings=_mappings(graph, iri, axioms, view),
        sources=sorted(sources, key=lambda source: source.term.text.lower()),
        citations=sorted(citations, key=lambda c: (c.subject.text.lower(), c.predicate.text, c.target.text)),
        alternates=[(fmt.label, fmt.media_type, document_path(requested or iri, fmt)) for fmt in REPRESENTATIONS],
    )


def _relations(statements: Mapping[Node, list[Statement]], view: Callable[[Node], TermView]) -> list[Relation]:
    relations = [
        Relation(view(predicate), tuple(sorted(items, key=lambda item: item.value.text.lower())))
        for predicate, items in statements.items()
    ]
    return sorted(relations, key=lambda relation: relation.predicate.text.lower())


def _source_view(graph: Graph, source: URIRef, view: Callable[[Node], TermView]) -> SourceView:
    def first(predicate: URIRef) -> str | None:
        values = _texts(graph, source, predicate)
        return values[0] if values else None

    return SourceView(
        term=view(source),
        title=first(DCTERMS.title),
        authors=first(CCO.authorList),
        journal=first(CCO.journalTitle),
        year=first(CCO.publicationYear),
        doi=first(BIBO.doi),
        url=web_link(first(SCHEMA.url) or ""),
    )


def _mappings(graph: Graph, iri: URIRef, axioms: _Axioms, view: Callable[[Node], TermView]) -> list[CodeSystemGroup]:
    groups: dict[str, list[MappingView]] = {}
    for predicate in MAPPING_PREDICATES:
        for target in graph.objects(iri, predicate):
            annotations = axioms.of(iri, predicate, target)

            def slot(name: str, annotations: Sequence[Node] = annotations) -> list[str]:
                return sorted({str(v) for axiom in annotations for v in graph.objects(axiom, SSSOM[name])})

            object_ids = slot("object_id")
            code = object_ids[0] if object_ids else curie(str(target))
            prefix, _, local = code.partition(":") if code else ("other", "", "")
            system = CODE_SYSTEMS.get(prefix)
            if system is not None and system.code_url is not None and local:
                code_href: str | None = system.code_url.format(id=quote(local, safe=""))
            else:
                code_href = web_link(str(target))
            labels, confidences, comments = slot("object_label"), slot("confidence"), slot("comment")
            sources = {v for axiom in annotations for v in graph.objects(axiom, DCTERMS.source)}
            groups.setdefault(prefix, []).append(
                MappingView(
                    predicate=view(predicate),
                    code=code or str(target),
                    code_href=code_href,
                    code_label=labels[0] if labels else None,
                    confidence=confidences[0] if confidences else None,
                    comment=" ".join(comments) or None,
                    see_also=tuple(view(Literal(value)) for value in slot("see_also")),
                    sources=tuple(_sorted(map(view, sources))),
                )
            )
    result = []
    for prefix, mappings in groups.items():
        system = CODE_SYSTEMS.get(prefix)
        result.append(
            CodeSystemGroup(
                prefix=prefix,
                name=system.name if system else prefix,
                homepage=system.homepage if system else None,
                mappings=tuple(sorted(mappings, key=lambda m: (m.code, m.predicate.text))),
            )
        )
    return sorted(result, key=lambda group: group.name.lower())


@dataclass(frozen=True)
class TermGroup:
    """The ontology page's list of one kind of term."""

    title: str
    terms: tuple[tuple[TermView, str | None], ...]
    """Each term with its definition."""


def ontology_terms(graph: Graph) -> list[TermGroup]:
    """The terms of the ontology namespace in ``graph`` (the ontology document), grouped by kind."""

    def labeler(node: Node) -> str | None:
        return label_of(graph, node) or KNOWN_LABELS.get(node)

    groups = []
    for kind, title in TERM_KINDS:
        terms = [
            (term_view(term, labeler), next(iter(_texts(graph, term, SKOS.definition)), None))
            for term in graph.subjects(RDF.type, kind)
            if isinstance(term, URIRef) and term.startswith(str(CCO))
        ]
        if terms:
            groups.append(TermGroup(title, tuple(sorted(terms, key=lambda item: item[0].text.lower()))))
    return groups


class ResourcePages:
    """The HTML representations of the graph's IRIs (the ``HtmlPages`` of :mod:`.linked_data`)."""

    def __init__(self, linked_data: LinkedData, statistics: DatasetStatistics | None = None) -> None:
        self._linked_data = linked_data
        counts = statistics.class_entities if statistics is not None else {}
        self._tree = class_tree(linked_data.ontology_graph, counts, linked_data.label)

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
        references = References(page, lambda source: _source_view(document, source, view))
        doi = document.value(iri, BIBO.doi)
        return render_template(
            "resource.html",
            page=page,
            refs=references,
            hierarchy=hierarchy,
            doi=str(doi) if doi else None,
            neighbourhood=draw_neighbourhood(page),
            graph_elements=elements(page),
        )

    def not_found(self, iri: str) -> str:
        """The page for an IRI under the base that the graph does not use."""
        return render_template("not_found.html", iri=iri)


# --- the query page ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryOutcome:
    """A query's answer as the query page shows it."""

    form: str
    """``select``, ``ask`` or ``graph``."""
    variables: tuple[str, ...] = ()
    rows: tuple[tuple[TermView | None, ...], ...] = ()
    boolean: bool | None = None
    text: str | None = None
    milliseconds: float = 0.0


def prefilled(query: CannedQuery) -> str:
    """The editor text of a canned query: its SPARQL without the ``#+`` header, parameters set to defaults.

    Each parameter with a default gets a ``VALUES ?name { term }`` line at the start of the query's outer
    ``WHERE`` group, so the text runs as is and shows where to change the value (the ``/queries/{name}``
    API binds parameters without editing the text). A default that does not validate is left out.
    """
    text = "\n".join(line for line in query.sparql.splitlines() if not line.startswith("#+")).strip() + "\n"
    values = []
    for param in query.params:
        if param.default is None:
            continue
        try:
            term = param.bind(param.default)
        except QueryError:
            continue
        values.append(f"  VALUES ?{param.name} {{ {term.n3()} }}  # parameter {param.name}")
    if not values:
        return text
    for match in _WHERE.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if "#" not in text[line_start : match.start()]:
            return text[: match.end()] + "\n" + "\n".join(values) + text[match.end() :]
    return text


def _binding_view(binding: Mapping[str, str] | None, labels: LinkedData) -> TermView | None:
    """A cell of the results table from a SPARQL JSON binding."""
    if binding is None:
        return None
    kind, value = binding.get("type"), binding.get("value", "")
    if kind == "uri":
        short = curie(value)
        return TermView(
            text=short or value,
            href=local_path(value) or web_link(value),
            iri=value,
            curie=short,
            note=labels.label(URIRef(value)),
        )
    if kind == "bnode":
        return TermView(text=f"_:{value}")
    if "xml:lang" in binding:
        return term_view(Literal(value, lang=binding["xml:lang"]), labels.label)
    datatype = binding.get("datatype")
    return term_view(Literal(value, datatype=URIRef(datatype) if datatype else None), labels.label)


def _outcome(body: bytes, content_type: str, linked_data: LinkedData, milliseconds: float) -> QueryOutcome:
    text = body.decode("utf-8")
    if not content_type.startswith("application/sparql-results+json"):
        return QueryOutcome(form="graph", text=text, milliseconds=milliseconds)
    document: dict[str, Any] = json.loads(text)
    if "boolean" in document:
        return QueryOutcome(form="ask", boolean=bool(document["boolean"]), milliseconds=milliseconds)
    variables = tuple(str(var) for var in document["head"]["vars"])
    rows = tuple(
        tuple(_binding_view(binding.get(var), linked_data) for var in variables)
        for binding in document["results"]["bindings"]
    )
    return QueryOutcome(form="select", variables=variables, rows=rows, milliseconds=milliseconds)


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
                outcome = _outcome(answer.body, answer.content_type, linked_data, elapsed)
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
