"""The ontology's class hierarchy, from the ontology document (``LinkedData.ontology_graph``) and the VoID
statistics' member counts: no query is run and nothing is copied but the tree itself (a few dozen classes).

``/ontology`` opens on it (server-rendered ``<details>``, so it folds without JavaScript); each class page
shows where the class sits (its superclasses up to the root, its subclasses) and the properties whose domain
or range it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from calcinosis_kg.ontology import BASE, CCO

Labeler = Callable[[URIRef], "str | None"]


@dataclass(frozen=True)
class ClassNode:
    """A class of the ontology namespace with its subclasses."""

    iri: str
    path: str
    """The class page's path on this server, without the script root (``ontology/Cause``)."""
    label: str
    definition: str | None
    members: int
    """Entities typed with the class itself (its direct members)."""
    total: int
    """The direct members of the class and of all its subclasses, summed (an entity typed with two
    classes of the subtree counts twice)."""
    children: tuple[ClassNode, ...]


def _in_namespace(node: object) -> bool:
    return isinstance(node, URIRef) and str(node).startswith(str(CCO))


def _classes(graph: Graph) -> set[URIRef]:
    return {node for node in graph.subjects(RDF.type, OWL.Class) if isinstance(node, URIRef) and _in_namespace(node)}


def _parents(graph: Graph, class_: URIRef, classes: set[URIRef]) -> list[URIRef]:
    return sorted(
        parent for parent in graph.objects(class_, RDFS.subClassOf) if isinstance(parent, URIRef) and parent in classes
    )


def class_tree(graph: Graph, counts: Mapping[URIRef, int], label: Labeler) -> list[ClassNode]:
    """The classes of the ontology namespace as a forest (a class with two parents appears under both)."""
    classes = _classes(graph)
    children: dict[URIRef, list[URIRef]] = {}
    roots = []
    for class_ in classes:
        parents = _parents(graph, class_, classes)
        for parent in parents:
            children.setdefault(parent, []).append(class_)
        if not parents:
            roots.append(class_)

    def node(class_: URIRef, seen: frozenset[URIRef]) -> ClassNode:
        kids = tuple(
            sorted(
                (node(kid, seen | {kid}) for kid in children.get(class_, ()) if kid not in seen),
                key=lambda n: n.label.lower(),
            )
        )
        definition = next((str(value) for value in graph.objects(class_, SKOS.definition)), None)
        members = counts.get(class_, 0)
        return ClassNode(
            iri=str(class_),
            path=str(class_)[len(BASE) :],
            label=label(class_) or str(class_)[len(str(CCO)) :],
            definition=definition,
            members=members,
            total=members + sum(kid.total for kid in kids),
            children=kids,
        )

    return sorted((node(root, frozenset({root})) for root in roots), key=lambda n: n.label.lower())


@dataclass(frozen=True)
class ClassContext:
    """Where a class sits in the hierarchy, and the properties that use it."""

    ancestors: tuple[tuple[URIRef, ...], ...]
    """Each path from a root down to the class's direct superclass."""
    subclasses: tuple[URIRef, ...]
    domain_of: tuple[URIRef, ...]
    range_of: tuple[URIRef, ...]
    inherited_domain_of: tuple[URIRef, ...] = ()
    """Properties whose domain is a superclass (they apply to the class's members too)."""


def class_context(graph: Graph, class_: URIRef) -> ClassContext | None:
    """The class's place in the ontology, or None when ``class_`` is not a class of the ontology namespace."""
    classes = _classes(graph)
    if class_ not in classes:
        return None

    def paths(current: URIRef, seen: frozenset[URIRef]) -> list[tuple[URIRef, ...]]:
        parents = [parent for parent in _parents(graph, current, classes) if parent not in seen]
        if not parents:
            return [()]
        return [(*path, parent) for parent in parents for path in paths(parent, seen | {parent})]

    def users(predicate: URIRef, class_: URIRef = class_) -> tuple[URIRef, ...]:
        found = set()
        for property_, target in graph.subject_objects(predicate):
            if not isinstance(property_, URIRef):
                continue
            union = graph.value(target, OWL.unionOf) if isinstance(target, BNode) else None
            if target == class_ or (union is not None and class_ in Collection(graph, union)):
                found.add(property_)
        return tuple(sorted(found))

    subclasses = sorted(s for s in graph.subjects(RDFS.subClassOf, class_) if isinstance(s, URIRef) and s in classes)
    ancestors = tuple(path for path in paths(class_, frozenset({class_})) if path)
    own = users(RDFS.domain)
    inherited = {p for path in ancestors for ancestor in path for p in users(RDFS.domain, ancestor)} - set(own)
    return ClassContext(
        ancestors=ancestors,
        subclasses=tuple(subclasses),
        domain_of=own,
        range_of=users(RDFS.range),
        inherited_domain_of=tuple(sorted(inherited)),
    )
