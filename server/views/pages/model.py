"""The resource and ontology pages' view model: what a page shows of a resource, built from its description."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.ontology import BIBO, CCO, HAS_EVIDENCE, MAPPING_PREDICATES, SCHEMA
from calcinosis_kg.server.resources.linked_data import LABEL_PROPERTIES, REPRESENTATIONS, label_of
from calcinosis_kg.server.views.linked_data import document_path
from calcinosis_kg.server.views.pages.codes import CodeSystemGroup, mapping_groups
from calcinosis_kg.server.views.pages.terms import (
    ANNOTATED,
    AXIOM_STRUCTURE,
    KNOWN_LABELS,
    Axioms,
    TermView,
    curie,
    sorted_terms,
    term_view,
    web_link,
)

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


TERM_KINDS = (
    (OWL.Class, "Classes"),
    (OWL.ObjectProperty, "Object properties"),
    (OWL.DatatypeProperty, "Data properties"),
    (OWL.AnnotationProperty, "Annotation properties"),
)

"""How the ontology page groups the terms of the ontology namespace."""


@dataclass(frozen=True)
class Statement:
    """One value of a relation, with what its axiom annotation says about it."""

    value: TermView
    qualifiers: tuple[tuple[str, TermView], ...] = ()
    sources: tuple[TermView, ...] = ()
    evidence: tuple[TermView, ...] = ()
    level: TermView | None = None
    """The evidence level of a treatment assertion (``cco:evidenceLevel``), shown beside the source marker."""
    level_sources: tuple[TermView, ...] = ()
    """The sources the evidence level rests on (``cco:evidenceLevelSource``)."""


@dataclass(frozen=True)
class Relation:
    """The statements of one predicate, outgoing or incoming."""

    predicate: TermView
    statements: tuple[Statement, ...]


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

    axioms = Axioms(graph)

    def statement(subject: Node, predicate: Node, obj: Node, shown: Node) -> Statement:
        qualifiers: list[tuple[str, TermView]] = []
        sources: set[Node] = set()
        evidence: set[Node] = set()
        levels: set[Node] = set()
        level_sources: set[Node] = set()
        for axiom in axioms.of(subject, predicate, obj):
            for qualifier, value in graph.predicate_objects(axiom):
                if qualifier == DCTERMS.source:
                    sources.add(value)
                elif qualifier == HAS_EVIDENCE:
                    evidence.add(value)
                elif qualifier == CCO.evidenceLevel:
                    levels.add(value)
                elif qualifier == CCO.evidenceLevelSource:
                    level_sources.add(value)
                elif qualifier not in AXIOM_STRUCTURE:
                    name = labeler(qualifier) or curie(str(qualifier)) or str(qualifier)
                    qualifiers.append((name.removesuffix(" qualifier"), view(value)))
        return Statement(
            value=view(shown),
            qualifiers=tuple(sorted(qualifiers, key=lambda item: (item[0], item[1].text))),
            sources=tuple(sorted_terms(map(view, sources))),
            evidence=tuple(sorted_terms(map(view, evidence))),
            level=min(map(view, levels), key=lambda term: term.text, default=None),
            level_sources=tuple(sorted_terms(map(view, level_sources))),
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
                cited.update(graph.objects(axiom, CCO.evidenceLevelSource))
    sources = [source_view(graph, source, view) for source in cited - {iri} if isinstance(source, URIRef)]

    citations = []
    for axiom in graph.subjects(DCTERMS.source, iri):
        annotated = [graph.value(axiom, part) for part in ANNOTATED]
        if all(part is not None for part in annotated):
            citations.append(Citation(*(view(part) for part in annotated if part is not None)))
    return ResourceView(
        iri=str(iri),
        label=labeler(iri) or curie(str(iri)) or str(iri),
        curie=curie(str(iri)),
        types=sorted_terms(map(view, graph.objects(iri, RDF.type))),
        synonyms=_texts(graph, iri, SKOS.altLabel),
        definitions=_texts(graph, iri, SKOS.definition),
        comments=_texts(graph, iri, RDFS.comment) + _texts(graph, iri, SKOS.scopeNote),
        notes=_texts(graph, iri, SKOS.editorialNote),
        statements=_relations(outgoing, view),
        incoming=_relations(incoming, view),
        members=sorted_terms(view(s) for s in graph.subjects(RDF.type, iri) if isinstance(s, URIRef)),
        mappings=mapping_groups(graph, iri, axioms, view),
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


def source_view(graph: Graph, source: URIRef, view: Callable[[Node], TermView]) -> SourceView:
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
