"""Terms as pages show them (label, link, CURIE) and the axiom annotations a description holds."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from calcinosis_kg.ontology import BASE, BIBO, HAS_EVIDENCE, PREFIXES, SCHEMA
from calcinosis_kg.server.views.linked_data import local_path

AXIOM_STRUCTURE = frozenset(
    {RDF.type, OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget, DCTERMS.source, HAS_EVIDENCE}
)
"""Predicates of an axiom annotation shown apart from its qualifiers."""


ANNOTATED = (OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget)


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


class Axioms:
    """The axiom annotations of a description, by the (source, property, target) triple they annotate."""

    def __init__(self, graph: Graph) -> None:
        self._by_triple: dict[tuple[Node, Node, Node], list[Node]] = {}
        for axiom in graph.subjects(RDF.type, OWL.Axiom):
            source, property_, target = (graph.value(axiom, part) for part in ANNOTATED)
            if source is not None and property_ is not None and target is not None:
                self._by_triple.setdefault((source, property_, target), []).append(axiom)

    def of(self, subject: Node, predicate: Node, obj: Node) -> list[Node]:
        return self._by_triple.get((subject, predicate, obj), [])


def sorted_terms(terms: Iterable[TermView]) -> list[TermView]:
    return sorted(terms, key=lambda term: (term.text.lower(), term.iri or ""))
