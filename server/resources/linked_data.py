"""Dereferenceable IRIs: every IRI of the graph under ``https://w3id.org/calcinosis-kg/`` served as linked data.

The IRI ``https://w3id.org/calcinosis-kg/{path}`` is served at the server path ``/{path}`` (w3id.org
redirects there), following W3C "Cool URIs for the Semantic Web" with **direct content negotiation**
(slash IRIs, no 303): ``GET /id/acne`` answers 200 in the representation the ``Accept`` header prefers,
with ``Vary: Accept``, ``Content-Location`` naming the format-specific document that was sent and ``Link``
headers naming the others. The format-specific documents are served too: ``/id/acne.ttl``, ``.jsonld``,
``.nt``, ``.rdf`` and ``.html`` (whatever ``Accept`` says).

What is served for an IRI (:meth:`LinkedData.document`):

- for the ontology IRI and its version IRI, the whole ontology (:func:`ontology_document`);
- for any other IRI of the graph, its description, the answer to ``DESCRIBE <iri>``
  (:mod:`~calcinosis_kg.server.sparql.describe`): outgoing and incoming triples with the blank-node structures they
  reach (the ``owl:Axiom`` annotations of its assertions and mappings, with sources, evidence and
  qualifiers), the labels and types of every IRI it mentions and the bibliographic details of its sources.
  It is asked of the query worker pool like any query, so it has the same time limit, result cache and
  engine; the RDF representations are the engine's answer, the HTML page is rendered from its N-Triples;
- for an unknown IRI, a 404 in the negotiated format: the HTML page, or an RDF document that parses
  (an empty graph with a comment; ``[]`` in JSON-LD).

The indexes (which IRIs are served, their labels) are computed once from the store, read with pyoxigraph (by
the server at start-up, or when a serving bundle is written: then every process maps them from the bundle's file,
:func:`mapped_linked_data`); the ontology document once, when it is first asked for (about 0.05 s, in each server
process): there is no second copy of the data. The served graph is the dataset's default graph as queries see it (the
union of all graphs with ``KG_UNION_DEFAULT_GRAPH``). Accept negotiation is
:mod:`~calcinosis_kg.server.http.formats`' (q-values, specificity, server order), over the four RDF formats
(Turtle first: the default for ``*/*``) and HTML.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS
from rdflib.term import Node

from calcinosis_kg.ontology import (
    BASE,
    BIBO,
    CC,
    CCO,
    LABEL_PREDICATES,
    ONTOLOGY_IRI,
    SCHEMA,
    bind_prefixes,
    preferred_label,
)
from calcinosis_kg.server.http.formats import Family, ResultFormat, formats_of
from calcinosis_kg.server.resources.data import from_rdflib, rdflib_graph
from calcinosis_kg.server.resources.mapped import (
    MappedMapping,
    MappedSections,
    MappedSet,
    Sections,
    encode,
    string_table,
    write_sections,
)
from calcinosis_kg.server.sparql.describe import GraphView, closure

LABEL_PROPERTIES = LABEL_PREDICATES
"""The properties whose values name a resource, best first (``dcterms:title`` comes after them)."""

SOURCE_DETAILS = (DCTERMS.title, BIBO.doi, SCHEMA.url, CCO.authorList, CCO.journalTitle, CCO.publicationYear)
"""What a description copies of each source it cites (``cco:supportedBy``/``dcterms:source`` objects)."""


DESCRIBE_QUERY = "DESCRIBE ?resource"
"""The query whose answer is a resource's document; ``?resource`` is bound to the IRI."""

SCHEMA_TYPES = frozenset(
    {OWL.Class, RDFS.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property}
)
"""Types whose external members (``schema:Drug``, ``skos:prefLabel``...) are declared by the ontology."""
_SCHEMA_TYPES = frozenset(ox.NamedNode(str(iri)) for iri in SCHEMA_TYPES)
_RDF_TYPE = ox.NamedNode(str(RDF.type))
_OWL_ONTOLOGY = ox.NamedNode(str(OWL.Ontology))
_OWL_VERSION_IRI = ox.NamedNode(str(OWL.versionIRI))
_OWL_ANNOTATED_SOURCE = ox.NamedNode(str(OWL.annotatedSource))
_DCTERMS_TITLE = ox.NamedNode(str(DCTERMS.title))
_LABEL_PROPERTIES = tuple(ox.NamedNode(str(iri)) for iri in LABEL_PREDICATES)

HTML = ResultFormat(
    key="html",
    family=Family.GRAPH,
    label="HTML",
    media_type="text/html",
    content_type="text/html; charset=utf-8",
    names=("html",),
    aliases=("application/xhtml+xml",),
    w3c=URIRef("https://www.iana.org/assignments/media-types/text/html"),
    extension="html",
)
"""The human-readable representation (the W3C formats namespace has no IRI for plain HTML)."""

RDF_FORMATS: tuple[ResultFormat, ...] = formats_of(Family.GRAPH)
"""Turtle, N-Triples, JSON-LD and RDF/XML, in the order of :data:`~calcinosis_kg.server.http.formats.FORMATS`."""

REPRESENTATIONS: tuple[ResultFormat, ...] = (*RDF_FORMATS, HTML)
"""What a resource is offered as, in the server's order of preference (Turtle for ``*/*``)."""

NTRIPLES = RDF_FORMATS[1]

EXTENSIONS: Mapping[str, ResultFormat] = {fmt.extension: fmt for fmt in REPRESENTATIONS}
"""File extension of each format-specific document."""

DEFAULT_NAMESPACES = ("id", "ontology", "releases")
"""Path segments always served: entities, ontology terms (and the ontology IRI), ontology releases."""
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


class HtmlPages(Protocol):
    """Renders the HTML representations (implemented by :class:`calcinosis_kg.server.views.ui.ResourcePages`)."""

    def resource(self, iri: URIRef, document: Graph) -> str:
        """The page of ``iri`` (an IRI of the graph), showing ``document``, its description."""
        ...

    def not_found(self, iri: str) -> str:
        """The page saying that ``iri`` is not in the graph."""
        ...


@dataclass(frozen=True)
class LinkedData:
    """The served graph and what dereferencing needs of it, computed once at start-up."""

    resources: AbstractSet[URIRef]
    """Every IRI under :data:`~calcinosis_kg.ontology.BASE` used in the graph (subject, predicate, object)."""
    ontology: URIRef | None
    """The ontology IRI, when the graph has its ``owl:Ontology`` header."""
    versions: frozenset[URIRef]
    """The ontology's ``owl:versionIRI`` values."""
    labels: Mapping[URIRef, str]
    """The display label of every IRI of the graph that has one (see :func:`label_of`)."""
    view: GraphView = field(repr=False, compare=False)
    """The served default graph, read again for :attr:`ontology_graph`."""
    segments: tuple[str, ...] = ()
    """What :func:`namespaces` answers, computed from :attr:`resources` when not given (a serving bundle gives it:
    0.16 s of a start at a million triples)."""
    ontology_file: Path | None = field(default=None, repr=False, compare=False)
    """The ontology document in N-Triples (:func:`write_document`), a serving bundle's: read for
    :attr:`ontology_graph` instead of the store."""

    def __post_init__(self) -> None:
        if not self.segments:
            object.__setattr__(self, "segments", _segments(self.resources))

    @functools.cached_property
    def ontology_graph(self) -> Graph:
        """The whole ontology, served at the ontology IRI and its version IRIs (see :func:`ontology_document`).

        Made when first asked for (an ontology page, a resource page's class context, the query editor's
        terms), in each server process: about 0.05 s that the server's start no longer waits for. Made from the
        store it reads every triple: at a million triples 32 s and 58 MB of the granian worker's own memory
        (the store's blocks it read), in each granian worker of each replica; a serving bundle holds the document
        (:attr:`ontology_file`), read in milliseconds.
        """
        if self.ontology is None:
            return new_document()
        if self.ontology_file is not None:
            return read_document(self.ontology_file)
        return ontology_document(self.view, ox.NamedNode(str(self.ontology)))

    @classmethod
    def from_store(cls, view: GraphView) -> LinkedData:
        """Index the served default graph (``view``), read once with pyoxigraph at start-up."""
        resources: set[str] = set()
        for triple in view.triples(None, None, None):
            for node in (triple.subject, triple.predicate, triple.object):
                if isinstance(node, ox.NamedNode) and node.value.startswith(BASE):
                    resources.add(node.value)
        ontology = ox.NamedNode(ONTOLOGY_IRI)
        has_header = next(view.triples(ontology, _RDF_TYPE, _OWL_ONTOLOGY), None) is not None
        versions = frozenset(
            URIRef(t.object.value)
            for t in view.triples(ontology, _OWL_VERSION_IRI, None)
            if isinstance(t.object, ox.NamedNode)
        )
        return cls(
            resources=frozenset(URIRef(iri) for iri in resources),
            ontology=URIRef(ONTOLOGY_IRI) if has_header else None,
            versions=versions if has_header else frozenset(),
            labels=labels_of(view),
            view=view,
        )

    def is_ontology(self, iri: URIRef) -> bool:
        """Whether ``iri`` is the ontology IRI or one of its version IRIs."""
        return iri == self.ontology or iri in self.versions

    def is_served(self, iri: URIRef) -> bool:
        """Whether ``iri`` dereferences to a document (the ontology or a resource of the graph)."""
        return self.is_ontology(iri) or iri in self.resources

    def label(self, node: Node) -> str | None:
        """The display label of ``node``, if it is an IRI of the graph that has one."""
        return self.labels.get(node) if isinstance(node, URIRef) else None


def labels_of(view: GraphView) -> dict[URIRef, str]:
    """The label to show for every IRI that has one: ``skos:prefLabel``, else ``rdfs:label``, else ``dcterms:title``.

    English values win over others, then the smallest value (so the choice is stable).
    """
    found: dict[str, tuple[int, bool, str]] = {}
    for rank, label_property in enumerate((*_LABEL_PROPERTIES, _DCTERMS_TITLE)):
        for triple in view.triples(None, label_property, None):
            subject, value = triple.subject, triple.object
            if not isinstance(subject, ox.NamedNode) or not isinstance(value, ox.Literal):
                continue
            key = (rank, not (value.language or "").lower().startswith("en"), value.value)
            known = found.get(subject.value)
            if known is None or key < known:
                found[subject.value] = key
    return {URIRef(iri): key[2] for iri, key in found.items()}


def label_of(graph: Graph, node: Node) -> str | None:
    """The label to show for ``node`` in an rdflib ``graph`` (a description): the rules of :func:`labels_of`."""
    return preferred_label(graph, node, (*LABEL_PROPERTIES, DCTERMS.title))


def new_document() -> Graph:
    """An empty graph with the project's prefixes only (no rdflib defaults), for readable Turtle."""
    return bind_prefixes(Graph(bind_namespaces="none"))


def ontology_document(view: GraphView, ontology: ox.NamedNode) -> Graph:
    """The whole ontology as served at its IRI and version IRIs.

    - every triple whose subject is the ontology IRI (the ``owl:Ontology`` header) or an IRI in the
      ontology namespace (``https://w3id.org/calcinosis-kg/ontology/``);
    - the declarations of the external terms the ontology reuses: every triple of an IRI outside
      ``https://w3id.org/calcinosis-kg/`` typed as a class or property (``schema:Drug``, ``skos:prefLabel``);
    - the blank-node structures those triples reach, and the root blank nodes that are about the ontology
      rather than the entities: axiom annotations whose ``owl:annotatedSource`` is one of those subjects,
      and other structures (``owl:AllDisjointClasses`` and their lists) that mention no entity;
    - for each version IRI, ``<version> dcterms:isVersionOf <ontology>`` (and the ``owl:versionInfo``), so
      that the document served at the version IRI says what it is about.
    """
    namespace = str(CCO)
    subjects: set[ox.NamedNode] = {ontology}
    blank_subjects: set[ox.BlankNode] = set()
    blank_objects: set[ox.BlankNode] = set()
    for triple in view.triples(None, None, None):
        subject, obj = triple.subject, triple.object
        if isinstance(obj, ox.BlankNode):
            blank_objects.add(obj)
        if isinstance(subject, ox.BlankNode):
            blank_subjects.add(subject)
        elif isinstance(subject, ox.NamedNode) and (
            subject.value.startswith(namespace)
            or (not subject.value.startswith(BASE) and triple.predicate == _RDF_TYPE and obj in _SCHEMA_TYPES)
        ):
            subjects.add(subject)
    triples: dict[ox.Triple, None] = {}
    for subject in subjects:
        triples.update(dict.fromkeys(closure(view, subject)))
    for root in sorted(blank_subjects - blank_objects, key=str):
        part = list(closure(view, root))
        source = next((t.object for t in part if t.subject == root and t.predicate == _OWL_ANNOTATED_SOURCE), None)
        if source is not None:
            if source in subjects:
                triples.update(dict.fromkeys(part))
            continue
        if not any(isinstance(node, ox.NamedNode) and node.value.startswith(str(CC)) for t in part for node in t):
            triples.update(dict.fromkeys(part))
    document = rdflib_graph(triples)
    bind_prefixes(document)
    ontology_iri = URIRef(ontology.value)
    for version in document.objects(ontology_iri, OWL.versionIRI):
        document.add((version, DCTERMS.isVersionOf, ontology_iri))
        for info in document.objects(ontology_iri, OWL.versionInfo):
            document.add((version, OWL.versionInfo, info))
    return document


def write_document(document: Graph, path: Path) -> None:
    """Write ``document`` to ``path`` in N-Triples, its lines sorted (the same graph, the same bytes)."""
    triples = [ox.Triple(*map(from_rdflib, triple)) for triple in document]  # type: ignore[arg-type]
    written = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""  # bytes: no output file given
    path.write_bytes(b"".join(sorted(written.splitlines(keepends=True))))


def read_document(path: Path) -> Graph:
    """The document :func:`write_document` wrote to ``path``, with the project's prefixes."""
    document = rdflib_graph(quad.triple for quad in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES))
    bind_prefixes(document)
    return document


def not_found_body(fmt: ResultFormat, iri: str) -> bytes:
    """An RDF document in ``fmt`` that parses to an empty graph and says (in a comment) that ``iri`` is unknown."""
    shown = quote(iri, safe="/:._~")  # nothing that could end a comment or a line
    comment = f"No resource <{shown}> in this graph."
    if fmt.key == "jsonld":
        return b"[]\n"
    if fmt.key == "rdfxml":
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<!-- {comment} -->\n<rdf:RDF xmlns:rdf="{RDF}"/>\n').encode()
    return f"# {comment}\n".encode()


def namespaces(linked_data: LinkedData) -> list[str]:
    """The first path segments of the graph's IRIs under the base, and always ``id``, ``ontology``, ``releases``.

    Segments that could not be a URL rule's static part (anything but letters, digits and ``._~-``) are left
    out: such IRIs are not served.
    """
    return list(linked_data.segments)


def _segments(resources: AbstractSet[URIRef]) -> tuple[str, ...]:
    segments = set(DEFAULT_NAMESPACES)
    for iri in resources:
        segment = iri[len(BASE) :].split("/", 1)[0]
        if _SEGMENT.fullmatch(segment):
            segments.add(segment)
    return tuple(sorted(segments))


LINKED_DATA_MAGIC = b"KGLINKED1\n"
"""The first bytes of a bundle's linked-data index (:func:`write_linked_data`)."""
_iri = functools.partial(str.__new__, URIRef)
"""``URIRef(text)`` without checking ``text`` again (it was a URIRef's when written): 3x faster at start-up."""


def write_linked_data(linked_data: LinkedData, path: Path) -> tuple[Any, ...]:
    """Write the linked-data index's served IRIs and labels to ``path`` (string tables ``resources``, the IRIs,
    ``labelled`` and ``labels``, the labelled IRIs and their labels, each sorted by IRI); return the rest of it as
    plain values for the bundle's pickled indexes (deterministic bytes whatever the hash seed).

    A serving bundle holds the index this way (:func:`mapped_linked_data`) so that no process copies it into its
    heap: as Python objects, at a million triples (18,000 served IRIs), it took 7 to 14 MB of every replica."""
    labelled = sorted((encode(str(iri)), encode(label)) for iri, label in linked_data.labels.items())
    sections: Sections = {
        **string_table("resources", sorted(encode(str(iri)) for iri in linked_data.resources)),
        **string_table("labelled", [iri for iri, _ in labelled]),
        **string_table("labels", [label for _, label in labelled]),
    }
    write_sections(path, LINKED_DATA_MAGIC, sections)
    return (
        None if linked_data.ontology is None else str(linked_data.ontology),
        sorted(str(iri) for iri in linked_data.versions),
        linked_data.segments,
    )


def mapped_linked_data(
    path: Path, parts: tuple[Any, ...], view: GraphView, ontology_file: Path | None = None
) -> LinkedData:
    """The linked-data index whose IRIs and labels stay in the mapped file ``path`` (:func:`write_linked_data`), its
    ontology document read from ``ontology_file`` (:func:`write_document`) when given."""
    ontology, versions, segments = parts
    file = MappedSections(path, LINKED_DATA_MAGIC, "linked-data index")
    return LinkedData(
        resources=MappedSet(file, "resources", _iri),
        ontology=None if ontology is None else URIRef(ontology),
        versions=frozenset(map(URIRef, versions)),
        labels=MappedMapping(file, "labelled", "labels", _iri),
        view=view,
        segments=segments,
        ontology_file=ontology_file,
    )
