"""The endpoint's answer to DESCRIBE: a resource's neighbourhood, with provenance and labels.

SPARQL leaves the content of a description to the service. For each resource this one gives

- its outgoing triples, following blank-node objects to their own triples (OWL restrictions, lists);
- its incoming triples;
- the OWL 2 axiom annotations about it: every ``owl:Axiom`` whose ``owl:annotatedSource`` is the resource,
  with all triples reachable from it through blank nodes (sources, evidence, qualifiers);
- the ``rdfs:label`` and ``skos:prefLabel`` of every other IRI the description mentions, so that a client
  can show names instead of IRIs.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import BNode, Graph, URIRef
from rdflib.namespace import OWL, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.server.errors import ResultTooLarge

LABEL_PROPERTIES = (RDFS.label, SKOS.prefLabel)


def describe(graph: Graph, resources: Iterable[Node], max_triples: int) -> Graph:
    """The description of ``resources`` in ``graph``, as a new graph with ``graph``'s prefixes.

    Literals among ``resources`` are skipped. Raises :class:`ResultTooLarge` once the description has
    more than ``max_triples`` triples.
    """
    description = Graph()
    for prefix, namespace in graph.namespaces():
        description.bind(prefix, namespace, override=True, replace=True)
    described = {resource for resource in resources if isinstance(resource, URIRef | BNode)}
    for resource in described:
        add_closure(graph, resource, description)
        for subject, predicate in graph.subject_predicates(resource):
            description.add((subject, predicate, resource))
        for axiom in graph.subjects(OWL.annotatedSource, resource):
            if isinstance(axiom, BNode):
                add_closure(graph, axiom, description)
        _check_size(description, max_triples)
    mentioned = {node for triple in description for node in triple if isinstance(node, URIRef)} - described
    for node in mentioned:
        for label_property in LABEL_PROPERTIES:
            for label in graph.objects(node, label_property):
                description.add((node, label_property, label))
    _check_size(description, max_triples)
    return description


def add_closure(graph: Graph, start: Node, target: Graph) -> None:
    """Add the triples of ``start``, and recursively of every blank node they reach, to ``target``."""
    pending = [start]
    visited: set[Node] = set()
    while pending:
        node = pending.pop()
        if node in visited:
            continue
        visited.add(node)
        for _, predicate, obj in graph.triples((node, None, None)):
            target.add((node, predicate, obj))
            if isinstance(obj, BNode):
                pending.append(obj)


def _check_size(description: Graph, max_triples: int) -> None:
    if len(description) > max_triples:
        raise ResultTooLarge(
            f"The description has more than {max_triples} triples (KG_MAX_ROWS); describe fewer resources."
        )
