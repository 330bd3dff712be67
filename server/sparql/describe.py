"""The description of a resource: what ``DESCRIBE`` answers and what its IRI dereferences to.

SPARQL leaves the content of a description to the service. For each resource this one gives

- its outgoing triples, following blank-node objects to their own triples (OWL restrictions, lists);
- its incoming triples, and for a blank-node subject everything reachable from it: the ``owl:Axiom``
  annotations of its assertions and mappings, with their sources, evidence and qualifiers;
- the ``skos:prefLabel`` and ``rdfs:label`` of every other IRI the description mentions (predicates too),
  and the ``rdf:type`` of every other IRI in subject or object position, so that a client can show names;
- for each source it cites (objects of ``cco:supportedBy``, ``dcterms:source`` and ``cco:evidenceLevelSource``),
  its title, DOI, URL,
  authors, journal and year.

It reads the store's default graph as queries see it (the union of all graphs with
``KG_UNION_DEFAULT_GRAPH``) through pyoxigraph, in a query worker, under the time limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter

import pyoxigraph as ox

from calcinosis_kg.ontology import BIBO, CCO, LABEL_PREDICATES, SCHEMA
from calcinosis_kg.server.errors import ResultTooLarge

_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LABEL_PROPERTIES = tuple(ox.NamedNode(str(iri)) for iri in LABEL_PREDICATES)
_DCTERMS = "http://purl.org/dc/terms/"
CITING_PROPERTIES = (
    ox.NamedNode(str(CCO.supportedBy)),
    ox.NamedNode(_DCTERMS + "source"),
    ox.NamedNode(str(CCO.evidenceLevelSource)),
)
SOURCE_DETAILS = tuple(
    ox.NamedNode(str(iri))
    for iri in (_DCTERMS + "title", BIBO.doi, SCHEMA.url, CCO.authorList, CCO.journalTitle, CCO.publicationYear)
)
"""What a description copies of each source it cites."""

Resource = ox.NamedNode | ox.BlankNode
_TRIPLE_OF = attrgetter("triple")


class GraphView:
    """The triples of the served default graph: the store's default graph, or the union of all its graphs."""

    def __init__(self, store: ox.Store, *, union: bool) -> None:
        self._store = store
        self._graph = None if union else ox.DefaultGraph()

    def triples(
        self, subject: Resource | None, predicate: ox.NamedNode | None, obj: object | None
    ) -> Iterator[ox.Triple]:
        """Matching triples (each once, also when the union holds it in several graphs)."""
        quads = self._store.quads_for_pattern(subject, predicate, obj, self._graph)  # type: ignore[arg-type]
        triples = map(_TRIPLE_OF, quads)  # iterated in C: start-up reads every triple several times
        return triples if self._graph is not None else _distinct(triples)

    def triples_of(self, subjects: Sequence[ox.NamedNode], predicates: Sequence[ox.NamedNode]) -> Iterator[ox.Triple]:
        """The triples of each subject with each predicate, subject by subject, predicate by predicate."""
        for subject in subjects:
            for predicate in predicates:
                yield from self.triples(subject, predicate, None)


def _distinct(triples: Iterable[ox.Triple]) -> Iterator[ox.Triple]:
    seen: set[ox.Triple] = set()
    for triple in triples:
        if triple not in seen:
            seen.add(triple)
            yield triple


def describe(view: GraphView, resources: Iterable[object], max_triples: int) -> list[ox.Triple]:
    """The description of ``resources`` (literals are skipped) as a list of distinct triples.

    Raises :class:`ResultTooLarge` once it has more than ``max_triples`` triples.
    """
    described = list(dict.fromkeys(r for r in resources if isinstance(r, ox.NamedNode | ox.BlankNode)))
    found: dict[ox.Triple, None] = {}

    def add(triples: Iterable[ox.Triple]) -> None:
        for triple in triples:
            found[triple] = None
            if len(found) > max_triples:
                raise ResultTooLarge(
                    f"The description has more than {max_triples} triples (KG_MAX_ROWS); describe fewer resources."
                )

    for resource in described:
        add(closure(view, resource))
        for triple in view.triples(None, None, resource):
            add((triple,))
            if isinstance(triple.subject, ox.BlankNode):
                add(closure(view, triple.subject))
    targets = set(described)
    nodes: set[ox.NamedNode] = set()
    predicates: set[ox.NamedNode] = set()
    sources: set[ox.NamedNode] = set()
    for triple in list(found):
        nodes.update(node for node in (triple.subject, triple.object) if isinstance(node, ox.NamedNode))
        predicates.add(triple.predicate)
        if triple.predicate in CITING_PROPERTIES and isinstance(triple.object, ox.NamedNode):
            sources.add(triple.object)
    add(view.triples_of(sorted((nodes | predicates) - targets, key=str), LABEL_PROPERTIES))
    add(view.triples_of(sorted(nodes - targets, key=str), (_RDF_TYPE,)))
    add(view.triples_of(sorted(sources - targets, key=str), SOURCE_DETAILS))
    return list(found)


def closure(view: GraphView, start: Resource) -> Iterator[ox.Triple]:
    """The triples of ``start`` and, recursively, of every blank node they reach."""
    pending: list[Resource] = [start]
    visited: set[Resource] = set()
    while pending:
        node = pending.pop()
        if node in visited:
            continue
        visited.add(node)
        for triple in view.triples(node, None, None):
            yield triple
            if isinstance(triple.object, ox.BlankNode):
                pending.append(triple.object)
